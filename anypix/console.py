"""What the CLI, chat, the TUI and script runs show a person, written once.

* Text that came from outside (instructions, session names, file names, error messages) goes
  through :func:`visible` before it reaches a terminal: control characters and bidi overrides are
  shown as escapes (``\\x1b``), never sent raw. :func:`markup_safe` also escapes Rich markup, so
  ``[dog]`` stays ``[dog]`` in tables and help.
* Errors: :func:`error_line` is the one line (message and hint) an :class:`AnypixError` prints
  as; :func:`exit_code` is the code a command exits with (the error class's own).
* Plans and turns: :func:`print_plan`, :func:`print_turn`, :func:`history_table`,
  :func:`sessions_table`.
* Renders: :func:`render_progress` is a progress bar on a terminal and plain lines otherwise;
  :func:`cancel_on_interrupt` turns the first Ctrl-C into a polite cancel.

Nothing here imports the core's heavy parts; Rich is imported where it is used.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from anypix.errors import AnypixError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from anypix.memory.history import TurnDetail, TurnSummary
    from anypix.memory.sessions import SessionInfo
    from anypix.plan import EditPlan
    from anypix.records import StepRecord

# C0 controls except tab and newline, DEL, C1 controls, the bidi controls that reorder text
# (marks, embeddings, overrides, isolates), and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, newlines: bool = True) -> str:
    """``text`` with every control character shown as an escape; ``newlines=False`` escapes
    newlines and tabs too (for text that must stay on one line)."""
    shown = _CONTROL.sub(_escape_char, text)
    return shown if newlines else shown.replace("\n", "\\n").replace("\t", "\\t")


def json_text(value: object) -> str:
    """``value`` as indented JSON, safe on a terminal: other scripts' text stays readable, but
    control and bidi characters are written as ``\\u`` escapes (JSON reads them back as the
    same text)."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _CONTROL.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def markup_safe(text: str, *, newlines: bool = True) -> str:
    """:func:`visible` text that Rich prints as written (``[dog]`` is not a markup tag)."""
    from rich.markup import escape

    return escape(visible(text, newlines=newlines))


# -- errors ------------------------------------------------------------------------------------------


def error_line(exc: AnypixError) -> str:
    """The one line an error prints as: ``error: what was wrong (how to fix it)``."""
    return "error: " + visible(str(exc), newlines=False)


def exit_code(exc: BaseException) -> int:
    """The exit code for an error that ends a command: the error class's own; 130 for Ctrl-C."""
    if isinstance(exc, AnypixError):
        return exc.exit_code
    return 130 if isinstance(exc, KeyboardInterrupt) else 1


def report_error(exc: AnypixError, stream: TextIO) -> int:
    """Write :func:`error_line` to ``stream``; returns :func:`exit_code`."""
    stream.write(error_line(exc) + "\n")
    stream.flush()
    return exit_code(exc)


# -- plans and turns ---------------------------------------------------------------------------------


def print_plan(console: Console, plan: EditPlan, *, located: bool = False) -> None:
    """A plan in its token form (what ``anypix plan`` prints and ``run`` files accept)."""
    heading = "located:" if located else "plan:"
    console.print(heading, style="bold", highlight=False, markup=False)
    # soft_wrap: a [blob] line stays one line (it is copied into run files), whatever the width
    console.print(visible(plan.tokens()), style="dim", highlight=False, markup=False,
                  soft_wrap=True)  # fmt: skip


def print_notice(console: Console, step: StepRecord) -> None:
    """A turn's ``scope`` step, as soon as it exists: what the model cannot draw of the request
    and how to use a real preset (one line, in yellow)."""
    if step.tool == "scope":
        console.print(visible(f"note: {step.result}", newlines=False), style="yellow",
                      highlight=False, markup=False, soft_wrap=True)  # fmt: skip


def verification_line(step: StepRecord) -> str | None:
    """What one verify step found, as one line; None for any other step."""
    if step.tool != "verify":
        return None
    return visible(f"verify: {step.error or step.result}", newlines=False)


def verification_lines(turn: TurnDetail) -> list[str]:
    """What the turn's verify steps found, one line each (empty when nothing was verified)."""
    return [line for step in turn.steps if (line := verification_line(step)) is not None]


def print_turn(console: Console, turn: TurnDetail, outputs: Sequence[object] = ()) -> None:
    """A finished turn: its status, the verification and the output files (``outputs``, or
    the stored ones)."""
    summary = turn.summary
    style = "green" if summary.status == "ok" else "red"
    renders = len(turn.renders)
    console.print(f"turn {summary.seq} {summary.status}: {renders} image(s)", style=style,
                  highlight=False, markup=False)  # fmt: skip
    for line in verification_lines(turn):
        console.print(line, highlight=False, markup=False)
    if turn.error:
        console.print(visible(turn.error, newlines=False), style="red", highlight=False,
                      markup=False)  # fmt: skip
    for path in outputs or [render.path for render in turn.renders]:
        console.print(visible(str(path)), highlight=False, markup=False)


def when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def history_table(turns: Sequence[TurnSummary], title: str | None = None) -> Table:
    """A session's turns: '>' marks the current one, '*' the way to it."""
    from rich.table import Table

    table = Table("", "turn", "from", "status", "images", "instruction",
                  title=markup_safe(title) if title else None)  # fmt: skip
    for t in turns:
        mark = ">" if t.current else "*" if t.on_path else ""
        table.add_row(mark, str(t.seq), str(t.parent or "-"), t.status, str(t.outputs),
                      markup_safe(t.instruction, newlines=False))  # fmt: skip
    return table


def sessions_table(sessions: Sequence[SessionInfo]) -> Table:
    from rich.table import Table

    table = Table("id", "name", "turns", "at turn", "last used")
    for s in sessions:
        table.add_row(s.id[:12], markup_safe(s.name, newlines=False), str(s.turns),
                      str(s.cursor or "-"), when(s.updated_at))  # fmt: skip
    return table


# -- renders -----------------------------------------------------------------------------------------


@dataclass
class StepCounter:
    """What a render reported through its progress callback (``done`` of ``total`` steps)."""

    done: int = 0
    total: int = 0


Progress = Callable[[int, int], None]


@contextmanager
def render_progress(console: Console, label: str) -> Iterator[tuple[Progress, StepCounter]]:
    """Follow a render's steps: a transient progress bar when ``console`` is a terminal, else
    a plain line at every tenth of the way (logs and pipes stay readable). Yields the
    ``progress(done, total)`` callback for the renderer and a counter of what it reported."""
    counter = StepCounter()
    if console.quiet:
        yield (lambda done, total: None), counter
        return
    if not console.is_terminal:
        shown: set[int] = set()

        def plain(done: int, total: int) -> None:
            counter.done, counter.total = done, total
            tenth = done * 10 // total if total else 0
            if tenth not in shown:  # a new render (a variation) starts again from 0
                shown.add(tenth)
                console.print(f"{label}: step {done}/{total}", highlight=False, markup=False)
            if done >= total:
                shown.clear()

        yield plain, counter
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Bar(*columns, console=console, transient=True) as bar:
        task = bar.add_task(markup_safe(label), total=None)

        def tick(done: int, total: int) -> None:
            counter.done, counter.total = done, total
            bar.update(task, completed=done, total=total)

        yield tick, counter


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
