"""The conversation: one entry per turn (instruction, live status, what verification found, the
error and how to fix it, or the planner's question) and short notes for commands. A reopened
session shows its stored turns first. Text from outside (instructions, errors) is shown with its
control characters as escapes."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from anypix.commands import conversation_error
from anypix.console import verification_lines, visible
from anypix.errors import AnypixError

if TYPE_CHECKING:
    from anypix.commands import PendingQuestion
    from anypix.memory.history import TurnDetail

log = logging.getLogger(__name__)
STATUS_MARK = {"ok": "✓", "failed": "✗", "cancelled": "⊘", "running": "…", "question": "?"}


def describe_error(error: BaseException) -> tuple[str, str | None]:
    """(message, hint) for an error: the user's to fix, or a bug in anypix."""
    if isinstance(error, AnypixError):
        message, hint = conversation_error(error)
        return visible(message, newlines=False), hint
    log.error("a turn raised an unexpected error", exc_info=error)
    return (
        visible(f"{type(error).__name__}: {error}", newlines=False),
        "this is a bug in anypix; the log has the traceback",
    )


class TurnMessage(Static):
    """One turn: the instruction and a status line that changes as the turn runs."""

    def __init__(self, instruction: str, status: str = "running") -> None:
        super().__init__(classes=f"turn {status}")
        self.instruction = visible(instruction, newlines=False)
        self.status = status
        self.set_line("planning…")

    @property
    def text(self) -> Text:
        return self._text

    def set_line(self, line: str, hint: str | None = None, details: list[str] | None = None) -> None:
        text = Text()
        text.append("› ", style="bold")
        text.append(self.instruction, style="bold")
        text.append(f"\n  {STATUS_MARK[self.status]} {line}")
        for detail in details or []:
            text.append(f"\n    {detail}")
        if hint:
            text.append(f"\n    hint: {hint}", style="italic")
        self._text = text
        self.update(text)

    def planned(self, *, located: bool) -> None:
        self.set_line("located the objects · rendering…" if located else "planned · rendering…")

    def progress(self, done: int, total: int) -> None:
        self.set_line(f"rendering: step {done} of {total}")

    def finish(
        self, detail: TurnDetail | None, error: BaseException | None, status: str,
        question: PendingQuestion | None = None,
    ) -> None:  # fmt: skip
        self.status = status
        self.remove_class("running")
        self.add_class(status)
        checks = verification_lines(detail) if detail is not None else []
        seq = f"turn {detail.summary.seq}" if detail else "nothing was stored"
        if error is None and detail is not None:
            images = len(detail.renders)
            self.set_line(f"{seq} · {images} image{'s' * (images != 1)} · now the current image",
                          details=checks)  # fmt: skip
        elif status == "question" and question is not None:
            prompt = visible(question.prompt()).splitlines()
            self.set_line(prompt[0], details=prompt[1:])
        elif status == "cancelled":
            self.set_line(
                f"cancelled: {visible(str(error), newlines=False)} · {seq}, kept as cancelled",
                "nothing else changed: the current image is still the one before this turn",
            )
        elif detail is None:  # refused before it ran: an unknown name, a bad attachment
            message, hint = describe_error(error) if error else ("no result came back", None)
            self.set_line(f"not run: {message} · nothing was stored", hint)
        else:
            message, hint = describe_error(error) if error else ("no result came back", None)
            self.set_line(f"failed: {message} · {seq}", hint, details=checks)

    @classmethod
    def stored(cls, detail: TurnDetail) -> TurnMessage:
        """A finished turn as the history keeps it (when a session is reopened)."""
        summary = detail.summary
        entry = cls(summary.instruction, status=summary.status)
        seq = f"turn {summary.seq}"
        if summary.status == "ok":
            images = len(detail.renders)
            entry.set_line(f"{seq} · {images} image{'s' * (images != 1)}",
                           details=verification_lines(detail))  # fmt: skip
        else:
            error = visible(detail.error or summary.status, newlines=False)
            entry.set_line(f"{summary.status}: {error} · {seq}", details=verification_lines(detail))
        return entry


class MessageList(VerticalScroll):
    """The conversation, newest at the bottom."""

    def add_turn(self, instruction: str) -> TurnMessage:
        entry = TurnMessage(instruction)
        self.mount(entry)
        self.scroll_end(animate=False)
        return entry

    def add_stored(self, turns: list[TurnDetail], earlier: int = 0) -> None:
        """The session's stored turns, oldest first; ``earlier`` more are not shown."""
        if earlier:
            self.add_note(f"{earlier} earlier turn(s) are in the history pane")
        if turns:
            self.mount_all([TurnMessage.stored(turn) for turn in turns])
            self.scroll_end(animate=False)

    def add_note(self, text: str, *, hint: str | None = None, kind: str = "note") -> Static:
        """A line that is not a turn: ``kind`` note, or error (shown with its hint)."""
        content = Text(visible(text), style="bold red" if kind == "error" else "dim")
        if hint:
            content.append(f"\n  hint: {visible(hint)}", style="italic")
        entry = Static(content, classes=kind)
        self.mount(entry)
        self.scroll_end(animate=False)
        return entry

    def add_error(self, error: BaseException) -> Static:
        message, hint = describe_error(error)
        return self.add_note(message, hint=hint, kind="error")
