"""Replay: re-run a stored turn from its plan and provenance and compare the pixels.

The plan is rebuilt from the turn's stored plan with every sampling knob pinned to what the render
actually used (a plan may say ``seed=None``; its provenance holds the seed that was drawn), and the
renderer reads the very asset files the render read (``provenance.inputs``). On the same device
and weights the pixels must come out identical; a weight hash or preset that changed is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from anypix.memory.assets import AssetStore
from anypix.memory.history import HistoryError, show_turn

Renderer = Callable[..., Any]  # render(plan, assets, *, progress=None, cancel=None) -> Render
_PINNED = (
    "preset",
    "weight_hash",
    "seed",
    "scheduler",
    "steps",
    "guidance",
    "alpha",
    "size",
    "device",
    "dtype",
)


@dataclass(frozen=True)
class ImageComparison:
    position: int
    identical: bool
    max_abs_diff: int
    differing_pixels: int


@dataclass(frozen=True)
class ReplayResult:
    seq: int
    images: list[ImageComparison]
    provenance_changes: dict[str, tuple[Any, Any]]  # field -> (stored, replayed)
    render: Any  # the replayed records.Render

    @property
    def identical(self) -> bool:
        return bool(self.images) and all(image.identical for image in self.images)


def replay_plan(plan: Mapping[str, Any], provenance: Mapping[str, Any]) -> Any:
    """The stored plan with its knobs pinned to the values the render used."""
    from anypix.plan import EditPlan

    stored = EditPlan.model_validate(dict(plan))
    size = provenance.get("size")
    pinned = {
        "seed": provenance["seed"],
        "steps": provenance["steps"],
        "guidance": provenance["guidance"],
        "alpha": provenance["alpha"],
        "size": tuple(size) if size else stored.knobs.size,
    }
    knobs = stored.knobs.model_validate({**stored.knobs.model_dump(), **pinned})
    return stored.model_copy(update={"knobs": knobs})


def compare_images(stored: Any, replayed: Any, position: int) -> ImageComparison:
    import numpy as np

    expected = np.asarray(stored)
    actual = np.asarray(replayed.convert(stored.mode))
    if expected.shape != actual.shape:
        return ImageComparison(position, False, 255, max(expected.size, actual.size))
    diff = np.abs(expected.astype(np.int16) - actual.astype(np.int16))
    differing = int(np.count_nonzero(diff.reshape(diff.shape[0], diff.shape[1], -1).max(axis=-1)))
    return ImageComparison(position, differing == 0, int(diff.max(initial=0)), differing)


def replay_turn(
    engine: Engine, store: AssetStore, session_id: str, seq: int, renderer: Renderer
) -> ReplayResult:
    """Re-run turn ``seq`` and compare every output image with the stored one, pixel by pixel."""
    from PIL import Image

    detail = show_turn(engine, store, session_id, seq)
    if not detail.renders or detail.plan is None:
        raise HistoryError(f"turn {seq} has no render to replay ({detail.summary.status})")
    provenance = detail.renders[0].provenance
    plan = replay_plan(detail.plan, provenance)
    inputs: Mapping[str, str] = provenance.get("inputs") or detail.attachments
    assets = {name: _asset_path(store, sha) for name, sha in inputs.items()}
    render = renderer(plan, assets)
    replayed = render.provenance.model_dump(mode="json")
    changes = {
        key: (provenance.get(key), replayed.get(key))
        for key in _PINNED
        if _canonical(provenance.get(key)) != _canonical(replayed.get(key))
    }
    images = []
    for info in detail.renders:
        if info.position >= len(render.images):
            images.append(ImageComparison(info.position, False, 255, -1))
            continue
        with Image.open(info.path) as stored:
            images.append(compare_images(stored, render.images[info.position], info.position))
    return ReplayResult(seq, images, changes, render)


def _canonical(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _asset_path(store: AssetStore, sha256: str) -> Path:
    for fmt in ("png", "wav", "flac", "ogg", "mp3"):
        candidate = store.path(sha256, fmt)
        if candidate.exists():
            return candidate
    raise HistoryError(f"the asset {sha256[:12]} this render read is missing from the store")
