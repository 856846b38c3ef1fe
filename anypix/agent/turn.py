"""One turn from start to end: check the attachments, plan, run the executor, store what happened.

:class:`~anypix.studio.Session` is the front ends' way in (``session.edit(...)``,
``session.plan(...)``); this module is what it delegates to, over a :class:`TurnContext` (the
studio's store, database, planner, renderer, locator and encoder) and a :class:`SessionTarget`
(the session, which may not be stored yet).

The rules a turn follows:

1. Attachments are validated, all or nothing, before anything runs.
2. Nothing is stored until the planner has made a plan. An instruction it refuses (an unknown
   ``[name]``, a question back, a fast path that cannot read it) raises its error as is and leaves
   nothing behind: no turn, no attachment, no new session.
3. Once planned, the turn is stored whatever happens next. A turn that fails or is cancelled is
   stored so, and :class:`~anypix.errors.TurnFailed` is raised with the stored turn.
4. ``variations`` > 1 renders the checked plan again with the next seeds (``seed + 1``, ...); each
   render is a step of the turn and an output of it.
5. With a verifier (the preset's perception, :mod:`anypix.agent.verify`), every output is checked
   after its render and corrected at most ``attempts`` renders in all
   (:mod:`anypix.agent.correct`); every attempt is a step of the turn. An output that still fails
   its checks is stored with the turn, and the turn as failed
   (:class:`~anypix.errors.VerificationFailed`): never a silent success.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from anypix.agent.correct import DEFAULT_ATTEMPTS, next_seed, verified_render
from anypix.agent.steps import StepRecord, summarise
from anypix.errors import (
    AssetError,
    CancelledError,
    EmptyInstructionError,
    TurnFailed,
    VerificationFailed,
)
from anypix.plan import EditPlan

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from anypix.agent.correct import Turn as CorrectionTurn
    from anypix.agent.executor import Locator, Renderer
    from anypix.agent.protocol import PlannerBase, PlanResult
    from anypix.agent.references import References
    from anypix.agent.verify import Verifier
    from anypix.memory.assets import AssetStore, PreparedAsset
    from anypix.memory.history import TurnDetail
    from anypix.memory.turns import TurnDraft
    from anypix.models.encoders import Encoder
    from anypix.records import Render

Attachments = Mapping[str, "str | Path"] | Iterable[Any] | None
Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]
OnStep = Callable[[StepRecord], None]


class TurnContext(Protocol):
    """What a turn uses of its studio."""

    engine: Engine
    store: AssetStore
    encoder: Callable[[], Encoder] | None  # loads the encoder; called when a description needs it
    max_steps: int
    data_dir: Path  # its renders cache inversions under data_dir/cache

    @property
    def renderer(self) -> Renderer: ...

    @property
    def locator(self) -> Locator | None: ...

    @property
    def verifier(self) -> Verifier | None: ...  # None: the preset has no perception to check with


class SessionTarget(Protocol):
    """The session a turn belongs to; a session opened by a new name is stored on its first
    turn, so an edit refused before it runs leaves no empty session."""

    @property
    def stored_id(self) -> str | None:
        """The session's id once it is stored; None before."""

    def ensure_stored(self) -> str:
        """Store the session if it is not yet; its id."""


@dataclass
class _Known:
    """An asset a turn may read: its content hash, modality and file."""

    sha256: str
    modality: str
    path: Path


@dataclass
class _Inputs:
    parent_id: int | None
    known: dict[str, _Known] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # name -> the file name it came from

    @property
    def modalities(self) -> dict[str, str]:
        return {name: k.modality for name, k in self.known.items()}

    @property
    def paths(self) -> dict[str, Path]:
        return {name: k.path for name, k in self.known.items()}


def plan_of(step: StepRecord) -> EditPlan | None:
    """The plan a successful ``plan`` or ``locate`` step made (front ends show it while the
    render runs); None for any other step."""
    if step.error is not None:
        return None
    if step.tool == "plan":
        result: PlanResult = step.value
        return result.plan
    if step.tool == "locate":
        located: EditPlan = step.value
        return located
    return None


def attachment_pairs(attachments: Attachments) -> list[tuple[str, str | Path]]:
    """``{name: path}``, ``["name=path", ...]`` or ``[media.Attachment, ...]`` as pairs."""
    if attachments is None:
        return []
    if isinstance(attachments, Mapping):
        return [(str(name), path) for name, path in attachments.items()]
    pairs: list[tuple[str, str | Path]] = []
    for item in attachments:
        if isinstance(item, str):
            from anypix.media import parse_attachment

            item = parse_attachment(item)
        pairs.append((item.name, item.path))
    return pairs


def prepare_attachments(
    store: AssetStore, pairs: list[tuple[str, str | Path]]
) -> dict[str, PreparedAsset]:
    """Validate every attachment (all or nothing) into in-memory assets."""
    from anypix.memory.history import LAST
    from anypix.plan import ASSET_NAME

    prepared: dict[str, PreparedAsset] = {}
    for name, path in pairs:
        if not ASSET_NAME.match(name) or name == LAST:
            raise AssetError(
                f"{name!r} cannot name an asset",
                f"use letters, digits, '_', '-' or '.' ('{LAST}' is the current image)",
            )
        if name in prepared:
            raise AssetError(f"two attachments are named {name!r}", "give each its own name")
        prepared[name] = store.prepare_file(Path(path), f"[{name}] ({path})")
    return prepared


def _inputs(
    context: TurnContext, session_id: str | None, prepared: Mapping[str, PreparedAsset],
    paths: Mapping[str, Path], files: dict[str, str],
) -> _Inputs:  # fmt: skip
    """The session's assets (and ``last``) with this turn's attachments over them; attachments
    are read from ``paths`` (the store once placed, the user's files for a plan)."""
    from anypix.memory.history import session_state

    inputs = _Inputs(parent_id=None, files=files)
    if session_id is not None:
        inputs.parent_id, stored = session_state(context.engine, context.store, session_id)
        inputs.known = {n: _Known(a.sha256, a.modality, a.path) for n, a in stored.items()}
    for name, asset in prepared.items():
        inputs.known[name] = _Known(asset.sha256, asset.modality, paths[name])
    return inputs


def _references(context: TurnContext, inputs: _Inputs) -> References:
    """File names, and a retrieval index over the turn's assets built on first use (so plain
    names never load an encoder)."""
    from anypix.agent.references import References

    load_encoder = context.encoder

    def build_index() -> Any:
        if load_encoder is None:
            return None
        from anypix.tools.retrieve import SessionIndex

        index = SessionIndex(load_encoder())
        for name, known in inputs.known.items():
            if known.modality in ("image", "audio"):
                index.add(name, known.path, known.modality)  # type: ignore[arg-type]
        return index

    return References(inputs.files, build_index)


def _text(instruction: str) -> str:
    text = instruction.strip()
    if not text:
        raise EmptyInstructionError()
    return text


def plan_turn(
    context: TurnContext, session_id: str | None, planner: PlannerBase, instruction: str,
    attachments: Attachments = None,
) -> PlanResult:  # fmt: skip
    """Plan ``instruction`` as an edit in the session would (the same names, file names and
    descriptions), without rendering or storing anything."""
    text = _text(instruction)
    pairs = attachment_pairs(attachments)
    prepared = prepare_attachments(context.store, pairs)
    paths = {name: Path(path) for name, path in pairs}
    files = {name: Path(path).name for name, path in pairs}
    inputs = _inputs(context, session_id, prepared, paths, files)
    return planner.plan(text, inputs.modalities, references=_references(context, inputs))


def run_turn(
    context: TurnContext,
    target: SessionTarget,
    planner: PlannerBase,
    instruction: str,
    attachments: Attachments = None,
    *,
    variations: int = 1,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    on_step: OnStep | None = None,
    verify: bool = True,
    attempts: int = DEFAULT_ATTEMPTS,
) -> TurnDetail:
    """Plan, render and store one turn (see the module's rules); returns it as stored.
    ``verify`` False (or a context without a verifier) keeps every render as drawn;
    ``attempts`` bounds the renders an output may take to pass its checks."""
    from anypix.memory.history import show_turn
    from anypix.memory.turns import TurnDraft, commit_turn, discard_unreferenced

    text = _text(instruction)
    pairs = attachment_pairs(attachments)
    prepared = prepare_attachments(context.store, pairs)
    # The id is known now for a stored session (lineage needs it); a new one is stored at commit.
    draft = TurnDraft(session_id=target.stored_id or "", instruction=text, attachments=prepared)
    store, engine = context.store, context.engine
    # The renderer reads files, so attachments are placed now; the commit records them.
    placed = [asset for asset in prepared.values() if store.place(asset)]
    paths = {name: store.path(a.sha256, a.format) for name, a in prepared.items()}
    inputs = _inputs(context, draft.session_id or None, prepared, paths,
                     {name: Path(path).name for name, path in pairs})  # fmt: skip
    draft.parent_id = inputs.parent_id
    _tell_scope(context, draft, inputs, on_step)
    started = time.perf_counter()
    outcome: BaseException | None = None
    from anypix.tools.inversion_cache import cache_for, using

    try:
        # Renders cache inversions under the studio's data dir, not the configured one, so
        # `--data-dir` and Studio(data_dir=...) keep them beside their sessions.
        with using(cache_for(context.data_dir)):
            checking = _Checking(context.verifier, attempts) if verify else None
            _execute(context, planner, draft, inputs, variations, progress, cancel, on_step,
                     checking)  # fmt: skip
    except (CancelledError, KeyboardInterrupt) as exc:
        draft.status, draft.error, outcome = "cancelled", str(exc) or "cancelled", exc
    except BaseException as exc:
        draft.status, draft.error, outcome = "failed", f"{type(exc).__name__}: {exc}", exc
    draft.timings["total_s"] = time.perf_counter() - started
    try:
        if draft.plan is None:  # refused before it ran (rule 2): keep nothing
            assert outcome is not None
            raise outcome
        draft.session_id = target.ensure_stored()
        committed = commit_turn(engine, store, draft)
    except BaseException:
        with suppress(Exception):  # what is left is garbage for Studio.collect_garbage
            discard_unreferenced(engine, store, placed)
        raise
    turn = show_turn(engine, store, draft.session_id, committed.seq)
    if outcome is not None:
        raise TurnFailed(turn, outcome) from outcome
    return turn


@dataclass(frozen=True)
class _Checking:
    """How a turn checks its outputs: with ``verifier`` (None: it cannot), ``attempts`` renders
    at most per output."""

    verifier: Verifier | None
    attempts: int


def _execute(
    context: TurnContext, planner: PlannerBase, draft: TurnDraft, inputs: _Inputs,
    variations: int, progress: Progress | None, cancel: Cancel | None, on_step: OnStep | None,
    checking: _Checking | None = None,
) -> None:  # fmt: skip
    """Run the executor (and the extra variations), verifying each output; fills ``draft``
    step by step, so a failure keeps what happened."""
    from anypix.agent.executor import Executor

    executor = Executor(planner, context.renderer, max_steps=context.max_steps,
                        locator=context.locator)  # fmt: skip
    references = _references(context, inputs)
    steps = executor.run(
        draft.instruction, inputs.paths, inputs.modalities,
        labels={name: known.sha256 for name, known in inputs.known.items()},
        references=references, progress=progress, cancel=cancel,
    )  # fmt: skip
    plan: EditPlan | None = None
    renders: list[Render] = []

    def record(step: StepRecord) -> None:
        nonlocal plan
        draft.steps.append(step)
        key = f"{step.tool}_s"
        draft.timings[key] = draft.timings.get(key, 0.0) + step.seconds
        if (made := plan_of(step)) is not None:
            plan = made
            draft.plan = made.model_dump(mode="json")
        if on_step is not None:
            on_step(step)

    for step in steps:
        record(step)
        if step.error is None and step.tool == "render":
            renders.append(step.value)
    assert plan is not None and renders  # the loop ends with a render of the last plan, or raises
    checked = checking is not None and checking.verifier is not None
    turn = _correction_turn(context, planner, draft, inputs, references, progress, cancel)
    first_seed = renders[0].provenance.seed
    failures: list[str] = []
    for offset in range(variations):
        if offset:  # the seed the first render drew, then the next ones
            knobs = plan.knobs.model_copy(update={"seed": next_seed(first_seed, offset)})
            step = _render_step(context, plan.model_copy(update={"knobs": knobs}), inputs,
                                len(draft.steps) + 1, progress, cancel)  # fmt: skip
            record(step)
            renders.append(step.value)
        if checked:
            assert checking is not None and checking.verifier is not None
            outcome = verified_render(turn, checking.verifier, plan, renders[offset],
                                      checking.attempts, record, lambda: len(draft.steps) + 1)  # fmt: skip
            renders[offset] = outcome.render
            if offset == 0:
                plan = outcome.plan
                draft.plan = plan.model_dump(mode="json")
            if not outcome.verdict.passed:
                failures.append(outcome.verdict.failure() or "")
    _keep_renders(context, draft, plan, renders, inputs)
    if failures:
        assert checking is not None
        raise VerificationFailed(failures[0], checking.attempts)


def _correction_turn(
    context: TurnContext, planner: PlannerBase, draft: TurnDraft, inputs: _Inputs,
    references: References, progress: Progress | None, cancel: Cancel | None,
) -> CorrectionTurn:  # fmt: skip
    from anypix.agent.correct import Turn

    return Turn(
        draft.instruction, inputs.paths, inputs.modalities,
        {name: known.sha256 for name, known in inputs.known.items()}, planner,
        context.renderer, context.locator, references,
        {"progress": progress, "cancel": cancel},
    )  # fmt: skip


def _render_step(
    context: TurnContext, plan: EditPlan, inputs: _Inputs, index: int,
    progress: Progress | None, cancel: Cancel | None,
) -> StepRecord:  # fmt: skip
    """One more render of a checked plan, as the executor records one."""
    names = plan.asset_names()
    step = StepRecord("render", {"assets": {n: inputs.known[n].sha256 for n in names},
                                 "seed": plan.knobs.seed}, index=index)  # fmt: skip
    started = time.perf_counter()
    step.value = context.renderer(plan, {n: inputs.known[n].path for n in names},
                                  progress=progress, cancel=cancel)  # fmt: skip
    step.seconds = time.perf_counter() - started
    step.result = summarise("render", step.value)
    return step


def _keep_renders(
    context: TurnContext, draft: TurnDraft, plan: EditPlan, renders: list[Render], inputs: _Inputs
) -> None:
    from anypix.memory.assets import prepare_image
    from anypix.memory.history import render_of_image
    from anypix.memory.turns import RenderDraft
    from anypix.records import Render

    parent = None
    if plan.base is not None and draft.session_id:
        parent = render_of_image(context.engine, draft.session_id, inputs.known[plan.base].sha256)
    for render in renders:
        if not isinstance(render, Render) or not render.images:
            raise TypeError(f"the renderer returned {render!r}, not a Render with images")
        provenance = render.provenance.model_dump(mode="json")
        draft.renders += [
            RenderDraft(prepare_image(image), provenance, dict(render.timings), parent)
            for image in render.images
        ]


# -- readable copies of the outputs ------------------------------------------------------------------


def output_names(session_name: str, turn: TurnDetail) -> list[str]:
    """File names that say what an output is: session, turn and op (``holiday-t3-add.png``,
    then ``holiday-t3-add-2.png`` for the next variation)."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", session_name.lower()).strip("-.")[:40] or "session"
    ops = "-".join(dict.fromkeys(op["op"] for op in (turn.plan or {}).get("ops", []))) or "image"
    stem = f"{slug}-t{turn.summary.seq}-{ops}"
    return [
        f"{stem}{f'-{index + 1}' if index else ''}{render.path.suffix}"
        for index, render in enumerate(turn.renders)
    ]


def save_outputs(turn: TurnDetail, session_name: str, session_id: str, folder: Path) -> list[Path]:
    """Copy a turn's images into ``folder`` under :func:`output_names`. A name another
    session's output already holds gets the session's short id, so nothing is overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    for name, render in zip(output_names(session_name, turn), turn.renders, strict=True):
        data = render.path.read_bytes()
        target = folder / name
        if target.exists() and target.read_bytes() != data:
            target = target.with_stem(f"{target.stem}-{session_id[:6]}")
        target.write_bytes(data)
        saved.append(target)
    return saved


def _tell_scope(
    context: TurnContext, draft: TurnDraft, inputs: _Inputs, on_step: OnStep | None
) -> None:
    """Before anything runs: a ``scope`` step saying, in one line, what of the request the
    preset's model cannot draw (:func:`anypix.tools.scope.scope_notice`), if anything. The
    words judged are what the instruction asks for in the grammar's words ("zap the ring" is
    "remove the ring": the model need not know "zap")."""
    from anypix.agent.grammar import said_plainly
    from anypix.tools.preset import PresetRenderer
    from anypix.tools.scope import scope_notice

    renderer = context.renderer
    if not isinstance(renderer, PresetRenderer):  # a renderer of one's own knows its own scope
        return
    from anypix.memory.history import LAST

    # the current image was told about when it came in, or is the model's own drawing
    fresh = {name: path for name, path in inputs.paths.items() if name != LAST}
    asked = said_plainly(draft.instruction, inputs.modalities)
    notice = scope_notice(renderer.preset, asked, fresh)
    if notice is not None:
        step = StepRecord("scope", {"preset": renderer.preset}, result=notice)
        draft.steps.append(step)
        if on_step is not None:
            on_step(step)
