"""The one API every front end uses (CLI, chat, TUI, scripts, MCP, batch): ``Studio`` and ``Session``.

    from anypix import Studio
    from anypix.knobs import EditOptions

    with Studio.from_settings(llm="fast") as studio:      # settings + overrides (any Settings field)
        session = studio.session("holiday")             # by id, id prefix or name; new if unknown
        result = session.plan("add [dog] to [photo]", {"photo": "p.png", "dog": "d.png"})
        print(result.plan.tokens())                      # planned, nothing rendered or stored
        try:
            turn = session.edit("add [dog] to [photo] on the left",
                                {"photo": "p.png", "dog": "d.png"},
                                options=EditOptions(seed=3, steps=20, variations=2),
                                on_step=print)           # each executor step as it finishes
        except TurnFailed as failed:                     # stored as failed or cancelled
            print(failed.turn.summary.status, failed)
        else:
            print(turn.to_json()["outputs"])             # the image files
        session.undo()

**Which session.** ``studio.session(ref)`` finds ``ref`` as an id, a unique id prefix (4+
characters) or a name; a name two sessions share is an error listing their ids, never a guess.
An unknown ``ref`` opens a new session of that name (``create=False``: an error instead).
``studio.session()`` with no ref is the most recent session (what ``anypix -c`` continues), or a
new one when there is none; ``studio.new_session(name)`` is always a new one. A new session is
stored on its first turn or attachment (or when its ``id`` or ``info()`` is asked for), so an
edit refused before it runs leaves no empty session behind.

**A turn** (:mod:`anypix.agent.turn` runs it): attachments are validated first; an instruction
the planner refuses raises its error and stores nothing; once planned, the turn is stored
whatever happens, and a failed or cancelled one raises :class:`~anypix.errors.TurnFailed`
carrying the stored turn (``.turn``). References may be names, the file names of the turn's
attachments (``[IMG_0042.jpg]``) or, with an ``encoder``, descriptions (``[the last picture]``).

**Parts.** ``Studio.from_settings`` builds the configured planner
(:func:`anypix.agent.planner.planner_for`), renderer (:class:`anypix.tools.preset.PresetRenderer`,
loaded on the first render) and locator. Tests and embedders pass their own to ``Studio(...)``:
a planner (:class:`anypix.agent.protocol.PlannerBase`, or a plain ``function(instruction,
{name: modality}) -> EditPlan``) and a ``renderer(plan, {name: path}, *, progress, cancel) ->
Render``.

**Showing it.** ``anypix.agent.turn.plan_of(step)`` is the plan a step made (show it while the
render runs); ``session.save_outputs(turn, folder)`` copies the images under names that say what
they are (``holiday-t3-add.png``); :mod:`anypix.console` prints plans, turns, progress and the
one-line form of an error with its exit code, for every front end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from anypix.agent.correct import DEFAULT_ATTEMPTS
from anypix.agent.turn import Attachments, plan_turn, prepare_attachments, run_turn
from anypix.errors import ConfigError

if TYPE_CHECKING:
    from anypix.agent.executor import Locator, Renderer
    from anypix.agent.protocol import PlanFunction, PlannerBase, PlanResult
    from anypix.agent.steps import StepRecord
    from anypix.agent.verify import Verifier
    from anypix.config import Settings
    from anypix.knobs import EditOptions
    from anypix.memory.assets import AssetLimits
    from anypix.memory.history import AssetInfo, TurnDetail, TurnSummary
    from anypix.memory.replay import ReplayResult
    from anypix.memory.sessions import SessionInfo
    from anypix.models.encoders import Encoder


def _settings(settings: Settings | None, overrides: Mapping[str, Any]) -> Settings:
    """``settings`` (default: read from the environment and the config file) with the
    ``overrides`` that are not None on top, validated like any other settings."""
    from anypix.config import load_settings

    given = {key: value for key, value in overrides.items() if value is not None}
    if settings is None:
        return load_settings(**given)
    return load_settings(**{**settings.model_dump(), **given}) if given else settings


class Studio:
    """One data dir (its database and asset store) with the planner, renderer and locator its
    turns use."""

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        planner: PlannerBase | PlanFunction | None = None,
        renderer: Renderer | None = None,
        limits: AssetLimits | None = None,
        encoder: Callable[[], Encoder] | None = None,
        max_steps: int = 6,
        locator: Locator | Literal["auto"] | None = "auto",
        settings: Settings | None = None,
        verifier: Verifier | Literal["auto"] | None = "auto",
    ) -> None:
        """Parts left out come from ``settings`` (default: the configured ones): the planner
        they name, the preset renderer, and with it ("auto") that preset's locator. ``encoder``
        loads the encoder that resolves description references (on first use);
        ``max_steps`` bounds the executor loop of a turn; ``locator`` None: edits that name an
        object without a place apply to the whole image; ``verifier`` checks each output
        ("auto": with the preset renderer's perception; None: outputs are kept unchecked)."""
        from anypix.agent.planner import planner_for
        from anypix.agent.protocol import as_planner
        from anypix.memory.assets import AssetStore
        from anypix.memory.db import open_engine

        self.settings = settings = _settings(settings, {})
        self.data_dir = Path(data_dir) if data_dir is not None else settings.data_dir
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise ConfigError(
                f"the data dir {self.data_dir} is not a folder",
                "point --data-dir (or ANYPIX_DATA_DIR) at a folder",
            )
        self.engine = open_engine(self.data_dir / "anypix.db")
        self.store = AssetStore(self.data_dir / "assets", limits)
        self.planner: PlannerBase = (
            planner_for(settings) if planner is None else as_planner(planner)
        )
        self.encoder, self.max_steps = encoder, max_steps
        # Built on first use: listing sessions or planning never loads a model's code.
        self._renderer, self._locator, self._verifier = renderer, locator, verifier

    @property
    def renderer(self) -> Renderer:
        """What draws a checked plan; the settings' preset (loaded on its first render)."""
        if self._renderer is None:
            from anypix.tools.preset import renderer_for

            self._renderer = renderer_for(self.settings)
        return self._renderer

    @property
    def locator(self) -> Locator | None:
        """What finds the objects an edit names without a place: the given one, else ("auto")
        the preset renderer's; None for a renderer of one's own."""
        if self._locator == "auto":
            from anypix.tools.preset import PresetRenderer

            renderer = self.renderer
            self._locator = renderer.locator if isinstance(renderer, PresetRenderer) else None
        return self._locator

    @property
    def verifier(self) -> Verifier | None:
        """What checks each output: the given one, else ("auto") one over the perception the
        preset's family registers; None for a renderer of one's own or a preset without one."""
        if self._verifier == "auto":
            from anypix.agent.verify import Verifier
            from anypix.tools.preset import PresetRenderer

            renderer = self.renderer
            perception = renderer.perception if isinstance(renderer, PresetRenderer) else None
            self._verifier = None if perception is None else Verifier(perception)
        return self._verifier

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> Studio:
        """The studio the settings describe, with ``overrides`` (``model=``, ``llm=``,
        ``data_dir=``...; None values are ignored) on top: how every front end opens one."""
        return cls(settings=_settings(settings, overrides))

    def __enter__(self) -> Studio:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def sessions(self) -> list[SessionInfo]:
        """All stored sessions, the most recently used first."""
        from anypix.memory.sessions import list_sessions

        return list_sessions(self.engine)

    def session(self, ref: str | None = None, *, create: bool = True) -> Session:
        """The session ``ref`` names (see the module docstring for the rules)."""
        from anypix.memory.history import HistoryError
        from anypix.memory.sessions import find_session
        from anypix.memory.turns import SessionNotFoundError

        try:
            found = find_session(self.engine, ref)
        except SessionNotFoundError:
            if not create:
                raise
            return Session(self, None, name=ref)
        except HistoryError:
            if ref is None and create:  # there are no sessions yet
                return Session(self, None)
            raise
        if ref is not None and found.name == ref and not found.id.startswith(ref):
            same = [s.id[:8] for s in self.sessions() if s.name == ref]
            if len(same) > 1:
                raise HistoryError(
                    f"{len(same)} sessions are named {ref!r} (ids {', '.join(same)})",
                    f"give one by its id, e.g. --session {same[0]}",
                )
        return Session(self, found.id)

    def new_session(self, name: str | None = None) -> Session:
        """A new session (stored on its first turn or attachment)."""
        return Session(self, None, name=name)

    def edit(
        self,
        instruction: str,
        attachments: Attachments = None,
        *,
        session: str | None = None,
        options: EditOptions | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> TurnDetail:
        """One turn in ``studio.session(session)``; see :meth:`Session.edit`."""
        target = self.session(session)
        return target.edit(
            instruction, attachments, options=options, progress=progress, cancel=cancel
        )

    def import_session(self, archive: Path | str) -> Session:
        """Import a session archive made by ``Session.export``."""
        from anypix.memory.archive import import_session

        return Session(self, import_session(self.engine, self.store, Path(archive)))

    def collect_garbage(self, grace_s: float = 3600.0) -> list[Path]:
        """Remove asset files no row references (left by killed processes)."""
        from anypix.memory.history import collect_garbage

        return collect_garbage(self.engine, self.store, grace_s)


class Session:
    """One session's history: plan, edit, look back, undo, redo, branch, export, replay."""

    def __init__(self, studio: Studio, session_id: str | None, *, name: str | None = None) -> None:
        """``session_id`` None: a new session named ``name``, stored on first use."""
        self.studio = studio
        self._id = session_id
        self._name = name

    def __repr__(self) -> str:
        return f"Session({self._id or f'new: {self._name}'!r})"

    # -- which session --------------------------------------------------------------------------
    @property
    def stored_id(self) -> str | None:
        """The id, or None while the session is new and not stored yet."""
        return self._id

    def ensure_stored(self) -> str:
        """Store a new session now; its id."""
        if self._id is None:
            from anypix.memory.sessions import create_session

            self._id = create_session(self.studio.engine, self._name).id
        return self._id

    @property
    def id(self) -> str:
        """The session's id (asking for it stores a new session)."""
        return self.ensure_stored()

    @property
    def name(self) -> str:
        return self.info().name if self._id is not None else self._name or "untitled"

    def info(self) -> SessionInfo:
        from anypix.memory.sessions import find_session

        return find_session(self.studio.engine, self.id)

    # -- planning and editing -------------------------------------------------------------------
    def plan(
        self,
        instruction: str,
        attachments: Attachments = None,
        *,
        options: EditOptions | None = None,
        planner: PlannerBase | PlanFunction | None = None,
    ) -> PlanResult:
        """Plan ``instruction`` as :meth:`edit` would (the session's names, the attachments'
        file names, descriptions), with ``options``' knobs; nothing is rendered or stored."""
        chosen = self._planner(planner, options)
        return plan_turn(self.studio, self._id, chosen, instruction, attachments)

    def edit(
        self,
        instruction: str,
        attachments: Attachments = None,
        *,
        options: EditOptions | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        on_step: Callable[[StepRecord], None] | None = None,
        planner: PlannerBase | PlanFunction | None = None,
    ) -> TurnDetail:
        """Plan, render and store one turn; returns it as stored. ``options`` sets knobs and
        the number of variations; ``on_step`` sees each executor step as it finishes
        (:func:`anypix.agent.turn.plan_of` gives the plan to show before the render starts);
        ``planner`` plans this turn instead of the studio's. ``progress(done, total)`` follows
        each render; ``cancel()`` is polled between its steps.

        Raises the planner's error (storing nothing) when the instruction cannot be planned, and
        :class:`~anypix.errors.TurnFailed` (with ``.turn``) when a planned turn fails."""
        return run_turn(
            self.studio, self, self._planner(planner, options), instruction, attachments,
            variations=options.variations if options else 1,
            progress=progress, cancel=cancel, on_step=on_step,
            verify=options.verify if options else True,
            attempts=options.attempts if options else DEFAULT_ATTEMPTS,
        )  # fmt: skip

    def _planner(
        self, planner: PlannerBase | PlanFunction | None, options: EditOptions | None
    ) -> PlannerBase:
        from anypix.agent.protocol import KnobOverrides, as_planner

        chosen = as_planner(planner) if planner is not None else self.studio.planner
        knobs = options.knobs() if options else {}
        return KnobOverrides(chosen, knobs) if knobs else chosen

    def save_outputs(self, turn: TurnDetail, folder: Path | str) -> list[Path]:
        """Copy ``turn``'s images into ``folder`` under names that say what they are
        (``holiday-t3-add.png``; see :func:`anypix.agent.turn.output_names`)."""
        from anypix.agent.turn import save_outputs

        return save_outputs(turn, self.name, self.id, Path(folder))

    def attach(self, name: str, path: Path | str) -> AssetInfo:
        """Validate and store a file under ``name`` for later instructions."""
        from anypix.memory.turns import attach_assets

        prepared = prepare_attachments(self.studio.store, [(name, path)])
        attach_assets(self.studio.engine, self.studio.store, self.id, prepared)
        return self.assets()[name]

    # -- looking back ---------------------------------------------------------------------------
    def history(self) -> list[TurnSummary]:
        from anypix.memory.history import list_turns

        return [] if self._id is None else list_turns(self.studio.engine, self._id)

    def show(self, seq: int) -> TurnDetail:
        from anypix.memory.history import show_turn

        return show_turn(self.studio.engine, self.studio.store, self.id, seq)

    def assets(self) -> dict[str, AssetInfo]:
        """Names this session knows, plus ``last`` (the current image) once there is one."""
        from anypix.memory.history import session_assets

        return {} if self._id is None else session_assets(self.studio.engine,
                                                          self.studio.store, self._id)  # fmt: skip

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
        """Write the session to an archive at ``path``: a new file, or a regular file it
        replaces (anything else there is refused; :func:`anypix.memory.archive.export_target`)."""
        from anypix.memory.archive import export_session

        export_session(self.studio.engine, self.studio.store, self.id, Path(path))
        return Path(path)

    def replay(self, seq: int) -> ReplayResult:
        from anypix.memory.replay import replay_turn

        return replay_turn(
            self.studio.engine, self.studio.store, self.id, seq, self.studio.renderer
        )


__all__ = ["Session", "Studio"]
