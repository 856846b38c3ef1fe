"""The one record of a tool call, shared by the executor (live) and memory (stored).

The executor fills ``value`` with what the tool returned (a PlanResult, a Render) for its caller;
memory stores the other fields, ``result`` being a short text summary of ``value``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StepRecord:
    """One tool call of a turn: which tool ran, with what, what it gave back and how long it
    took. ``error`` is set when the call failed (model-caused errors are fed back to the planner)."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    result: str = ""
    seconds: float = 0.0
    error: str | None = None
    index: int = 0  # 1-based position in the turn's loop (0: not from a loop)
    # The tool's return value; not stored and not compared (a stored record has none).
    value: Any = field(default=None, compare=False, repr=False)


def summarise(tool: str, value: Any) -> str:
    """The text memory keeps of a step's result."""
    if tool == "plan":
        plan = getattr(value, "plan", value)
        source = getattr(value, "source", None)
        return str(plan.tokens()) + (f"\n# planned by: {source}" if source else "")
    if tool == "check":
        return "ok"
    if tool == "locate":
        blobs = [line for line in str(value.tokens()).splitlines() if line.startswith("[blob]")]
        return "\n".join(blobs) or "nothing to locate"
    images = getattr(value, "images", None)
    if images is None:
        return str(value)
    provenance = getattr(value, "provenance", None)
    sizes = ", ".join(f"{image.width}x{image.height}" for image in images)
    seed = f", seed {provenance.seed}" if provenance is not None else ""
    return f"{len(images)} image(s) {sizes}{seed}"
