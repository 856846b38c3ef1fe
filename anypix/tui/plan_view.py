"""The plan of a turn: its token form (``EditPlan.tokens()``) and its blobs and boxes drawn over
the turn's image (the result, else the base, else a grey canvas of the plan's size)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from anypix.console import visible
from anypix.tui.overlay import draw_plan, legend
from anypix.tui.preview import ImageKind, image_widget_class

if TYPE_CHECKING:
    from PIL import Image

    from anypix.plan import EditPlan

NO_PLAN = "no plan yet: write an instruction below, e.g. add [dog] to [photo]"


class PlanView(Horizontal):
    def __init__(self, image_kind: ImageKind = "auto", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image_kind = image_kind
        self.plan: EditPlan | None = None

    def compose(self) -> ComposeResult:
        yield image_widget_class(self.image_kind)(None, id="plan-overlay")
        with VerticalScroll(id="plan-text"):
            yield Static(NO_PLAN, id="plan-tokens", markup=False)
            yield Static("", id="plan-legend")

    def show(self, plan: EditPlan | None, canvas: Image.Image | None, title: str) -> None:
        """Show ``plan`` (None: the turn has no plan) over ``canvas``."""
        self.plan = plan
        self.border_title = title
        tokens = self.query_one("#plan-tokens", Static)
        shapes = self.query_one("#plan-legend", Static)
        overlay = self.query_one("#plan-overlay")
        if plan is None:
            tokens.update(Text("this turn has no plan (it failed while planning)"))
            shapes.update("")
            overlay.image = None  # type: ignore[attr-defined]
            return
        tokens.update(Text(visible(plan.tokens())))
        key = Text()
        for kind, description, (r, g, b) in legend(plan):
            key.append("━━ ", style=f"bold rgb({r},{g},{b})")
            key.append(f"{kind}: {visible(description, newlines=False)}\n")
        shapes.update(key if key else Text("no blobs or boxes in this plan", style="dim"))
        overlay.image = draw_plan(canvas, plan)  # type: ignore[attr-defined]

    def tokens_text(self) -> str:
        """The token lines on screen (empty when no plan is shown)."""
        return self.plan.tokens() if self.plan is not None else ""
