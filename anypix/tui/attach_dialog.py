"""A small dialog to attach a file under a name (ctrl+o); ``/attach NAME=PATH`` does the same.

Focus starts in the path field; Tab (or Enter) goes on to the name, then the buttons; Enter in
the name field attaches."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label


class AttachDialog(ModalScreen[tuple[str, str] | None]):
    """Dismissed with ``(name, path)``, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Close", show=False)]

    def compose(self) -> ComposeResult:
        with Vertical(id="attach-box"):
            yield Label("Attach a file; refer to it as [name] in instructions", markup=False)
            yield Input(placeholder="path, e.g. ~/Pictures/dog.png", id="attach-path")
            yield Input(placeholder="name (default: the file's stem), e.g. dog", id="attach-name")
            with Horizontal(id="attach-buttons"):
                yield Button("Attach", id="attach-ok", variant="primary")
                yield Button("Cancel", id="attach-cancel")

    def on_mount(self) -> None:
        self.query_one("#attach-path", Input).focus()

    @on(Input.Submitted, "#attach-path")
    def _path_entered(self) -> None:
        """Enter after the path goes on to the name, as Tab does (Enter there attaches)."""
        self.query_one("#attach-name", Input).focus()

    @on(Input.Submitted, "#attach-name")
    @on(Button.Pressed, "#attach-ok")
    def _submit(self) -> None:
        path = self.query_one("#attach-path", Input).value.strip()
        name = self.query_one("#attach-name", Input).value.strip()
        if not path:
            self.query_one("#attach-path", Input).focus()
            return
        self.dismiss((name, path))

    @on(Button.Pressed, "#attach-cancel")
    def action_dismiss_none(self) -> None:
        self.dismiss(None)
