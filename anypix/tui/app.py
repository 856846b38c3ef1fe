"""The terminal UI: chat, gallery, plan, progress and history panes over one Studio session.

Widgets only draw; the app owns the session. A submitted instruction becomes a
:class:`TurnStarted`, whose handler starts the turn in a thread worker; the worker reports each
denoising step as a :class:`StepProgress` and ends with a :class:`TurnFinished` (``post_message``
is thread-safe), so the UI never waits on planning or rendering. Escape (or Cancel) sets an event
the renderer polls before every step; the turn then ends as "cancelled" and is kept as such.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Static, Tree
from textual.worker import get_current_worker

from anypix.errors import AnypixError
from anypix.tools.preset import PresetRenderer
from anypix.tui.attach_dialog import AttachDialog
from anypix.tui.chat_input import AssetNameSuggester, InstructionInput
from anypix.tui.commands import COMMANDS, Command, branch_target, parse_command
from anypix.tui.gallery import Gallery
from anypix.tui.history_tree import HistoryTree
from anypix.tui.message_list import MessageList, TurnMessage
from anypix.tui.messages import (
    AttachFinished,
    ModelReady,
    PlanReady,
    StepProgress,
    TurnFinished,
    TurnStarted,
)
from anypix.tui.plan_view import PlanView
from anypix.tui.preview import ImageKind
from anypix.tui.render_progress import RenderProgress
from anypix.tui.status_line import Status, StatusLine

if TYPE_CHECKING:
    from collections.abc import Callable

    from anypix.agent.steps import StepRecord
    from anypix.config import Settings
    from anypix.memory.history import AssetInfo, TurnDetail
    from anypix.plan import EditPlan
    from anypix.studio import Session, Studio


def open_session(studio: Studio, ref: str | None) -> Session:
    """The session ``ref`` names (id, id prefix or name); a new session named ``ref`` if there
    is none; the most recent (or a new one) without a ref."""
    from anypix.memory.turns import SessionNotFoundError

    try:
        return studio.session(ref)
    except SessionNotFoundError:
        if ref is None:
            raise
        return studio.new_session(ref)


class AnypixApp(App[None]):
    """``AnypixApp(studio, "holiday").run()``; tests pass a Studio with their own planner and
    renderer, and ``image_kind="halfcell"`` for previews that do not depend on the terminal."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live elsewhere
    TITLE = "anypix"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("escape", "cancel_turn", "Cancel render"),
        Binding("ctrl+z", "undo", "Undo"),
        Binding("ctrl+y", "redo", "Redo"),
        Binding("ctrl+b", "branch", "Branch at highlighted turn"),
        Binding("ctrl+o", "attach", "Attach file"),
    ]

    def __init__(
        self,
        studio: Studio,
        session_name: str | None = None,
        *,
        settings: Settings | None = None,
        image_kind: ImageKind = "auto",
    ) -> None:
        from anypix.config import load_settings

        super().__init__()
        self.studio = studio
        self.session = open_session(studio, session_name)
        self.settings = settings or load_settings()
        self.image_kind: ImageKind = image_kind
        self.cancel_requested = threading.Event()
        self.running: TurnMessage | None = None  # the conversation entry of the running turn
        self.assets: dict[str, AssetInfo] = {}

    # -- layout -------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        renderer = self.studio.renderer
        loading = isinstance(renderer, PresetRenderer) and renderer.device is None
        yield StatusLine(
            Status(
                session=self.session.info().name,
                turns=0,
                preset=getattr(renderer, "preset", self.settings.model),
                device="loading…" if loading else self.settings.device,
                llm=self.settings.llm,
            ),
            id="status",
        )
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield MessageList(id="messages")
                yield RenderProgress(id="progress")
                yield InstructionInput(
                    placeholder="what to do, e.g. add [dog] to [photo] on the left   (/help)",
                    suggester=AssetNameSuggester(lambda: self.assets),
                    id="instruction",
                )
                yield Static(id="names-hint", markup=False)
            with Vertical(id="images"):
                yield Gallery(self.image_kind, id="gallery")
                yield PlanView(self.image_kind, id="plan")
            yield HistoryTree(id="history")
        yield Footer()

    async def on_mount(self) -> None:
        for selector, title in (
            ("#messages", "conversation"),
            ("#gallery", "images"),
            ("#plan", "plan"),
            ("#history", "history"),
        ):
            self.query_one(selector).border_title = title
        await self.refresh_session()
        current = next((turn for turn in self.session.history() if turn.current), None)
        if current is not None:
            self.show_turn(self.session.show(current.seq))
        if isinstance(self.studio.renderer, PresetRenderer) and self.studio.renderer.device is None:
            self.load_model()
        self.query_one(InstructionInput).focus()

    async def refresh_session(self) -> None:
        """Redraw what depends on the session: history, gallery, names, turn count."""
        history = self.session.history()
        self.assets = self.session.assets()
        info = self.session.info()
        self.query_one(HistoryTree).show(history, f"session {info.name}")
        await self.query_one(Gallery).show(self.assets)
        self.query_one(StatusLine).change(session=info.name, turns=len(history))
        names = " ".join(f"[{name}]" for name in sorted(self.assets))
        hint = (
            f"names: {names}   type [ and Tab to complete"
            if names
            else "no names yet: /attach NAME=PATH or ctrl+o"
        )
        self.query_one("#names-hint", Static).update(hint)

    def show_turn(self, detail: TurnDetail) -> None:
        """Show a turn's plan over its image (its result, else its base)."""
        from anypix.plan import EditPlan

        plan = EditPlan.model_validate(detail.plan) if detail.plan else None
        result = detail.renders[0].path if detail.renders else None
        self.show_plan(plan, f"plan · turn {detail.summary.seq}", result)

    def show_plan(self, plan: EditPlan | None, title: str, image: Path | None = None) -> None:
        """Show ``plan`` over ``image``, else over its base (when that is attached)."""
        from PIL import Image

        if image is None and plan is not None and plan.base in self.assets:
            image = self.assets[plan.base].path
        canvas = None
        if image is not None:
            with Image.open(image) as opened:
                canvas = opened.convert("RGB")
        self.query_one(PlanView).show(plan, canvas, title)

    # -- turns --------------------------------------------------------------------------------------
    @on(Input.Submitted, "#instruction")
    async def _submitted(self, event: Input.Submitted) -> None:
        messages = self.query_one(MessageList)
        text = event.value.strip()
        try:
            command = parse_command(text)
        except AnypixError as exc:
            messages.add_error(exc)
            return
        if command is None and self.running is not None:
            messages.add_note(
                "a turn is running", hint="wait for it, or press Escape to cancel it", kind="error"
            )
            return
        event.input.clear()
        if command is not None:
            await self.run_command(command)
        else:
            self.post_message(TurnStarted(text))

    def on_turn_started(self, message: TurnStarted) -> None:
        self.cancel_requested.clear()
        self.running = self.query_one(MessageList).add_turn(message.instruction)
        self.query_one(RenderProgress).started()
        self.refresh_bindings()
        self.run_turn(message.instruction)

    @work(thread=True, exclusive=True, group="turn", exit_on_error=False)
    def run_turn(self, instruction: str) -> None:
        """Plan, render and store one turn (in a thread: Studio calls block). Always ends with
        a TurnFinished, so the UI never stays "running"."""
        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            self.post_message(StepProgress(done, total))

        def cancel() -> bool:
            return self.cancel_requested.is_set() or worker.is_cancelled

        def on_step(step: StepRecord) -> None:
            if step.error is None and step.tool in ("plan", "locate"):
                self.post_message(PlanReady(getattr(step.value, "plan", step.value)))

        detail: TurnDetail | None = None
        error: Exception | None = None
        last_seq = 0
        try:
            last_seq = max((turn.seq for turn in self.session.history()), default=0)
            detail = self.session.edit(
                instruction, progress=progress, cancel=cancel, on_step=on_step
            )
        except Exception as exc:  # shown in the conversation; bugs are also logged
            error = exc
            with suppress(Exception):  # a failed turn is stored (unless its input was bad)
                stored = [turn.seq for turn in self.session.history() if turn.seq > last_seq]
                detail = self.session.show(max(stored)) if stored else None
        finally:
            self.post_message(TurnFinished(instruction, detail, error))

    def on_plan_ready(self, message: PlanReady) -> None:
        if self.running is not None:
            self.show_plan(message.plan, "plan · rendering")

    def on_step_progress(self, message: StepProgress) -> None:
        if self.running is not None:
            self.running.progress(message.done, message.total)
        if not self.cancel_requested.is_set():
            self.query_one(RenderProgress).step(message.done, message.total)

    async def on_turn_finished(self, message: TurnFinished) -> None:
        entry, self.running = self.running, None
        self.query_one(RenderProgress).finished(message.status)
        self.refresh_bindings()
        await self.refresh_session()
        if message.detail is not None:
            self.show_turn(message.detail)
        if entry is not None:  # last, so everything else is on screen when the status flips
            entry.finish(message.detail, message.error, message.status)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_turn":
            return True if self.running is not None else None  # None: shown greyed out
        return True

    def on_render_progress_cancel_requested(self) -> None:
        self.action_cancel_turn()

    def action_cancel_turn(self) -> None:
        if self.running is None or self.cancel_requested.is_set():
            return
        self.cancel_requested.set()  # the renderer polls this before every step
        self.query_one(RenderProgress).cancelling()

    def on_unmount(self) -> None:
        self.cancel_requested.set()  # a render still running stops at its next step

    # -- moving in the history ---------------------------------------------------------------------
    async def _move(self, move: Callable[[], int | None], done: str) -> None:
        messages = self.query_one(MessageList)
        if self.running is not None:
            messages.add_note("a turn is running", hint="wait for it first", kind="error")
            return
        try:
            seq = move()
        except AnypixError as exc:
            messages.add_error(exc)
            return
        where = f"turn {seq}" if seq else "the start (no image yet)"
        messages.add_note(f"{done}: the current image is now {where}")
        await self.refresh_session()
        if seq:
            self.show_turn(self.session.show(seq))

    async def action_undo(self) -> None:
        await self._move(self.session.undo, "undo")

    async def action_redo(self) -> None:
        await self._move(self.session.redo, "redo")

    async def action_branch(self, seq: int | None = None) -> None:
        target = self.query_one(HistoryTree).highlighted_seq if seq is None else seq
        if target is None:
            self.query_one(MessageList).add_note(
                "no turn is highlighted", hint="pick one in the history pane", kind="error"
            )
            return
        await self._move(
            lambda: self.session.branch(target), "branch (the next edit starts a new branch)"
        )

    @on(Tree.NodeSelected, "#history")
    def _turn_selected(self, event: Tree.NodeSelected[int]) -> None:
        if event.node.data:
            self.show_turn(self.session.show(event.node.data))

    # -- commands and attachments -------------------------------------------------------------------
    async def run_command(self, command: Command) -> None:
        messages = self.query_one(MessageList)
        if command.name == "help":
            messages.add_note("\n".join(COMMANDS.values()))
        elif command.name == "undo":
            await self.action_undo()
        elif command.name == "redo":
            await self.action_redo()
        elif command.name == "branch":
            try:
                seq = branch_target(command.argument)
            except AnypixError as exc:
                messages.add_error(exc)
                return
            await self.action_branch(seq)
        elif command.name == "attach":
            self.attach_file(command.argument)

    def action_attach(self) -> None:
        def attach(answer: tuple[str, str] | None) -> None:
            if answer is not None:
                name, path = answer
                self.attach_file(f"{name}={path}" if name else path)

        self.push_screen(AttachDialog(), attach)

    @work(thread=True, group="attach", exit_on_error=False)
    def attach_file(self, spec: str) -> None:
        """Validate and store ``NAME=PATH`` (a bare PATH is named after its file)."""
        from anypix.media import parse_attachment

        try:
            attachment = parse_attachment(spec)
            asset = self.session.attach(attachment.name, attachment.path)
        except Exception as exc:  # shown in the conversation; bugs are also logged
            self.post_message(AttachFinished(spec, None, exc))
        else:
            self.post_message(AttachFinished(spec, asset, None))

    async def on_attach_finished(self, message: AttachFinished) -> None:
        messages = self.query_one(MessageList)
        if message.error is not None or message.asset is None:
            messages.add_error(message.error or AnypixError(f"cannot attach {message.spec}"))
            return
        asset = message.asset
        messages.add_note(f"attached [{asset.name}] ({asset.modality}, {asset.path.suffix[1:]})")
        await self.refresh_session()

    # -- the model ----------------------------------------------------------------------------------
    @work(thread=True, group="model", exit_on_error=False)
    def load_model(self) -> None:
        renderer = self.studio.renderer
        assert isinstance(renderer, PresetRenderer)
        try:
            renderer.load()
        except Exception as exc:  # shown in the status line and the conversation
            self.post_message(ModelReady(renderer.preset, None, exc))
        else:
            self.post_message(ModelReady(renderer.preset, renderer.device))

    def on_model_ready(self, message: ModelReady) -> None:
        status = self.query_one(StatusLine)
        if message.error is not None:
            status.change(device="not loaded")
            self.query_one(MessageList).add_error(message.error)
        else:
            status.change(device=message.device or "?")


def run_tui(settings: Settings | None = None, session: str | None = None) -> None:
    """Open the terminal UI on ``session`` (default: the most recent) with the configured
    diffusion preset (loaded in the background) and planner."""
    # textual_image asks the terminal what graphics it supports when first imported, which
    # only works before Textual owns the terminal.
    try:
        import textual_image.widget  # noqa: F401
    except ZeroDivisionError:  # it divides the window's pixel size by its columns
        raise AnypixError(
            "this terminal reports a size of 0 columns, so images cannot be laid out",
            "run anypix tui in an interactive terminal window, or give it a size: stty cols 120 rows 40",
        ) from None

    from anypix.agent.planner import planner_for
    from anypix.config import load_settings
    from anypix.studio import Studio

    settings = settings or load_settings()
    renderer = PresetRenderer(settings)
    with Studio(settings.data_dir, planner=planner_for(settings), renderer=renderer) as studio:
        AnypixApp(studio, session, settings=settings).run()
