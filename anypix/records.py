"""Records shared by the renderer, the executor, memory and the front ends.

What is persisted is what the UI shows and what replay consumes: one record, no parallel copies.
They live at the bottom of the layers (beside the plan) so that memory, the agent and the tools
can all use them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from PIL import Image


class Provenance(BaseModel):
    """Everything needed to reproduce a render bit for bit on the same device."""

    model_config = ConfigDict(extra="forbid")

    preset: str
    weight_hash: str = Field(description="sha256 over the model's weights (see models.diffusion)")
    seed: int
    scheduler: str
    steps: int
    guidance: float
    alpha: float
    size: tuple[int, int]
    device: str
    dtype: str
    plan_tokens: str = Field(description="EditPlan.tokens() of the plan that was rendered")
    knobs: dict[str, Any] = Field(default_factory=dict, description="every other knob used")
    inputs: dict[str, str] = Field(
        default_factory=dict, description="asset name -> sha256 of each input the render read"
    )
    anypix_version: str = ""


@dataclass
class Render:
    """The output of one render: the image(s) and how they were made."""

    images: list[Image.Image]
    provenance: Provenance
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class StepRecord:
    """One tool call of a turn: which tool ran, with what, what it gave back and how long it
    took. ``error`` is set when the call failed (model-caused errors are fed back to the planner).

    The executor fills ``value`` with what the tool returned (a PlanResult, a Render) for its
    caller; memory stores the other fields, ``result`` being a short text summary of ``value``."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    result: str = ""
    seconds: float = 0.0
    error: str | None = None
    index: int = 0  # 1-based position in the turn's loop (0: not from a loop)
    # The tool's return value; not stored and not compared (a stored record has none).
    value: Any = field(default=None, compare=False, repr=False)
