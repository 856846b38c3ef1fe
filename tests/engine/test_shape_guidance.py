"""Shape guidance (tools/shape_guidance.py): the miniworld's shape critic names the shapes of
rendered objects, one guided step on a predicted clean image raises the critic's belief in the
shape a blob asks for (and touches nothing outside the blob), the render records it, and it is
off -- the render exactly as without it -- at knob 0 or on a preset without a critic."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from anypix.models.miniworld.data import SHAPES, MiniObject, Scene, Style, random_scene, render
from anypix.models.miniworld.shape_classifier import asked, load_shape_critic
from anypix.plan import Blob, EditPlan, Knobs, Op
from anypix.tools.choose import techniques_for
from anypix.tools.render import render as render_plan
from anypix.tools.shape_guidance import ShapeGuidance, ShapeGuidanceOptions, guided_clean

DEV_SEEDS = range(500_000, 500_040)  # not the benchmark's held-out scenes (100,000+)


@pytest.fixture(scope="module")
def critic() -> Any:
    return load_shape_critic()


@pytest.fixture(scope="module")
def miniworld() -> Any:
    from anypix.models.diffusion import load_components

    torch.set_num_threads(2)
    return load_components("miniworld")


def _pixels(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 127.5 - 1


def _scene_plan(seed: int, **knobs: Any) -> EditPlan:
    scene = random_scene(seed, min_objects=1)
    return EditPlan(gen=scene.caption(), blobs=[o.blob for o in scene.objects],
                    ops=[Op(op="generate")], knobs=Knobs(seed=seed, steps=4, size=(64, 64), **knobs))  # fmt: skip


def test_the_critic_names_the_shapes_of_rendered_objects(critic: Any) -> None:
    right = []
    for seed in DEV_SEEDS:
        scene = random_scene(seed, min_objects=1)
        pixels = _pixels(render(scene)[0]).expand(len(scene.objects), -1, -1, -1)
        blobs = [o.blob for o in scene.objects]
        named = critic.log_probs(pixels, blobs, [o.colour for o in scene.objects]).argmax(1)
        right += [SHAPES[int(i)] == o.shape for i, o in zip(named, scene.objects, strict=True)]
    assert np.mean(right) >= 0.9, f"{np.mean(right):.3f} of {len(right)} objects"


def test_the_critic_reads_only_sentences_naming_one_colour_and_one_shape() -> None:
    blob = Blob(description="the blue box", cx=0.5, cy=0.5, a=0.2, b=0.1)
    assert asked(blob) == ("blue", "rectangle")  # a synonym of the world's word
    assert asked(blob.model_copy(update={"description": "a small red ring"})) == ("red", "ring")
    for words in ("a red object", "a ring", "a red ring and a blue ring", "a dog"):
        assert asked(blob.model_copy(update={"description": words})) is None


def test_a_guided_step_raises_the_likelihood_of_the_asked_shape_inside_its_blob(
    critic: Any,
) -> None:
    # A soft red ellipse, as a denoiser predicts it early on, in a blob that asks for a ring.
    blob = Blob(description="a red ring", cx=0.45, cy=0.5, a=0.3, b=0.2, angle=30)
    drawn = MiniObject("red", "ellipse", "large", blob)
    image = _pixels(render(Scene(0, Style("mono", "flat"), (drawn,)))[0])
    x0 = F.pixel_unshuffle(F.avg_pool2d(image, 3, 1, 1, count_include_pad=False), 2)
    before = critic.log_likelihood(F.pixel_shuffle(x0, 2), [blob])
    options = ShapeGuidanceOptions(scale=0.5, iterations=3)
    guided = guided_clean(x0, lambda x: F.pixel_shuffle(x, 2), critic, [blob], options)
    after = critic.log_likelihood(F.pixel_shuffle(guided, 2), [blob])
    assert after.item() > before.item() + 0.5
    changed = (F.pixel_shuffle(guided - x0, 2).abs().amax(1)[0] > 1e-6).numpy()
    far = ~blob.model_copy(update={"a": blob.a * 1.6, "b": blob.b * 1.6}).mask(64, 64)
    assert changed.any() and not (changed & far).any()  # only the blob's patch moves


def test_a_miniworld_render_is_guided_and_says_so(miniworld: Any) -> None:
    plan = _scene_plan(500_003, shape_guidance=3.0)
    assert any(isinstance(t, ShapeGuidance) for t in techniques_for(plan))
    guided = render_plan(plan, {}, miniworld)
    record = guided.provenance.knobs["shape_guided"]
    assert record["critic"].startswith("miniworld-shapes-") and record["scale"] > 0
    assert record["blobs"] == len(plan.blobs)
    off = render_plan(plan.model_copy(update={"knobs": plan.knobs.model_copy(
        update={"shape_guidance": 0.0})}), {}, miniworld)  # fmt: skip
    assert (
        off.provenance.knobs["shape_guidance"] == 0 and "shape_guided" not in off.provenance.knobs
    )
    assert not np.array_equal(np.asarray(guided.images[0]), np.asarray(off.images[0]))


def test_off_is_the_render_without_it(engine: Any) -> None:
    plan = _scene_plan(500_005, shape_guidance=0.0)
    assert not any(isinstance(t, ShapeGuidance) for t in techniques_for(plan))
    removal = plan.model_copy(update={"ops": [Op(op="remove", target="the red ring")],
                                      "knobs": Knobs(size=(64, 64))})  # fmt: skip
    assert not any(isinstance(t, ShapeGuidance) for t in techniques_for(removal))
    # a preset without a shape critic: the technique is chosen but changes nothing
    unguided = _scene_plan(500_005)
    with_it = render_plan(unguided, {}, engine)
    without = render_plan(plan, {}, engine)
    assert np.array_equal(np.asarray(with_it.images[0]), np.asarray(without.images[0]))
    assert "shape_guided" not in with_it.provenance.knobs
