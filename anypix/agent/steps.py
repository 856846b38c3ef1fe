"""The text memory keeps of each step's result (the record itself is
:class:`anypix.records.StepRecord`, shared by the executor and memory)."""

from __future__ import annotations

from typing import Any

from anypix.records import Render, StepRecord

__all__ = ["StepRecord", "summarise"]


def summarise(tool: str, value: Any) -> str:
    """The text memory keeps of a step's result."""
    if tool == "plan":  # a PlanResult
        return f"{value.plan.tokens()}\n# planned by: {value.source}"
    if tool == "check":
        return "ok"
    if tool == "locate":
        blobs = [line for line in str(value.tokens()).splitlines() if line.startswith("[blob]")]
        return "\n".join(blobs) or "nothing to locate"
    if not isinstance(value, Render):  # a test's stand-in renderer
        return str(value)
    sizes = ", ".join(f"{image.width}x{image.height}" for image in value.images)
    return f"{len(value.images)} image(s) {sizes}, seed {value.provenance.seed}"
