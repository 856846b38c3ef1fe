"""The running turn: what it is doing, a bar per denoising step, and Cancel (or Escape)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Label, ProgressBar

IDLE = "idle"


class RenderProgress(Horizontal):
    class CancelRequested(Message):
        """The user pressed Cancel."""

    def compose(self) -> ComposeResult:
        yield Label(IDLE, id="progress-label")
        yield ProgressBar(total=1, show_eta=False, id="progress-bar")
        yield Button("Cancel", id="cancel", variant="error", disabled=True)

    @property
    def label(self) -> str:
        return str(self.query_one("#progress-label", Label).content)

    @property
    def bar(self) -> ProgressBar:
        return self.query_one(ProgressBar)

    def _say(self, text: str) -> None:
        self.query_one("#progress-label", Label).update(text)

    def started(self) -> None:
        self._say("planning…")
        self.bar.update(total=None, progress=0)  # indeterminate until the renderer reports
        self.query_one("#cancel", Button).disabled = False

    def step(self, done: int, total: int) -> None:
        self._say(f"step {done}/{total}")
        self.bar.update(total=total, progress=done)

    def cancelling(self) -> None:
        self._say("cancelling…")
        self.query_one("#cancel", Button).disabled = True

    def finished(self, status: str) -> None:
        self._say(IDLE if status == "ok" else f"{IDLE} (last turn {status})")
        if status != "ok" or self.bar.total is None:
            self.bar.update(total=1, progress=0)
        self.query_one("#cancel", Button).disabled = True

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.CancelRequested())
