"""``anypix chat``: a plain prompt loop over a :class:`~anypix.studio.Session` (no full-screen UI).

Each line is an instruction, or a command::

    > /attach scene=scene.png
    > add a yellow ring to [scene]
    > /undo

A render shows a progress bar per denoising step; Ctrl-C cancels the render (the turn is kept,
marked cancelled) and the loop goes on. Ctrl-D or ``/quit`` leaves. The loop takes its input
function and console as arguments, so tests (and other front ends) drive it with scripted lines.

The render helpers here (:func:`render_progress`, :func:`cancel_on_interrupt`) are shared with
``anypix run`` (:mod:`anypix.script`); the model is loaded once by
:class:`anypix.tools.preset.PresetRenderer`.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.errors import AnypixError, CancelledError

if TYPE_CHECKING:
    from rich.console import Console

    from anypix.agent.steps import StepRecord
    from anypix.memory.history import TurnDetail
    from anypix.studio import Session, Studio

InputFn = Callable[[str], str]  # like builtins.input: returns a line, raises EOFError at the end
PROMPT = "anypix> "

HELP = """\
Type an instruction, e.g.  add [dog] to [scene] on the left   ([last] is the current image).
Commands:
  /attach NAME=PATH   attach a file; instructions then refer to it as [NAME]
  /undo               step back to the previous turn
  /redo               step forward again
  /branch N           continue from turn N (0: the start); the next edit starts a branch
  /show [N]           the history and the current images, or turn N's plan and outputs
  /export PATH        write this session to an archive (.zip)
  /help               this text
  /quit               leave (Ctrl-D too); Ctrl-C cancels a render, not the chat"""


# -- render helpers shared with anypix run --------------------------------------------------------


@dataclass
class StepCounter:
    """What a render reported through its progress callback (``done`` of ``total`` steps)."""

    done: int = 0
    total: int = 0


@contextmanager
def render_progress(
    console: Console, label: str
) -> Iterator[tuple[Callable[[int, int], None], StepCounter]]:
    """A transient progress bar over a render's denoising steps; yields the ``progress(done,
    total)`` callback to hand to the renderer and a counter of what it reported."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    counter = StepCounter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def progress(done: int, total: int) -> None:
            counter.done, counter.total = done, total
            bar.update(task, completed=done, total=total)

        yield progress, counter


@contextmanager
def cancel_on_interrupt() -> Iterator[Callable[[], bool]]:
    """While inside, the first Ctrl-C asks the render to stop at its next step (the yielded
    ``cancel()`` turns True) instead of killing the process; a second Ctrl-C interrupts at once.
    Outside the main thread signals cannot be caught, so ``cancel()`` stays False there."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested.is_set
        return

    def on_interrupt(signum: int, frame: Any) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield requested.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


def plan_tokens(turn: TurnDetail) -> str:
    """The token text of a stored turn's plan ('' when it never got one)."""
    from anypix.plan import EditPlan

    return EditPlan.model_validate(turn.plan).tokens() if turn.plan else ""


# -- the loop --------------------------------------------------------------------------------------


class Chat:
    """One chat over one session; :meth:`handle` takes a line and says whether to go on."""

    def __init__(self, studio: Studio, session: Session, console: Console) -> None:
        self.studio, self.session, self.console = studio, session, console
        self.commands: dict[str, Callable[[str], None]] = {
            "/attach": self.attach,
            "/undo": lambda _: self._moved("undo", self.session.undo()),
            "/redo": lambda _: self._moved("redo", self.session.redo()),
            "/branch": self.branch,
            "/show": self.show,
            "/export": self.export,
            "/help": lambda _: self.console.print(HELP, markup=False, highlight=False),
        }

    def handle(self, line: str) -> bool:
        """Run one line; False once the user asked to leave. User errors are printed, not
        raised, so the chat goes on."""
        line = line.strip()
        if not line:
            return True
        if line in ("/quit", "/exit", "/q"):
            return False
        command, _, rest = line.partition(" ")
        try:
            if not line.startswith("/"):
                self.edit(line)
            elif command in self.commands:
                self.commands[command](rest.strip())
            else:
                self.say(f"unknown command {command}; /help lists the commands", "red")
        except AnypixError as exc:
            self.say(f"error: {exc}", "red")
        return True

    def say(self, text: str, style: str | None = None) -> None:
        self.console.print(text, style=style, markup=False, highlight=False)

    # -- instructions -------------------------------------------------------------------------
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
        except (CancelledError, KeyboardInterrupt):
            self.say("cancelled: the turn is kept as cancelled; the current image is unchanged",
                     "yellow")  # fmt: skip
            return
        seconds = time.perf_counter() - started
        steps = f", {counter.done}/{counter.total} steps" if counter.total else ""
        self.say(f"turn {turn.summary.seq}: {len(turn.renders)} image(s){steps}, {seconds:.1f} s",
                 "green")  # fmt: skip
        for render in turn.renders:
            self.say(str(render.path))

    def _planned(self, step: StepRecord) -> None:
        """The plan as soon as it exists (and once more with the blobs the locate step found),
        so the person reads it while the render runs."""
        if step.error is None and step.tool in ("plan", "locate"):
            plan = getattr(step.value, "plan", step.value)
            self.say(("located:\n" if step.tool == "locate" else "") + plan.tokens(), "dim")

    # -- commands -----------------------------------------------------------------------------
    def attach(self, argument: str) -> None:
        from anypix.media import parse_attachment

        if "=" not in argument:
            raise AnypixError("usage: /attach NAME=PATH", "e.g. /attach dog=dog.png")
        attachment = parse_attachment(argument)
        info = self.session.attach(attachment.name, attachment.path)
        size = f" {info.width}x{info.height}" if info.width else ""
        self.say(f"attached [{info.name}] ({info.modality}{size}): {info.path}")

    def branch(self, argument: str) -> None:
        if not argument.isdigit():
            raise AnypixError("usage: /branch N", "N is a turn number from /show (0: the start)")
        self._moved("branch", self.session.branch(int(argument)))

    def export(self, argument: str) -> None:
        if not argument:
            raise AnypixError("usage: /export PATH", "e.g. /export session.zip")
        self.say(f"exported to {self.session.export(Path(argument).expanduser())}")

    def show(self, argument: str) -> None:
        if argument:
            if not argument.isdigit():
                raise AnypixError("usage: /show [N]", "N is a turn number")
            self._show_turn(int(argument))
            return
        from rich.markup import escape
        from rich.table import Table

        turns = self.session.history()
        table = Table("", "turn", "from", "status", "images", "instruction")
        for t in turns:
            mark = ">" if t.current else "*" if t.on_path else ""
            table.add_row(mark, str(t.seq), str(t.parent or "-"), t.status, str(t.outputs),
                          escape(t.instruction))  # fmt: skip
        self.console.print(table if turns else "no turns yet")
        for name, asset in self.session.assets().items():
            self.say(f"[{name}] {asset.modality}: {asset.path}")

    def _show_turn(self, seq: int) -> None:
        turn = self.session.show(seq)
        self.say(f"turn {seq} ({turn.summary.status}): {turn.summary.instruction}", "bold")
        self.say(plan_tokens(turn), "dim")
        if turn.error:
            self.say(turn.error, "red")
        for render in turn.renders:
            self.say(str(render.path))

    def _moved(self, label: str, seq: int | None) -> None:
        self.say(f"{label}: now at turn {seq}" if seq else f"{label}: now at the start")


def run_chat(studio: Studio, session: Session, input_fn: InputFn, console: Console) -> None:
    """Read lines from ``input_fn`` until ``/quit`` or end of input (EOFError). Ctrl-C at the
    prompt only clears the line."""
    chat = Chat(studio, session, console)
    name = session.info().name
    chat.say(f"session {name} ({session.id[:12]}); /help lists the commands", "bold")
    while True:
        try:
            line = input_fn(PROMPT)
        except EOFError:
            break
        except KeyboardInterrupt:
            chat.say("(Ctrl-C clears the line; /quit or Ctrl-D leaves)")
            continue
        if not chat.handle(line):
            break
    chat.say("bye")
