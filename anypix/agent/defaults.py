"""What an instruction means when it leaves something out, and when to ask instead of guessing.

* An edit that names no image edits the one image attached this turn and not used otherwise;
  with none attached, the session's current image (``last``); outside a session, the one image
  there is. Two or more candidates: the planner asks which (:class:`ClarificationNeeded`).
* Nothing attached this turn is dropped silently: a plan that leaves an attachment out makes the
  planner ask what to do with it ("add it, use it as the style, or leave it out?"); a new picture
  described while an image is attached asks whether that image was meant to be edited. Front
  ends say what was attached through the planner's ``references`` (``References.files``).
* The person's reply comes back appended in parentheses (``make it snowy ([beach])``, see
  :mod:`anypix.commands`); :func:`take_answer` reads it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from anypix.errors import (
    ClarificationNeeded,
    NotCanonicalError,
    NothingToEditError,
    UnusedAttachmentQuestion,
)

LAST = "last"  # the session's current image, as the memory offers it to the planner
_NAME = r"\[([A-Za-z0-9_][A-Za-z0-9_.\-]{0,63})\]"


@dataclass
class Answer:
    """The reply to an earlier question, appended to the instruction in parentheses."""

    base: str | None = None  # "([beach])": the image to edit
    left_out: set[str] = field(default_factory=set)  # "(leave [dog] out)"
    new_picture: bool = False  # "(draw a new picture)"
    edit: str | None = None  # "(edit [photo])": the description is added to that image
    text: str = ""  # anything else: the object a vague word stood for, or more instruction


def take_answer(text: str, assets: Mapping[str, str]) -> tuple[str, Answer]:
    """Split a trailing "(reply)" off the instruction and read it."""
    match = re.search(r"\s*\(([^()]*)\)\s*[.!?]?\s*$", text)
    if match is None or not match.group(1).strip():
        return text, Answer()
    reply, text = match.group(1).strip(), text[: match.start()]
    answer = Answer()
    names = re.findall(_NAME, reply)
    if re.fullmatch(_NAME, reply) and assets.get(names[0]) == "image":
        answer.base = names[0]
    elif names and re.fullmatch(rf"(?:leave|keep)\s+{_NAME}\s+out|(?:without|ignore|not)\s+{_NAME}", reply, re.I):  # fmt: skip
        answer.left_out.add(names[0])
    elif re.fullmatch(rf"edit\s+{_NAME}", reply, re.I) and assets.get(names[0]) == "image":
        answer.edit = names[0]
    elif re.fullmatch(r"(?:draw\s+)?(?:a\s+)?new(?:\s+(?:picture|image|one))?", reply, re.I):
        answer.new_picture = True
    else:
        answer.text = reply
    return text, answer


def attached_names(assets: Mapping[str, str], attached: Collection[str] | None) -> list[str]:
    """This turn's attachments: ``attached``, or every asset but ``last`` when it is unknown."""
    if attached is None:
        return [name for name in assets if name != LAST]
    return [name for name in attached if name in assets]


def which_image(names: list[str]) -> ClarificationNeeded:
    """The question "which image should I edit?" offering ``names``."""
    listed = " or ".join(f"[{n}]" for n in names)
    return ClarificationNeeded(f"Which image should I edit: {listed}?", [f"[{n}]" for n in names])


def default_base(
    assets: Mapping[str, str],
    used: Collection[str | None],
    attached: Collection[str] | None,
    chosen: str | None = None,
) -> str:
    """The image an edit that names none applies to (see the module docstring); ``chosen`` is
    the person's answer to an earlier "which image?"."""
    if chosen is not None:
        return chosen
    images = [n for n, kind in assets.items() if kind == "image" and n not in used]
    fresh = [n for n in attached_names(assets, attached) if n in images and n != LAST]
    if len(fresh) == 1:
        return fresh[0]
    if fresh:
        raise which_image(fresh)
    if LAST in images:
        return LAST
    if len(images) == 1:
        return images[0]
    if images:
        raise which_image(images)
    if not any(kind == "image" for kind in assets.values()):
        raise NothingToEditError()
    raise NotCanonicalError("it edits an image, but every image attached is used otherwise")


def ask_about_unused(
    assets: Mapping[str, str],
    attached: Collection[str] | None,
    used: Collection[str],
    answer: Answer,
    base: str | None,
) -> None:
    """Raise :class:`UnusedAttachmentQuestion` when the plan leaves out something attached this
    turn (an LLM planner gets to read the instruction first; its plan stands only if it uses
    every attachment).
    ``base`` None: the plan draws a new picture. ``attached`` None (a caller that does not say
    what came with this instruction, e.g. a bare asset table): nothing to ask about."""
    if attached is None:
        return
    unused = [
        n for n in attached_names(assets, attached)
        if n not in used and n not in answer.left_out and n != LAST
        and not (answer.base and assets[n] == "image")  # the others were not chosen
    ]  # fmt: skip
    if not unused or (base is None and answer.new_picture):
        return
    listed = " and ".join(f"[{n}]" for n in unused)
    first = unused[0]
    if base is None and assets[first] == "image":
        raise UnusedAttachmentQuestion(
            f"You attached {listed}: should I edit it, or draw a new picture?",
            [f"edit [{first}]", "draw a new picture"],
        )
    where = f" to [{base}]" if base else ""
    raise UnusedAttachmentQuestion(
        f"You attached {listed} but the instruction does not use it: should I add it{where}, "
        "use it as the style, or leave it out?",
        [f"add [{first}]", f"in the style of [{first}]", f"leave [{first}] out"]
        if base
        else [f"in the style of [{first}]", f"leave [{first}] out"],
    )
