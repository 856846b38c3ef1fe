"""The conversation: one entry per turn (instruction, live status, the error and how to fix it)
and short notes for commands (attach, undo, redo, branch)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from anypix.errors import AnypixError, UnknownAssetError

if TYPE_CHECKING:
    from anypix.memory.history import TurnDetail

log = logging.getLogger(__name__)
STATUS_MARK = {"ok": "✓", "failed": "✗", "cancelled": "⊘", "running": "…"}


def describe_error(error: BaseException) -> tuple[str, str | None]:
    """(message, hint) for an error: the user's to fix, or a bug in anypix."""
    if isinstance(error, UnknownAssetError):  # its hint names the CLI's --asset flag
        return error.message, f"attach it with /attach {error.name}=PATH (or ctrl+o)"
    if isinstance(error, AnypixError):
        return error.message, error.hint
    log.error("a turn raised an unexpected error", exc_info=error)
    return f"{type(error).__name__}: {error}", "this is a bug in anypix; the log has the traceback"


class TurnMessage(Static):
    """One turn: the instruction and a status line that changes as the turn runs."""

    def __init__(self, instruction: str) -> None:
        super().__init__(classes="turn running")
        self.instruction = instruction
        self.status = "running"
        self.set_line("planning…")

    @property
    def text(self) -> Text:
        return self._text

    def set_line(self, line: str, hint: str | None = None) -> None:
        text = Text()
        text.append("› ", style="bold")
        text.append(self.instruction, style="bold")
        text.append(f"\n  {STATUS_MARK[self.status]} {line}")
        if hint:
            text.append(f"\n    hint: {hint}", style="italic")
        self._text = text
        self.update(text)

    def progress(self, done: int, total: int) -> None:
        self.set_line(f"rendering: step {done} of {total}")

    def finish(self, detail: TurnDetail | None, error: Exception | None, status: str) -> None:
        self.status = status
        self.remove_class("running")
        self.add_class(status)
        seq = f"turn {detail.summary.seq}" if detail else "not stored"
        if error is None and detail is not None:
            images = len(detail.renders)
            self.set_line(f"{seq} · {images} image{'s' * (images != 1)} · now the current image")
        elif status == "cancelled":
            self.set_line(
                f"cancelled: {error} · {seq}, kept as cancelled",
                "nothing else changed: the current image is still the one before this turn",
            )
        else:
            message, hint = describe_error(error) if error else ("no result came back", None)
            self.set_line(f"failed: {message} · {seq}", hint)


class MessageList(VerticalScroll):
    """The conversation, newest at the bottom."""

    def add_turn(self, instruction: str) -> TurnMessage:
        entry = TurnMessage(instruction)
        self.mount(entry)
        self.scroll_end(animate=False)
        return entry

    def add_note(self, text: str, *, hint: str | None = None, kind: str = "note") -> Static:
        """A line that is not a turn: ``kind`` note, or error (shown with its hint)."""
        content = Text(text, style="bold red" if kind == "error" else "dim")
        if hint:
            content.append(f"\n  hint: {hint}", style="italic")
        entry = Static(content, classes=kind)
        self.mount(entry)
        self.scroll_end(animate=False)
        return entry

    def add_error(self, error: BaseException) -> Static:
        message, hint = describe_error(error)
        return self.add_note(message, hint=hint, kind="error")
