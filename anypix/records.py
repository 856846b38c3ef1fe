"""Records shared by the renderer, the executor, memory and the front ends.

What is persisted is what the UI shows and what replay consumes: one record, no parallel copies.
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
