"""The words anypix reads in instructions and plans (``prompts/lexicon.json``: verbs, colours,
colour modifiers, whole-image words...), and what an op's target points at.

It sits at the bottom of the layers, beside the plan, because both the planner's grammar
(:mod:`anypix.agent.phrases`) and the tools (:mod:`anypix.tools.locate`) read it, and the
executor asks :func:`needs_location` without importing a tool.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from anypix.plan import OPS, EditPlan, Op

LOCATED_OPS = tuple(name for name, spec in OPS.items() if spec.located)  # one object of the [base]
PLACED_OPS = ("add",)  # with no place said, a locator finds it room in the [base]


@cache
def lexicon() -> dict[str, Any]:
    from anypix import prompts

    data: dict[str, Any] = json.loads(prompts.read("lexicon.json"))
    return data


def color_split(text: str) -> tuple[str, str] | None:
    """("the jacket", "dark green") when text ends with a colour phrase."""
    words = text.split()
    colors, modifiers = set(lexicon()["colors"]), set(lexicon()["color_modifiers"])
    start = len(words)
    while start > 0 and words[start - 1].lower().strip(",") in colors | modifiers:
        start -= 1
    tail = [w.lower() for w in words[start:]]
    while tail and tail[0] in modifiers - colors:  # modifiers must lead into a colour
        if not any(w in colors for w in tail):
            break
        if tail[0] in ("and", "of", "-"):
            start, tail = start + 1, tail[1:]
            continue
        break
    if not any(w in colors for w in tail):
        return None
    return " ".join(words[:start]), " ".join(words[start:])


_ACROSS = re.compile(r"\b(?:left|right|centre|center|middle)\b", re.IGNORECASE)
_UP_DOWN = re.compile(
    r"\b(?:top|bottom|upper|lower|centre|center|middle|foreground|background|sky)\b", re.IGNORECASE
)


def place_axes(place: str) -> tuple[bool, bool]:
    """Which way a place phrase says where: (across, up or down). "to the left" says across
    only, so a move there keeps the object's height; "to the top right" and "the middle" say
    both; "next to the ring" says neither in these words (its blob says where)."""
    return bool(_ACROSS.search(place)), bool(_UP_DOWN.search(place))


def object_phrase(op: Op) -> str:
    """What the op points at: "the ring" of "the ring green" (recolour) or "the ring with a
    star" (replace); "" when it names the whole image ("everything", except for a removal)."""
    target = op.target.strip()
    if op.op == "recolor":
        split = color_split(target)
        target = split[0] if split else target
    elif op.op == "replace":
        target = re.split(r"\s+with\s+", target, maxsplit=1)[0]
    if op.op == "remove" and target.lower() == "everything":
        return target  # every object, not the image: "remove everything" leaves the background
    return "" if target.lower() in ("", "everything", "the image", "it") else target


def needs_location(plan: EditPlan) -> bool:
    """A local edit of a [base] that names an object but no place: a locator must find it (or,
    for an add, room for it). A lone move's one blob is the place it goes to, not where the
    object is."""
    if plan.base is None or plan.boxes:
        return False
    if [op.op for op in plan.ops] == ["move"] and len(plan.blobs) == 1:
        return True
    return not plan.blobs and any(
        op.op in PLACED_OPS or (op.op in LOCATED_OPS and object_phrase(op)) for op in plan.ops
    )


# A step through the history typed without its slash, as people do: "undo", "go back", "undo
# that", "redo". It is that command, never an edit (a planner read "undo" as "remove the same
# scene").
_HISTORY_STEP = re.compile(
    r"^(?:(?:ok|okay|oops|hmm+|no|nah|ugh|please)[,.!]?\s+)*"
    r"(undo|redo|revert|go back|step back|take (?:it|that) back|back)"
    r"(?:\s+(?:it|that|this|the last (?:one|edit|change|step|turn)|one step|once|please))*\s*[.!]*$",
    re.IGNORECASE,
)


def history_step(text: str) -> str | None:
    """ "undo" or "redo" when ``text`` is only a step through the history, else None."""
    match = _HISTORY_STEP.match(text.strip())
    if match is None:
        return None
    return "redo" if match.group(1).lower() == "redo" else "undo"
