"""The instruction box: completes ``[name`` to a session asset name (Tab or the right arrow)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.actions import SkipAction
from textual.binding import Binding, BindingType
from textual.suggester import Suggester
from textual.widgets import Input


def complete_name(value: str, names: Iterable[str]) -> str | None:
    """``value`` with its unclosed ``[partial`` completed to the first matching name and closed,
    or None when the text does not end inside a bracket or nothing matches."""
    start = value.rfind("[")
    if start < 0 or "]" in value[start:]:
        return None
    partial = value[start + 1 :]
    if any(c.isspace() for c in partial):  # a [description], not a name
        return None
    matches = sorted(n for n in names if n.lower().startswith(partial.lower()))
    if not matches:
        return None
    return value[: start + 1] + matches[0] + "]"


class AssetNameSuggester(Suggester):
    """Suggests session asset names after ``[``; reads the names live (they change each turn)."""

    def __init__(self, names: Callable[[], Iterable[str]]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.names = names

    async def get_suggestion(self, value: str) -> str | None:
        return complete_name(value, self.names())


class InstructionInput(Input):
    """An Input whose Tab accepts the suggested name (and moves focus on when there is none)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete [name]", show=False)
    ]

    def action_complete(self) -> None:
        before = self.value
        if self.cursor_at_end:
            self.action_cursor_right()  # accepts the suggestion when there is one
        if self.value == before:
            raise SkipAction()
