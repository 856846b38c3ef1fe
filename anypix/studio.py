"""The Python API every front end uses: ``Studio`` (a data dir) and ``Session`` (one history).

    from anypix import Studio

    with Studio() as studio:
        session = studio.session()                      # the most recent session, or a new one
        turn = session.edit("add [dog] to [photo]", {"photo": "photo.png", "dog": "dog.png"})
        print(turn.renders[0].path)
        session.undo()

The planner and the renderer are injectable, so tests (and other front ends) can supply their
own: ``planner(instruction, {name: modality}) -> EditPlan`` (or an agent ``Planner``, which can
plan again when a tool rejects its plan) and
``renderer(plan, {name: path}, *, progress=None, cancel=None) -> Render``. A turn runs through the
agent's :class:`~anypix.agent.executor.Executor` (plan -> check -> render, model-caused errors fed
back to the planner) and its step records are stored with the turn.

References may be names, the file names of the turn's attachments (``[IMG_0042.jpg]``) or, with
an ``encoder`` to retrieve with, descriptions (``[the photo with the red car]``, ``[the last
picture]``); an ambiguous description fails with its candidates instead of being guessed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from anypix.errors import AssetError, CancelledError, EmptyInstructionError

if TYPE_CHECKING:
    from anypix.agent.executor import Locator, PlannerLike
    from anypix.agent.references import References
    from anypix.agent.steps import StepRecord
    from anypix.memory.assets import AssetLimits, PreparedAsset
    from anypix.memory.history import AssetInfo, TurnDetail, TurnSummary
    from anypix.memory.replay import ReplayResult
    from anypix.memory.sessions import SessionInfo
    from anypix.memory.turns import TurnDraft
    from anypix.models.encoders import Encoder
    from anypix.plan import EditPlan
    from anypix.records import Render
    from anypix.tools.retrieve import SessionIndex

PlannerFn = Callable[[str, dict[str, str]], Any]  # -> EditPlan, or a PlanResult with .plan
RendererFn = Callable[..., "Render"]
Attachments = Mapping[str, "str | Path"] | Iterable[Any] | None


@cache
def _project_planner(llm: str) -> Any:
    """The agent's Planner for the ``llm`` setting (built once: it may hold a loaded model)."""
    from anypix.agent.planner import planner_for
    from anypix.config import load_settings

    return planner_for(load_settings(llm=llm))


def default_planner(instruction: str, modalities: dict[str, str]) -> Any:
    """The agent's planner (fast path, then the configured LLM); the bare grammar if the agent
    package is not there. Returns an EditPlan or the planner's PlanResult (``.plan``)."""
    from anypix.config import load_settings

    try:
        planner = _project_planner(load_settings().llm)
    except ImportError:
        from anypix.agent.grammar import parse_instruction

        return parse_instruction(instruction, modalities)
    return planner.plan(instruction, modalities)


def default_renderer(plan: EditPlan, assets: Mapping[str, Path], **callbacks: Any) -> Render:
    from anypix.tools.render import render

    return render(plan, assets, **callbacks)


class Studio:
    """One data dir: its database and asset store."""

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        planner: PlannerFn | PlannerLike | None = None,
        renderer: RendererFn | None = None,
        limits: AssetLimits | None = None,
        encoder: Encoder | Callable[[], Encoder] | None = None,
        max_steps: int = 6,
        locator: Locator | Literal["auto"] | None = "auto",
    ) -> None:
        """``encoder`` (or a function loading it on first use) resolves description references
        through retrieval; ``max_steps`` bounds the executor loop of a turn; ``locator`` finds the
        objects an edit names without a place ("auto": the renderer's, or the configured
        preset's for the default renderer; None: edits without a place apply everywhere)."""
        from anypix.config import load_settings
        from anypix.memory.assets import AssetStore
        from anypix.memory.db import open_engine

        self.data_dir = Path(data_dir) if data_dir is not None else load_settings().data_dir
        self.engine = open_engine(self.data_dir / "anypix.db")
        self.store = AssetStore(self.data_dir / "assets", limits)
        self.planner: PlannerFn | PlannerLike = planner or default_planner
        self.renderer: RendererFn = renderer or default_renderer
        self.encoder, self.max_steps = encoder, max_steps
        self.locator: Locator | None
        if locator != "auto":
            self.locator = locator
        elif renderer is not None:
            self.locator = getattr(renderer, "locator", None)
        else:
            from anypix.tools.preset import default_locator

            self.locator = default_locator(load_settings().model)

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def sessions(self) -> list[SessionInfo]:
        """All sessions, the most recently used first."""
        from anypix.memory.sessions import list_sessions

        return list_sessions(self.engine)

    def session(self, ref: str | None = None, *, create: bool = True) -> Session:
        """A session by id, id prefix or name; with no ref the most recent (or a new one)."""
        from anypix.memory.sessions import find_session
        from anypix.memory.turns import SessionNotFoundError

        if ref is None and create and not self.sessions():
            return self.new_session()
        try:
            return Session(self, find_session(self.engine, ref).id)
        except SessionNotFoundError:
            if ref is None:
                raise
            raise SessionNotFoundError(ref) from None

    def new_session(self, name: str | None = None) -> Session:
        from anypix.memory.sessions import create_session

        return Session(self, create_session(self.engine, name).id)

    def edit(
        self,
        instruction: str,
        attachments: Attachments = None,
        *,
        session: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> TurnDetail:
        """One turn in ``session`` (default: the most recent, or a new one); see Session.edit."""
        target = self.session(session)
        return target.edit(instruction, attachments, progress=progress, cancel=cancel)

    def import_session(self, archive: Path | str) -> Session:
        """Import a session archive made by ``Session.export``."""
        from anypix.memory.archive import import_session

        return Session(self, import_session(self.engine, self.store, Path(archive)))

    def collect_garbage(self, grace_s: float = 3600.0) -> list[Path]:
        """Remove asset files no row references (left by killed processes)."""
        from anypix.memory.history import collect_garbage

        return collect_garbage(self.engine, self.store, grace_s)


class Session:
    """One session's history: edit, look back, undo, redo, branch, export, replay."""

    def __init__(self, studio: Studio, session_id: str) -> None:
        self.studio = studio
        self.id = session_id

    def __repr__(self) -> str:
        return f"Session({self.id!r})"

    def info(self) -> SessionInfo:
        from anypix.memory.sessions import find_session

        return find_session(self.studio.engine, self.id)

    # -- looking back ---------------------------------------------------------------------------
    def history(self) -> list[TurnSummary]:
        from anypix.memory.history import list_turns

        return list_turns(self.studio.engine, self.id)

    def show(self, seq: int) -> TurnDetail:
        from anypix.memory.history import show_turn

        return show_turn(self.studio.engine, self.studio.store, self.id, seq)

    def assets(self) -> dict[str, AssetInfo]:
        """Names this session knows, plus ``last`` (the current image) once there is one."""
        from anypix.memory.history import session_assets

        return session_assets(self.studio.engine, self.studio.store, self.id)

    # -- moving the cursor ----------------------------------------------------------------------
    def undo(self) -> int | None:
        from anypix.memory.history import undo

        return undo(self.studio.engine, self.id)

    def redo(self) -> int:
        from anypix.memory.history import redo

        return redo(self.studio.engine, self.id)

    def branch(self, seq: int) -> int | None:
        from anypix.memory.history import branch

        return branch(self.studio.engine, self.id, seq)

    # -- moving sessions and checking them ------------------------------------------------------
    def export(self, path: Path | str) -> Path:
        from anypix.memory.archive import export_session

        export_session(self.studio.engine, self.studio.store, self.id, Path(path))
        return Path(path)

    def replay(self, seq: int) -> ReplayResult:
        from anypix.memory.replay import replay_turn

        return replay_turn(
            self.studio.engine, self.studio.store, self.id, seq, self.studio.renderer
        )

    # -- adding to it ---------------------------------------------------------------------------
    def attach(self, name: str, path: Path | str) -> AssetInfo:
        """Validate and store a file under ``name`` for later instructions."""
        from anypix.memory.turns import attach_assets

        prepared = self._prepare([(name, path)])
        attach_assets(self.studio.engine, self.studio.store, self.id, prepared)
        return self.assets()[name]

    def edit(
        self,
        instruction: str,
        attachments: Attachments = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        on_step: Callable[[StepRecord], None] | None = None,
        planner: PlannerFn | PlannerLike | None = None,
    ) -> TurnDetail:
        """Plan, render and record one turn; returns it as stored. ``on_step`` sees each
        executor step as it finishes (front ends show the plan before the render starts);
        ``planner`` plans this turn instead of the studio's (e.g. one that returns a given plan).

        Bad attachments raise :class:`AssetError` before anything is stored. Once the turn runs,
        it is recorded whatever happens: a render that fails or is cancelled leaves a turn marked
        failed or cancelled (and the exception is raised again)."""
        from anypix.memory.turns import TurnDraft, commit_turn, discard_unreferenced

        text = instruction.strip()
        if not text:
            raise EmptyInstructionError()
        pairs = _attachment_pairs(attachments)
        prepared = self._prepare(pairs)
        files = {name: Path(path).name for name, path in pairs}
        draft = TurnDraft(session_id=self.id, instruction=text, attachments=prepared)
        store, engine = self.studio.store, self.studio.engine
        # The renderer reads files, so attachments are placed now; the commit records them.
        placed = [asset for asset in prepared.values() if store.place(asset)]
        started = time.perf_counter()
        outcome: BaseException | None = None
        try:
            self._run(draft, files, progress, cancel, on_step, planner)
        except (CancelledError, KeyboardInterrupt) as exc:
            draft.status, draft.error, outcome = "cancelled", str(exc) or "cancelled", exc
        except BaseException as exc:
            draft.status, draft.error, outcome = "failed", f"{type(exc).__name__}: {exc}", exc
        draft.timings["total_s"] = time.perf_counter() - started
        try:
            committed = commit_turn(engine, store, draft)
        except BaseException:
            with suppress(Exception):  # what is left is garbage for Studio.collect_garbage
                discard_unreferenced(engine, store, placed)
            raise
        if outcome is not None:
            raise outcome
        return self.show(committed.seq)

    def _prepare(self, pairs: list[tuple[str, str | Path]]) -> dict[str, PreparedAsset]:
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
            prepared[name] = self.studio.store.prepare_file(Path(path), f"[{name}] ({path})")
        return prepared

    def _run(
        self, draft: TurnDraft, files: dict[str, str], progress: Any, cancel: Any, on_step: Any,
        planner: PlannerFn | PlannerLike | None,
    ) -> None:  # fmt: skip
        """Run the turn through the executor; fills ``draft`` (plan, steps, timings, renders)
        step by step, so a failure keeps what happened."""
        from anypix.agent.executor import Executor
        from anypix.memory.history import session_state

        store = self.studio.store
        draft.parent_id, assets = session_state(self.studio.engine, store, self.id)
        known = {name: (a.sha256, a.modality, a.path) for name, a in assets.items()}
        for name, asset in draft.attachments.items():
            known[name] = (asset.sha256, asset.modality, store.path(asset.sha256, asset.format))
        executor = Executor(self._planner(planner), self.studio.renderer,
                            max_steps=self.studio.max_steps, locator=self.studio.locator)  # fmt: skip
        steps = executor.run(
            draft.instruction,
            {name: path for name, (_, _, path) in known.items()},
            {name: modality for name, (_, modality, _) in known.items()},
            labels={name: sha for name, (sha, _, _) in known.items()},
            references=self._references(files, known),
            progress=progress,
            cancel=cancel,
        )
        plan = render = None
        for step in steps:
            draft.steps.append(step)
            key = f"{step.tool}_s"
            draft.timings[key] = draft.timings.get(key, 0.0) + step.seconds
            if step.error is None and step.tool in ("plan", "locate"):
                plan = getattr(step.value, "plan", step.value)  # an EditPlan or a PlanResult
                draft.plan = plan.model_dump(mode="json")
            elif step.error is None and step.tool == "render":
                render = step.value
            if on_step is not None:
                on_step(step)
        assert plan is not None  # the loop ends with a render of the last plan, or raises
        self._keep_renders(draft, plan, render, known)

    def _keep_renders(
        self, draft: TurnDraft, plan: EditPlan, render: Any, known: dict[str, tuple[str, str, Path]]
    ) -> None:
        from anypix.memory.assets import prepare_image
        from anypix.memory.history import render_of_image
        from anypix.memory.turns import RenderDraft
        from anypix.records import Render

        if not isinstance(render, Render) or not render.images:
            raise TypeError(f"the renderer returned {render!r}, not a Render with images")
        parent = (
            render_of_image(self.studio.engine, self.id, known[plan.base][0]) if plan.base else None
        )
        provenance = render.provenance.model_dump(mode="json")
        draft.renders = [
            RenderDraft(prepare_image(image), provenance, dict(render.timings), parent)
            for image in render.images
        ]

    def _planner(self, chosen: PlannerFn | PlannerLike | None = None) -> PlannerLike:
        """``chosen`` (default: the studio's planner) as the executor wants it: the agent's
        Planner as is (it can plan again with feedback), a plain function wrapped (it cannot)."""
        from anypix.agent.executor import FunctionPlanner

        planner = chosen or self.studio.planner
        if planner is default_planner:
            from anypix.config import load_settings

            return _project_planner(load_settings().llm)
        if hasattr(planner, "plan") and hasattr(planner, "backend"):
            return planner
        return FunctionPlanner(planner)

    def _references(
        self, files: dict[str, str], known: dict[str, tuple[str, str, Path]]
    ) -> References:
        """File names, and a retrieval index over the session's assets built on first use."""
        from anypix.agent.references import References

        encoder = self.studio.encoder

        def build_index() -> SessionIndex | None:
            if encoder is None:
                return None
            from anypix.tools.retrieve import SessionIndex

            index = SessionIndex(encoder() if callable(encoder) else encoder)
            for name, (_, modality, path) in known.items():
                if modality in ("image", "audio"):
                    index.add(name, path, modality)  # type: ignore[arg-type]
            return index

        return References(files, build_index)


def _attachment_pairs(attachments: Attachments) -> list[tuple[str, str | Path]]:
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


__all__ = ["Session", "Studio", "default_planner", "default_renderer"]
