"""``anypix chat``: a plain prompt loop over a :class:`~anypix.studio.Session` (no full-screen UI).

Each line is an instruction, or a command (:mod:`anypix.commands`, shared with the TUI)::

    > /attach scene=scene.png
    > add a yellow ring to [scene]
    > /undo

A turn shows its plan as soon as it exists, a progress bar per denoising step, then its images
and (when the turn was verified) what each check found. Ctrl-C cancels a render (the turn is kept,
marked cancelled) and the loop goes on. When the planner asks a question instead of guessing, the
question is printed and the next line is the answer. Ctrl-D or ``/quit`` leaves. The loop takes
its input function and console as arguments, so tests drive it with scripted lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from anypix.commands import (
    Command,
    PendingQuestion,
    conversation_error,
    help_lines,
    parse_command,
    turn_number,
)
from anypix.console import (
    cancel_on_interrupt,
    history_table,
    print_notice,
    print_plan,
    render_progress,
    verification_lines,
    visible,
)
from anypix.errors import AnypixError, ClarificationNeeded, TurnFailed

if TYPE_CHECKING:
    from rich.console import Console

    from anypix.agent.steps import StepRecord
    from anypix.memory.history import TurnDetail
    from anypix.studio import Session

InputFn = Callable[[str], str]  # like builtins.input: returns a line, raises EOFError at the end
PROMPT = "anypix> "
ANSWER_PROMPT = "answer> "
EXAMPLE = "Type an instruction, e.g.  add [dog] to [scene] on the left   ([last] is the current image)."


class Chat:
    """One chat over one session; :meth:`handle` takes a line and says whether to go on."""

    def __init__(self, session: Session, console: Console) -> None:
        self.session, self.console = session, console
        self.pending: PendingQuestion | None = None  # a question the planner asked
        self.commands: dict[str, Callable[[str], None]] = {
            "attach": self.attach,
            "undo": lambda _: self._moved("undo", self.session.undo()),
            "redo": lambda _: self._moved("redo", self.session.redo()),
            "branch": self.branch,
            "show": self.show,
            "export": self.export,
            "help": lambda _: self.say("\n".join([EXAMPLE, "Commands:", *help_lines()])),
        }

    @property
    def prompt(self) -> str:
        return ANSWER_PROMPT if self.pending is not None else PROMPT

    def handle(self, line: str) -> bool:
        """Run one line; False once the user asked to leave. User errors are printed, not
        raised, so the chat goes on."""
        line = line.strip()
        if not line:
            return True
        try:
            command = parse_command(line)
            if command is None:
                self.instruct(line)
            elif command.name == "quit":
                return False
            else:
                self.run(command)
        except AnypixError as exc:
            message, hint = conversation_error(exc)
            self.say("error: " + visible(message, newlines=False) + (f" ({hint})" if hint else ""),
                     "red")  # fmt: skip
        return True

    def run(self, command: Command) -> None:
        self.commands[command.name](command.argument)

    def say(self, text: str, style: str | None = None) -> None:
        """Print ``text`` as is: no markup, control characters shown as escapes."""
        self.console.print(visible(text), style=style, markup=False, highlight=False)

    # -- instructions -------------------------------------------------------------------------
    def instruct(self, line: str) -> None:
        """An instruction, or the answer to the question asked about the one before."""
        instruction = self.pending.answer(line) if self.pending is not None else line
        if self.pending is not None:
            self.say(f"planning: {instruction}", "dim")
        self.pending = None
        try:
            self.edit(instruction)
        except ClarificationNeeded as question:
            self.pending = PendingQuestion(instruction, question)
            self.say(self.pending.prompt(), "yellow")

    def edit(self, instruction: str) -> None:
        started = time.perf_counter()
        try:
            with (
                cancel_on_interrupt() as cancel,
                render_progress(self.console, "rendering") as (progress, counter),
            ):
                turn = self.session.edit(
                    instruction, progress=progress, cancel=cancel, on_step=self._planned
                )
        except TurnFailed as failed:
            if not isinstance(failed.cause, AnypixError | KeyboardInterrupt):
                raise failed.cause from None  # a bug in anypix keeps its traceback
            if isinstance(failed.cause, ClarificationNeeded):  # asked on a re-plan: still asked
                raise failed.cause from None
            if failed.cancelled:
                self.say("cancelled: the turn is kept as cancelled; the current image is "
                         "unchanged", "yellow")  # fmt: skip
                return
            self._verified(failed.turn)
            raise
        seconds = time.perf_counter() - started
        steps = f", {counter.done}/{counter.total} steps" if counter.total else ""
        self.say(f"turn {turn.summary.seq}: {len(turn.renders)} image(s){steps}, {seconds:.1f} s",
                 "green")  # fmt: skip
        self._verified(turn)
        for render in turn.renders:
            self.say(str(render.path))

    def _planned(self, step: StepRecord) -> None:
        """The plan as soon as it exists (and once more with the blobs the locate step found),
        so the person reads it while the render runs."""
        from anypix.agent.turn import plan_of

        print_notice(self.console, step)
        plan = plan_of(step)
        if plan is not None:
            print_plan(self.console, plan, located=step.tool == "locate")

    def _verified(self, turn: TurnDetail) -> None:
        for line in verification_lines(turn):
            self.say(line)

    # -- commands -----------------------------------------------------------------------------
    def attach(self, argument: str) -> None:
        from anypix.media import parse_attachment

        attachment = parse_attachment(argument)
        info = self.session.attach(attachment.name, attachment.path)
        size = f" {info.width}x{info.height}" if info.width else ""
        self.say(f"attached [{info.name}] ({info.modality} {attachment.format}{size}): {info.path}")

    def branch(self, argument: str) -> None:
        self._moved("branch", self.session.branch(turn_number(argument, "/branch N")))

    def export(self, argument: str) -> None:
        self.say(f"exported to {self.session.export(Path(argument).expanduser())}")

    def show(self, argument: str) -> None:
        if argument:
            self._show_turn(turn_number(argument, "/show [N]"))
            return
        turns = self.session.history()
        if turns:
            self.console.print(history_table(turns))
        else:
            self.say("no turns yet")
        for name, asset in self.session.assets().items():
            self.say(f"[{name}] {asset.modality}: {asset.path}")

    def _show_turn(self, seq: int) -> None:
        from anypix.plan import EditPlan

        turn = self.session.show(seq)
        self.say(f"turn {seq} ({turn.summary.status}): {turn.summary.instruction}", "bold")
        if turn.plan:
            self.say(EditPlan.model_validate(turn.plan).tokens(), "dim")
        self._verified(turn)
        if turn.error:
            self.say(turn.error, "red")
        for render in turn.renders:
            self.say(str(render.path))

    def _moved(self, label: str, seq: int | None) -> None:
        self.say(f"{label}: now at turn {seq}" if seq else f"{label}: now at the start")


def run_chat(session: Session, input_fn: InputFn, console: Console) -> None:
    """Read lines from ``input_fn`` until ``/quit`` or end of input (EOFError). Ctrl-C at the
    prompt only clears the line."""
    chat = Chat(session, console)
    where = f" ({session.stored_id[:12]})" if session.stored_id else " (new)"
    chat.say(f"session {session.name}{where}; /help lists the commands", "bold")
    while True:
        try:
            line = input_fn(chat.prompt)
        except EOFError:
            break
        except KeyboardInterrupt:
            chat.say("(Ctrl-C clears the line; /quit or Ctrl-D leaves)")
            continue
        if not chat.handle(line):
            break
    chat.say("bye")
