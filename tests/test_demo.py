"""The offline path end to end, as `make demo` runs it: plan, render with the miniworld model,
store, undo, report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from anypix.demo import NEEDS_SUBJECTS, SCRIPT, run_demo
from anypix.models.miniworld.data import colour_mask
from anypix.plan import EditPlan
from anypix.studio import Studio

NOT_LOCAL = ("generate with a blob layout", "restyle with a reference")


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _touched(plan: EditPlan) -> np.ndarray:
    """Pixels of the 2x2 latent cells any blob touches (what a local edit may change)."""
    inside = np.zeros((64, 64), dtype=bool)
    for blob in plan.blobs:
        inside |= blob.mask(64, 64)
    return inside.reshape(32, 2, 32, 2).any(axis=(1, 3)).repeat(2, 0).repeat(2, 1)


def test_demo_with_the_miniworld_model(tmp_path: Path) -> None:
    turns = run_demo(tmp_path)  # the default preset: miniworld, shipped in the repo

    assert [t.status for t in turns] == ["ok"] * len(SCRIPT)
    plans = [EditPlan.from_tokens(t.tokens) for t in turns]
    # 1. generation follows its layout: red inside the left blob, blue inside the right one
    generated = _pixels(turns[0].outputs[0])
    for blob, colour in zip(plans[0].blobs, ("red", "blue"), strict=True):
        assert colour_mask(generated, colour)[blob.mask(64, 64)].mean() > 0.3, colour
    # local edits (a blob on a [base]) leave every pixel outside the blob as it was
    scene = _pixels(tmp_path / "inputs" / "scene.png")
    local = [(t, p) for t, p in zip(turns, plans, strict=True) if p.base and p.blobs]
    # the reference, the described object, the recolour (its blob located) and the sound
    assert [t.title for t, _ in local] == [t for t, _ in SCRIPT if t not in NOT_LOCAL]
    for turn, plan in local:
        edited, outside = _pixels(turn.outputs[0]), ~_touched(plan)
        assert np.array_equal(edited[outside], scene[outside]), turn.title
        assert not np.array_equal(edited, scene), turn.title
    by_title = {t.title: (t, p) for t, p in local}
    # "make the ring in [scene] green": the located blob holds the ring, which turns green
    ring = colour_mask(scene, "purple")
    turn, plan = by_title["recolour"]
    (blob,) = plan.blobs
    assert blob.description == "a green ring" and blob.mask(64, 64)[ring].mean() > 0.9
    recoloured = _pixels(turn.outputs[0])
    assert colour_mask(recoloured, "green")[ring].mean() > 0.5
    assert colour_mask(recoloured, "purple")[ring].mean() < 0.1
    # subjects become what they are: [ref] is a purple triangle, [tone]'s pitch means cyan
    for title, colour in (
        ("add an object from a reference", "purple"),
        ("an audio-driven edit", "cyan"),
    ):
        turn, plan = by_title[title]
        inside = plan.blobs[0].mask(64, 64)
        assert colour_mask(_pixels(turn.outputs[0]), colour)[inside].mean() > 0.4, title

    with Studio(tmp_path / "data") as studio:
        session = studio.session("demo", create=False)
        assert len(session.history()) == len(SCRIPT)  # undo keeps every turn; it moves the cursor
        assert session.undo() == len(SCRIPT) - 2  # the demo's undo already stepped back once
    report = (tmp_path / "report.html").read_text()
    assert all(t.instruction in report for t in turns)
    assert all(p.name in report for t in turns for p in t.outputs)


def test_demo_runs_on_tiny_random_without_subject_turns(tmp_path: Path) -> None:
    turns = run_demo(tmp_path, model="tiny-random")

    assert [t.title for t in turns] == [title for title, _ in SCRIPT if title not in NEEDS_SUBJECTS]
    assert all(t.status == "ok" for t in turns)
    assert "tiny-random" in (tmp_path / "report.html").read_text()
