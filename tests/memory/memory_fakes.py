"""Fakes for the memory tests: a scripted planner and a trivial, deterministic renderer.

Kept in a plain module so the subprocess workers (SIGKILL, two writers) can import them too."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from anypix.errors import CancelledError
from anypix.plan import EditPlan, Knobs, Op
from anypix.records import Provenance, Render

if TYPE_CHECKING:
    from anypix.studio import Studio


def fake_planner(instruction: str, modalities: dict[str, str]) -> EditPlan:
    """Edits the current image ([last]) when there is one; bracketed image names become [sub]s."""
    subs = [
        n
        for n in re.findall(r"\[([^\]]+)\]", instruction)
        if modalities.get(n) == "image" and n != "last"
    ]
    if "last" in modalities and not instruction.startswith("new "):
        return EditPlan(base="last", subs=subs, gen=instruction, ops=[Op(op="variation")])
    return EditPlan(subs=subs, gen=instruction, ops=[Op(op="generate")], knobs=Knobs(seed=7))


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def flat_renderer(
    plan: EditPlan,
    assets: Mapping[str, Any],
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Render:
    """An 8x8 image whose colour is a hash of the plan: different plans, different pixels."""
    if cancel is not None and cancel():
        raise CancelledError("render cancelled before the first step")
    digest = hashlib.sha256(plan.tokens().encode()).digest()
    image = Image.new("RGB", (8, 8), tuple(digest[:3]))
    if progress is not None:
        progress(1, 1)
    provenance = Provenance(
        preset="flat",
        weight_hash="0" * 64,
        seed=plan.knobs.seed or 0,
        scheduler="none",
        steps=1,
        guidance=0.0,
        alpha=plan.knobs.alpha,
        size=(8, 8),
        device="cpu",
        dtype="uint8",
        plan_tokens=plan.tokens(),
        inputs={name: _sha256(path) for name, path in assets.items()},
    )
    return Render(images=[image], provenance=provenance, timings={"total": 0.0})


class SwitchableRenderer:
    """``flat_renderer`` until a test sets ``failure`` (a crash half-way through a session) or
    ``inner`` (another renderer); remembers the files each render was given."""

    def __init__(self) -> None:
        self.failure: BaseException | None = None
        self.inner: Callable[..., Render] = flat_renderer
        self.seen: list[dict[str, Any]] = []

    def __call__(self, plan: EditPlan, assets: Mapping[str, Any], **callbacks: Any) -> Render:
        self.seen.append(dict(assets))
        if self.failure is not None:
            raise self.failure
        return self.inner(plan, assets, **callbacks)


def image_file(path: Path, colour: tuple[int, ...] = (200, 30, 30), size: tuple[int, int] = (16, 12),
               mode: str = "RGB", fmt: str | None = None) -> Path:  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path, format=fmt)
    return path


def sine(seconds: float, rate: int = 8000) -> np.ndarray:
    """A 440 Hz tone, float32 mono."""
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def stored_files(studio: Studio) -> dict[str, Path]:
    return studio.store.files()


def asset_rows(studio: Studio) -> set[str]:
    with studio.engine.connect() as conn:
        return {row[0] for row in conn.exec_driver_sql("SELECT sha256 FROM assets")}


def assert_no_orphans(studio: Studio) -> None:
    """Every stored file has a row and every row a file; no temp files are left."""
    assert set(stored_files(studio)) == asset_rows(studio)
    assert not list(studio.store.root.glob("??/.tmp-*"))
