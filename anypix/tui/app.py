"""The terminal UI: chat, gallery, plan, progress and history panes over one Studio session.

Widgets only draw; the app owns the session. A submitted instruction becomes a
:class:`TurnStarted`, whose handler starts the turn in a thread worker; the worker reports the
plan as a :class:`PlanReady`, each denoising step as a :class:`StepProgress` and ends with a
:class:`TurnFinished` (``post_message`` is thread-safe), so the UI never waits on planning or
rendering. Escape (or Cancel) sets an event the renderer polls before every step; the turn then
ends as "cancelled" and is kept as such. When the planner asks a question instead of guessing,
the conversation shows it and the next instruction typed is the answer.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Input, Static, Tree
from textual.worker import get_current_worker

from anypix.commands import Command, PendingQuestion, help_lines, parse_command, turn_number
from anypix.errors import AnypixError, ClarificationNeeded, TurnFailed
from anypix.tools.preset import PresetRenderer
from anypix.tui.attach_dialog import AttachDialog
from anypix.tui.chat_input import AssetNameSuggester, InstructionInput
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
    from anypix.studio import Studio

KEYS = {"undo": "ctrl+z", "redo": "ctrl+y", "attach": "ctrl+o", "quit": "ctrl+q"}
PLACEHOLDER = "what to do, e.g. add [dog] to [photo] on the left   (/help)"
ANSWER_PLACEHOLDER = "your answer to the question above (a number or your own words)"
REOPENED_TURNS = 50  # the conversation a reopened session shows: its latest turns


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
        """The session ``session_name`` names (id, id prefix or name; a new name starts a
        session so named), or the most recent one."""
        super().__init__()
        self.studio = studio
        self.session = studio.session(session_name)
        self.settings = settings or studio.settings
        self.image_kind: ImageKind = image_kind
        self.cancel_requested = threading.Event()
        self.running: TurnMessage | None = None  # the conversation entry of the running turn
        self.pending: PendingQuestion | None = None  # a question the planner asked
        self.assets: dict[str, AssetInfo] = {}

    # -- layout -------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        renderer = self.studio.renderer
        loading = isinstance(renderer, PresetRenderer) and renderer.device is None
        yield StatusLine(
            Status(
                session=self.session.name,
                turns=0,
                preset=renderer.preset if isinstance(renderer, PresetRenderer)
                else self.settings.model,
                device="loading…" if loading else self.settings.device,
                llm=self.settings.llm,
            ),
            id="status",
        )  # fmt: skip
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield MessageList(id="messages")
                yield RenderProgress(id="progress")
                yield InstructionInput(
                    placeholder=PLACEHOLDER,
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
        history = self.session.history()
        self.query_one(MessageList).add_stored(
            [self.session.show(turn.seq) for turn in history[-REOPENED_TURNS:]],
            earlier=max(0, len(history) - REOPENED_TURNS),
        )
        current = next((turn for turn in history if turn.current), None)
        if current is not None:
            self.show_turn(self.session.show(current.seq))
        if isinstance(self.studio.renderer, PresetRenderer) and self.studio.renderer.device is None:
            self.load_model()
        self.query_one(InstructionInput).focus()

    async def refresh_session(self) -> None:
        """Redraw what depends on the session: history, gallery, names, turn count."""
        history = self.session.history()
        self.assets = self.session.assets()
        name = self.session.name
        self.query_one(HistoryTree).show(history, f"session {name}")
        await self.query_one(Gallery).show(self.assets)
        self.query_one(StatusLine).change(session=name, turns=len(history))
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
        if not text:
            return
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
            return
        if self.pending is not None:  # the text answers the planner's question
            text, self.pending = self.pending.answer(text), None
            event.input.placeholder = PLACEHOLDER
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
        from anypix.agent.turn import plan_of

        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            self.post_message(StepProgress(done, total))

        def cancel() -> bool:
            return self.cancel_requested.is_set() or worker.is_cancelled

        def on_step(step: StepRecord) -> None:
            if (plan := plan_of(step)) is not None:
                self.post_message(PlanReady(plan, located=step.tool == "locate"))

        detail: TurnDetail | None = None
        error: BaseException | None = None
        try:
            detail = self.session.edit(
                instruction, progress=progress, cancel=cancel, on_step=on_step
            )
        except TurnFailed as failed:  # stored as failed or cancelled
            detail, error = failed.turn, failed.cause
        except Exception as exc:  # refused before it ran (nothing stored), or a bug: both shown
            error = exc
        finally:
            self.post_message(TurnFinished(instruction, detail, error))

    def on_plan_ready(self, message: PlanReady) -> None:
        if self.running is not None:
            self.show_plan(message.plan, "plan · located" if message.located else "plan · rendering")
            self.running.planned(located=message.located)

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
        if isinstance(message.error, ClarificationNeeded):
            self.pending = PendingQuestion(message.instruction, message.error)
            self.query_one(InstructionInput).placeholder = ANSWER_PLACEHOLDER
        if entry is not None:  # last, so everything else is on screen when the status flips
            entry.finish(message.detail, message.error, message.status, self.pending)

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
        try:
            if command.name == "help":
                messages.add_note("\n".join(help_lines(KEYS)))
            elif command.name == "undo":
                await self.action_undo()
            elif command.name == "redo":
                await self.action_redo()
            elif command.name == "branch":
                await self.action_branch(turn_number(command.argument, "/branch N"))
            elif command.name == "show":
                self.show_command(command.argument)
            elif command.name == "export":
                path = self.session.export(Path(command.argument).expanduser())
                messages.add_note(f"exported to {path}")
            elif command.name == "attach":
                self.attach_file(command.argument)
            elif command.name == "quit":
                self.exit()
        except AnypixError as exc:
            messages.add_error(exc)

    def show_command(self, argument: str) -> None:
        """``/show N``: turn N in the plan pane; ``/show``: where the session is."""
        if argument:
            seq = turn_number(argument, "/show [N]")
            self.show_turn(self.session.show(seq))
            self.query_one(MessageList).add_note(f"the plan pane shows turn {seq}")
            return
        history = self.session.history()
        current = next((turn.seq for turn in history if turn.current), None)
        at = f"turn {current}" if current else "the start"
        self.query_one(MessageList).add_note(
            f"session {self.session.name}: {len(history)} turn(s), at {at}; "
            f"names: {', '.join(f'[{name}]' for name in sorted(self.assets)) or 'none'}"
        )

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
            self.post_message(AttachFinished(spec, None, None, exc))
        else:  # the store keeps images as PNG; the person wants to know what they gave
            self.post_message(AttachFinished(spec, asset, attachment.format, None))

    async def on_attach_finished(self, message: AttachFinished) -> None:
        messages = self.query_one(MessageList)
        if message.error is not None or message.asset is None:
            messages.add_error(message.error or AnypixError(f"cannot attach {message.spec}"))
            return
        asset = message.asset
        messages.add_note(f"attached [{asset.name}] ({asset.modality}, {message.format})")
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

    from anypix.studio import Studio

    with Studio.from_settings(settings) as studio:
        AnypixApp(studio, session).run()
