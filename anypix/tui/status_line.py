"""One line at the top: the session, the diffusion preset and where it runs, the planner."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rich.text import Text
from textual.widgets import Static

from anypix.console import visible


@dataclass(frozen=True)
class Status:
    session: str
    turns: int
    preset: str
    device: str  # "loading…" until the preset is loaded, then e.g. cpu or cuda:0
    llm: str

    def text(self) -> Text:
        line = Text()
        for key, value in (
            ("session", f"{visible(self.session, newlines=False)} "
                        f"({self.turns} turn{'s' * (self.turns != 1)})"),
            ("model", f"{self.preset} on {self.device}"),
            ("planner", self.llm),
        ):
            line.append(f"{key} ", style="dim")
            line.append(value, style="bold")
            line.append("   ")
        return line


class StatusLine(Static):
    def __init__(self, status: Status, *, id: str | None = None) -> None:
        super().__init__(status.text(), id=id)
        self.status = status

    def change(self, **fields: str | int) -> None:
        self.status = replace(self.status, **fields)  # type: ignore[arg-type]
        self.update(self.status.text())
