"""The planning pipeline: fast path -> LLM under a schema -> validation -> bounded repair.

    result = Planner(get_backend("smollm2")).plan("add [dog] to [photo]", {"photo": "image", ...})
    result.plan, result.source  # the EditPlan, and "fast" or "llm"

:class:`Planner` is the project's implementation of the planner protocol
(:mod:`anypix.agent.protocol`: ``plan(...) -> PlanResult``, ``can_replan``); ``planner_for``
builds the one the settings ask for.

1. The deterministic grammar reads canonical instructions exactly and instantly.
2. Anything else goes to the LLM with a JSON schema whose asset names are enums.
3. The answer is validated: names exist, the base is an image, ops agree with base/subs/style.
4. A validation error goes back to the model as a new turn ("That plan is not valid: ..."), at
   most ``max_repairs`` times; then the planner fails with a clear error instead of guessing.
References in the instruction may be asset names, attachments' file names or descriptions
(``[the photo with the red car]``); :class:`~anypix.agent.references.References` rewrites them to
names first, and resolves names the LLM invents the same way (an ambiguous one is fed back).

5. Generation plans get a blob layout: from the scene-graph solver (default) or from the LLM in
   BlobGEN's CSS form (``layout="llm"``), validated the same way.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Collection, Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from anypix.agent.defaults import (
    LAST,
    Answer,
    ask_about_unused,
    attached_names,
    default_base,
    which_image,
)
from anypix.agent.grammar import check_references, parse_instruction, split_counted_adds
from anypix.agent.layout import scene_blobs, singular
from anypix.agent.llm import LLMBackend, Message
from anypix.agent.prompting import (
    LAYOUT_SCHEMA,
    layout_messages,
    plan_messages,
    plan_schema,
    repair_message,
    short_plan_messages,
)
from anypix.agent.protocol import PlannerBase, PlanResult
from anypix.errors import (
    BackendError,
    EmptyInstructionError,
    HistoryStepError,
    NotCanonicalError,
    NothingToEditError,
    PlanParseError,
    PlanValidationError,
    UnknownAssetError,
    UnusedAttachmentQuestion,
    UserError,
)
from anypix.lexicon import history_step
from anypix.plan import Blob, EditPlan, Op, parse_css_layout

if TYPE_CHECKING:
    from anypix.agent.references import References
    from anypix.config import Settings


def tidy(
    data: dict[str, Any],
    instruction: str,
    assets: Mapping[str, str],
    attached: Collection[str] | None = None,
) -> dict[str, Any]:
    """Fix the slips small models make that have only one sensible reading, before validation
    (like ``Blob.from_css`` swapping radii): an op whose ref is the base loses the ref, a subject
    an add/replace op refers to joins the subs, a base missing from an edit is the one image the
    instruction names and nothing else uses, else the image the grammar's defaults pick (the one
    attached this turn, else ``last``; two candidates raise its question). Anything less certain
    is left to the repair loop."""
    data = dict(data)
    ops = [dict(op) for op in data.get("ops") or [] if isinstance(op, dict)]
    base, style = data.get("base"), data.get("style_ref")
    subs = [s for s in data.get("subs") or [] if s != base]
    if style == base:
        style = None
    for op in ops:
        ref = op.get("ref")
        if ref is None or ref in subs or ref == style:
            continue
        if ref == base or ref not in assets:
            op["ref"] = None
        elif op.get("op") in ("add", "replace"):
            subs.append(ref)
        elif op.get("op") == "restyle" and style is None:
            style = ref
        else:
            op["ref"] = None
    if base is None and any(op.get("op") != "generate" for op in ops):
        used = {*subs, style}
        named = [n for n in check_references(instruction, assets) if assets[n] == "image"]
        free = [n for n in dict.fromkeys(named) if n not in used]
        if len(free) == 1:
            base = free[0]
        else:
            with suppress(NotCanonicalError):  # no image at all: the validation error says so
                base = default_base(assets, used, attached)
    data.update(base=base, subs=subs, style_ref=style, ops=ops)
    return data


def resolve_names(
    data: dict[str, Any], assets: Mapping[str, str], references: References | None
) -> dict[str, Any]:
    """Map the names in a model's plan that are not assets (a file name, "the last picture")
    to assets through ``references``; an ambiguous one becomes feedback listing the candidates.
    Names nothing resolves are left for the validation error."""
    if references is None:
        return data

    def name(ref: Any) -> Any:
        if not isinstance(ref, str) or ref in assets:
            return ref
        try:
            return references.resolve(ref, assets)
        except UnknownAssetError:
            return ref
        except UserError as exc:  # ambiguous: the model must pick one
            raise PlanValidationError(f"{exc.message}; use exactly one asset name") from None

    data = dict(data)
    for key in ("base", "style_ref"):
        data[key] = name(data.get(key))
    if isinstance(data.get("subs"), list):
        data["subs"] = [name(sub) for sub in data["subs"]]
    if isinstance(data.get("ops"), list):
        data["ops"] = [
            {**op, "ref": name(op.get("ref"))} if isinstance(op, dict) else op for op in data["ops"]
        ]
    return data


def validate(
    answer: str,
    assets: Mapping[str, str],
    instruction: str = "",
    references: References | None = None,
) -> EditPlan:
    """Turn the model's JSON into an EditPlan or raise PlanValidationError saying what is wrong,
    in words the model can act on."""
    try:
        data = json.loads(answer)
    except json.JSONDecodeError as exc:
        raise PlanValidationError(f"the answer is not JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(data, dict):
        raise PlanValidationError("the answer must be one JSON object")
    attached = None if references is None else list(references.files)
    data = tidy(resolve_names(data, assets, references), instruction, assets, attached)
    names = [data.get("base"), data.get("style_ref"), *(data.get("subs") or [])]
    names += [op.get("ref") for op in data.get("ops") or [] if isinstance(op, dict)]
    for name in names:
        if name is not None and name not in assets:
            known = ", ".join(assets) or "none"
            raise PlanValidationError(f"[{name}] is not an asset; the assets are {known}")
    if data.get("base") is not None and assets.get(data["base"]) != "image":
        raise PlanValidationError(f"base [{data['base']}] is audio; the base must be an image")
    ops = data.get("ops") or []
    if any(isinstance(op, dict) and op.get("op") == "generate" for op in ops) and len(ops) > 1:
        raise PlanValidationError("'generate' makes a new image and must be the only op")
    fields = {k: data.get(k) for k in ("base", "subs", "gen", "ops", "style_ref") if k in data}
    fields["subs"] = fields.get("subs") or []
    fields["gen"] = fields.get("gen") or ""
    try:
        return EditPlan(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        raise PlanValidationError(f"{where}: {message}" if where else message) from None


class Planner(PlannerBase):
    """Instruction + assets -> validated EditPlan: the grammar's when it reads the instruction,
    else the LLM's. ``backend`` None plans with the grammar alone."""

    def __init__(
        self,
        backend: LLMBackend | None = None,
        *,
        fast_path: bool = True,
        max_repairs: int = 2,
        examples: int = 3,
        layout: Literal["solver", "llm"] = "solver",
        use_minilm: bool = True,
    ) -> None:
        self.backend, self.fast_path, self.max_repairs = backend, fast_path, max_repairs
        self.examples, self.layout, self.use_minilm = examples, layout, use_minilm

    @property
    def can_replan(self) -> bool:
        """An LLM can plan again with a tool's error in its prompt; the grammar alone cannot."""
        return self.backend is not None

    def plan(
        self,
        instruction: str,
        assets: Mapping[str, str],
        *,
        references: References | None = None,
        feedback: str | None = None,
    ) -> PlanResult:
        """Plan ``instruction``. ``feedback`` is an error a tool raised on an earlier plan (from
        the executor): the LLM plans again with it in the prompt; the fast path is skipped since
        it would give the same plan. ``references`` resolves ``[file names]`` and
        ``[descriptions]`` to asset names (an ambiguous one raises, listing the candidates)."""
        start = time.perf_counter()
        if not instruction.strip():
            raise EmptyInstructionError()
        step = history_step(instruction)
        if step is not None:  # "undo" typed as an instruction: never an edit
            raise HistoryStepError(step)
        if references is not None:
            instruction = references.rewrite(instruction, assets)
        check_references(instruction, assets)  # unknown [refs] are the user's to fix, not the LLM's
        # 1. Fast path
        attached = None if references is None else list(references.files)
        unused: UnusedAttachmentQuestion | None = None
        if self.fast_path and feedback is None:
            try:
                plan = parse_instruction(instruction, assets, attached)
                return PlanResult(plan, "fast", seconds=time.perf_counter() - start)
            except NothingToEditError:  # an edit with no picture: no model can plan one
                raise
            except NotCanonicalError:
                if self.backend is None:
                    raise
            except UnusedAttachmentQuestion as question:  # the model may read what it is for
                if self.backend is None:
                    raise
                unused = question
        if self.backend is None:
            raise BackendError("no LLM backend is configured", "use --llm smollm2 or --llm openai")
        # 2.-4. LLM under a schema, validated, repaired
        if unused is not None:
            result = self._plan_using_attachments(instruction, assets, references, attached, unused)
        else:
            result = self._llm_plan(instruction, assets, feedback, references)
            if feedback is None:
                ask_about_unpointed(result.plan, instruction, assets, attached)
        result.plan = split_counted_adds(result.plan)  # "add two stars": an add of each, as above
        # 5. Layout for new images
        if result.plan.base is None and not result.plan.blobs:
            blobs = self.layout_blobs(result.plan.gen)
            result.plan = result.plan.model_copy(update={"blobs": blobs})
        result.seconds = time.perf_counter() - start
        return result

    def _plan_using_attachments(
        self,
        instruction: str,
        assets: Mapping[str, str],
        references: References | None,
        attached: list[str] | None,
        question: UnusedAttachmentQuestion,
    ) -> PlanResult:
        """The LLM's plan when it uses everything attached this turn; else the grammar's
        question stands (nothing attached is dropped silently)."""
        try:
            result = self._llm_plan(instruction, assets, None, references)
        except PlanValidationError:
            raise question from None
        wanted = {n for n in attached_names(assets, attached) if n != LAST}
        if not all(_reads(result.plan, name) for name in wanted):
            raise question
        # "draw me a lighthouse" with a photo attached: editing the photo instead needs a word for it
        drawn = any("new picture" in c for c in question.choices) and _DRAW.match(instruction)
        if unpointed(result.plan, instruction, assets, attached, default_base=not drawn):
            raise question
        return result

    def _llm_plan(
        self,
        instruction: str,
        assets: Mapping[str, str],
        feedback: str | None,
        references: References | None = None,
    ) -> PlanResult:
        assert self.backend is not None
        if self.backend.short_prompt:  # a model trained on the plan language: no examples
            files = {} if references is None else references.files
            messages: list[Message] = short_plan_messages(instruction, assets, files)
        else:
            messages = plan_messages(instruction, assets, self.examples, self.use_minilm)
        if feedback:
            messages[-1]["content"] += f"\nA previous plan for this failed: {feedback}"
        schema = plan_schema(assets)
        errors: list[str] = []
        for attempt in range(1, self.max_repairs + 2):
            answer = self.backend.complete_json(messages, schema)
            try:
                plan = validate(answer, assets, instruction, references)
            except PlanValidationError as exc:
                errors.append(exc.message)
                messages = messages + repair_message(answer, exc.message)
                continue
            return PlanResult(plan, "llm", attempts=attempt, errors=errors)
        raise PlanValidationError(
            f"could not plan {instruction!r}: the {self.backend.describe()} planner's last answer "
            f"was invalid after {len(errors)} tries ({errors[-1]})",
            "rephrase it canonically, e.g. 'add [dog] to [photo] and remove the cat', "
            "or use a stronger LLM (--llm openai)",
        )

    def layout_blobs(self, description: str) -> list[Blob]:
        """Blobs for a new image: the solver's, or the LLM's CSS (falls back to the solver when
        the LLM's layout stays invalid after the repairs)."""
        if self.layout == "solver" or self.backend is None or not description:
            return scene_blobs(description)
        messages = layout_messages(description, self.examples, self.use_minilm)
        for _ in range(self.max_repairs + 1):
            answer = self.backend.complete_json(messages, LAYOUT_SCHEMA)
            try:
                rules = json.loads(answer)["css"]
                return parse_css_layout("\n".join(rules))
            except (json.JSONDecodeError, KeyError, TypeError, PlanParseError) as exc:
                error = exc.message if isinstance(exc, PlanParseError) else f"not CSS rules: {exc}"
                messages = messages + repair_message(answer, error)
        return scene_blobs(description)


def unpointed(
    plan: EditPlan,
    instruction: str,
    assets: Mapping[str, str],
    attached: Collection[str] | None,
    *,
    default_base: bool = True,
) -> list[str]:
    """The attachments a model's plan uses that the instruction neither names nor points at,
    beyond what its pointing words can stand for: "make [street] darker" with a sound attached
    does not say the sound is the style, and "brighten it up" with two photos attached points at
    one of them, not both. The one image attached is the edit's base by default (no word
    needed; ``default_base`` False: not even that); "them", "these", "both" point at any
    number."""
    fresh = [n for n in attached_names(assets, attached) if n != LAST]
    words = re.findall(r"[a-z]+", instruction.lower())
    if set(words) & _PLURAL_POINTING:
        return []
    named = set(re.findall(r"\[([^\]]+)\]", instruction)) | {
        n for n in fresh if {singular(w) for w in re.findall(r"[a-z]+", n.lower())} & {singular(w) for w in words}
    }  # fmt: skip
    images = [n for n in fresh if assets[n] == "image"]
    used = [n for n in fresh if n in plan.asset_names() and n not in named]
    if default_base and plan.base in used and images == [plan.base]:
        used.remove(plan.base)
    pointers = sum(word in _POINTING or word in _POINTING_NOUNS for word in words)
    return used[pointers:]


def ask_about_unpointed(
    plan: EditPlan, instruction: str, assets: Mapping[str, str], attached: Collection[str] | None
) -> None:
    """Raise the question a person would be asked when a model's plan uses attachments the
    instruction does not point at (:func:`unpointed`): which image to edit, or what the left-over
    attachment is for."""
    extra = unpointed(plan, instruction, assets, attached)
    if not extra:
        return
    fresh = [n for n in attached_names(assets, attached) if n != LAST]
    images = [n for n in fresh if assets[n] == "image"]
    if plan.base in fresh and len(images) > 1:
        raise which_image(images)
    used = {n for n in plan.asset_names() if n not in extra}
    ask_about_unused(assets, attached, used, Answer(), plan.base)


# The ops that read a [sub] or a [style] (beside an op naming it as its ref).
_READ_SUBS = {"generate", "add", "replace"}
_READ_STYLE = {"generate", "restyle", "variation"}


def _reads(plan: EditPlan, name: str) -> bool:
    """Whether an op of ``plan`` reads ``name`` in the role the plan gives it: a recolor
    holding an attached dog as a [sub] only pretends to use it."""
    if name == plan.base:
        return True
    holding = [op for op in plan.ops if op.ref == name]
    if holding:
        return not all(_names_other(op, name) for op in holding)
    kinds = {op.op for op in plan.ops}
    if name in plan.subs:
        return bool(kinds & _READ_SUBS)
    return name == plan.style_ref and bool(kinds & _READ_STYLE)


def _names_other(op: Op, name: str) -> bool:
    """Whether ``op`` describes a thing of its own in words ("add a hat", "add sunglasses" with
    [cat] as its ref): then the reference is not what it adds, and holding it only pretends to
    use it. A target that points at something ("this", "it", "the one I sent") or names the
    reference itself does not."""
    words = re.findall(r"[a-z]+", op.target.lower())
    if any(word in _POINTING for word in words):
        return False
    named = {singular(w) for w in words if w not in _FUNCTION}
    return bool(named) and not named & {singular(w) for w in re.findall(r"[a-z]+", name.lower())}


_POINTING = {"it", "this", "that", "these", "those", "them", "attached", "sent", "attachment"}
_DRAW = re.compile(
    r"\s*(?:please\s+)?(?:(?:can|could|would|will) you\s+)?(?:draw|paint|sketch|create|generate|"
    r"render|imagine|design|illustrate|make)\s+(?:me\s+|us\s+)?(?:an?|some|one|two|three|\d+)\b",
    re.IGNORECASE,
)
_PLURAL_POINTING = {"these", "those", "them", "both", "all", "attachments", "images", "pictures",
                    "photos", "sounds"}  # fmt: skip
_POINTING_NOUNS = {"photo", "picture", "image", "pic", "shot", "song", "sound", "music", "track",
                   "audio", "recording", "clip"}  # fmt: skip
_FUNCTION = {
    "a", "an", "the", "some", "to", "on", "in", "into", "onto", "of", "at", "with", "and", "her",
    "his", "their", "its", "my", "your", "left", "right", "top", "bottom", "middle", "centre",
    "center", "side", "corner", "next", "near", "by", "from", "for",
}  # fmt: skip


def planner_for(settings: Settings) -> Planner:
    """The planner the settings ask for: ``fast`` is the grammar alone, ``auto`` the grammar
    then the trained planner (SmolLM2 + its adapter; plain SmolLM2 when no adapter is shipped),
    any other name that backend (``--llm`` / ``ANYPIX_LLM``). Models load lazily."""
    from anypix.agent.llm import get_backend, planner_adapter

    if settings.llm == "fast":
        return Planner(None)
    if settings.llm == "auto":
        name = "planner" if planner_adapter(settings) is not None else "smollm2"
        return Planner(get_backend(name, settings))
    return Planner(get_backend(settings.llm, settings))


__all__ = ["PlanResult", "Planner", "planner_for", "tidy", "validate"]
