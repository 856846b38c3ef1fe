"""Honest scope: the miniworld says at once what it cannot draw (words it never learnt, images
unlike its world), the turn records it before rendering, and edits keep the input's aspect."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from anypix.models.miniworld.data import random_scene, render
from anypix.models.miniworld.scope import out_of_scope, outside_world, unknown_words
from anypix.tools.scope import fit_aspect, scope_notice


def photo_like(width: int = 640, height: int = 480) -> Image.Image:
    """Continuous tones in every hue, as a photo has (no miniworld colour or palette blend)."""
    ys, xs = np.mgrid[0:height, 0:width]
    pixels = np.stack([xs * 255 // width, ys * 255 // height, (xs + 2 * ys) % 256], -1)
    return Image.fromarray(pixels.astype("uint8"))


def world(seed: int, side: int = 64) -> Image.Image:
    image = Image.fromarray(render(random_scene(seed), 64)[0])
    return image if side == 64 else image.resize((side, side), Image.Resampling.BILINEAR)


def test_words_the_model_never_learnt_are_named_and_instruction_words_are_not() -> None:
    assert unknown_words("add a cat to [photo] and a dog next to it") == ["cat", "dog"]
    assert unknown_words("put a big red ball on the left of [scene], then paint everything "
                         "like [stripes]") == []  # fmt: skip
    assert unknown_words("remove the small blue rings from [my_photo]") == []  # plural, a name
    assert unknown_words("Add CATS and cats") == ["cats"]  # once each
    assert unknown_words("two shapes: a cyan ring and an orange box") == []  # the list announced


@pytest.mark.parametrize("seed", range(0, 40, 3))
def test_miniworld_pictures_are_inside_even_resized(seed: int) -> None:
    assert outside_world(world(seed)) is None
    assert outside_world(world(seed, 256)) is None  # a bilinear upscale blends only edges


def test_a_photo_or_a_non_square_picture_is_outside() -> None:
    assert outside_world(photo_like()) == "looks like a photo"
    wide = Image.fromarray(np.concatenate([np.asarray(world(1))] * 2, axis=1))
    assert outside_world(wide) == "is 128x64, not square"


def test_one_line_says_what_the_model_draws_and_how_to_use_a_real_preset(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo_like().save(photo)
    line = out_of_scope("add a cat to [photo]", {"photo": photo})
    assert line is not None and "\n" not in line
    assert "'cat'" in line and "[photo] looks like a photo" in line
    assert "rings, ellipses, rectangles and triangles" in line and "--model sd15" in line
    scene = tmp_path / "scene.png"
    world(3).save(scene)
    assert out_of_scope("add a red ring to [scene]", {"scene": scene}) is None


def test_the_check_is_the_model_familys_capability() -> None:
    assert scope_notice("miniworld", "draw a cat", {}) is not None
    assert scope_notice("tiny-random", "draw a cat", {}) is None  # it has no scope to state
    assert scope_notice("not-a-preset", "draw a cat", {}) is None


def test_an_edit_keeps_the_aspect_ratio_at_the_models_area() -> None:
    assert fit_aspect((640, 480), (64, 64), 8) == (72, 56)
    assert fit_aspect((480, 640), (64, 64), 8) == (56, 72)
    assert fit_aspect((64, 64), (64, 64), 8) == (64, 64)
    assert fit_aspect((2000, 100), (64, 64), 8) == (288, 16)  # extreme: still its shape
    with pytest.raises(ValueError, match="no aspect ratio"):
        fit_aspect((0, 10), (64, 64), 8)


def test_a_render_of_a_wide_base_comes_back_wide() -> None:
    from anypix.config import Settings
    from anypix.models.diffusion import load_components
    from anypix.plan import EditPlan
    from anypix.tools.render import render as render_plan

    tiny = load_components("tiny-random", settings=Settings(device="cpu", model_paths={}))
    plan = EditPlan.from_tokens("[base] photo\n[gen] a dog\n[op] variation a dog\n"
                                "[knobs] seed=1 steps=2")  # fmt: skip
    made = render_plan(plan, {"photo": photo_like(96, 48)}, tiny)
    width, height = made.images[0].size  # about the model's area, sides snapped to its multiple
    assert abs(width / height - 2) < 0.15 and width * height <= 1.2 * tiny.default_size[0] ** 2


# -- the turn ---------------------------------------------------------------------------------------


def _flat_render(plan: Any, assets: Mapping[str, Path]) -> Any:
    from anypix.records import Provenance, Render

    provenance = Provenance(
        preset="miniworld", weight_hash="0" * 64, seed=1, scheduler="none", steps=1, guidance=0.0,
        alpha=plan.knobs.alpha, size=(8, 8), device="cpu", dtype="uint8",
        plan_tokens=plan.tokens(), inputs={n: str(p) for n, p in assets.items()},
    )  # fmt: skip
    return Render(images=[Image.new("RGB", (8, 8), (1, 2, 3))], provenance=provenance)


def test_the_turn_says_it_before_the_plan_and_keeps_it(tmp_path: Path) -> None:
    from anypix.agent.llm import FakeLLM
    from anypix.agent.planner import Planner
    from anypix.config import Settings
    from anypix.studio import Studio
    from anypix.tools.preset import PresetRenderer

    class FlatMiniworld(PresetRenderer):  # the miniworld preset's scope, without drawing
        def __call__(self, plan: Any, assets: Mapping[str, Path], **_: Any) -> Any:
            return _flat_render(plan, assets)

    settings = Settings(model="miniworld", data_dir=tmp_path / "data")
    photo = tmp_path / "photo.png"
    photo_like().save(photo)
    plan = {"base": "photo", "subs": [], "style_ref": None, "gen": "a cat",
            "ops": [{"op": "add", "target": "a cat", "ref": None}]}  # fmt: skip
    seen: list[str] = []
    with Studio(settings=settings, planner=Planner(FakeLLM([plan, {**plan, "base": "last"}]), use_minilm=False),
                renderer=FlatMiniworld(settings), locator=None, verifier=None) as studio:  # fmt: skip
        session = studio.session()
        turn = session.edit("add a cat to [photo]", {"photo": photo},
                            on_step=lambda step: seen.append(step.tool))  # fmt: skip
        shown = session.show(turn.summary.seq)
        # the next turn edits the current image: told about once, when it came in
        again = session.edit("add a cat", {}, on_step=lambda step: seen.append(step.tool))
        notes = [s.result for s in session.show(again.summary.seq).steps if s.tool == "scope"]
    assert seen[0] == "scope" and shown.steps[0].tool == "scope"
    assert "'cat'" in shown.steps[0].result and "[photo] looks like a photo" in shown.steps[0].result
    assert len(notes) == 1 and "'cat'" in notes[0] and "[last]" not in notes[0]


def test_the_console_shows_the_notice_on_one_line() -> None:
    from rich.console import Console

    from anypix.console import print_notice
    from anypix.records import StepRecord

    console = Console(record=True, width=60)
    print_notice(console, StepRecord("scope", result="miniworld draws only rings; use sd15"))
    print_notice(console, StepRecord("render", result="1 image(s)"))
    assert console.export_text() == "note: miniworld draws only rings; use sd15\n"


def test_the_words_judged_are_what_the_instruction_asks_for_not_its_idiom(tmp_path: Path) -> None:
    """ "zap the cat in [scene]": the model is told it never learnt 'cat', not 'zap' (a word of
    the instruction's, which the planner reads as "remove"); "scrub out the ring" needs no note."""
    from anypix.agent.planner import Planner
    from anypix.config import Settings
    from anypix.studio import Studio
    from anypix.tools.preset import PresetRenderer

    class FlatMiniworld(PresetRenderer):
        def __call__(self, plan: Any, assets: Mapping[str, Path], **_: Any) -> Any:
            return _flat_render(plan, assets)

    settings = Settings(model="miniworld", data_dir=tmp_path / "data")
    scene = tmp_path / "scene.png"
    world(11).save(scene)
    with Studio(settings=settings, planner=Planner(None), renderer=FlatMiniworld(settings),
                locator=None, verifier=None) as studio:  # fmt: skip
        session = studio.session()
        zapped = session.edit("zap the cat in [scene]", {"scene": scene})
        notes = [s.result for s in session.show(zapped.summary.seq).steps if s.tool == "scope"]
        scrubbed = session.edit("scrub out the ring from [scene]", {"scene": scene})
        quiet = [s for s in session.show(scrubbed.summary.seq).steps if s.tool == "scope"]
    assert len(notes) == 1 and "'cat'" in notes[0] and "zap" not in notes[0]
    assert quiet == []
