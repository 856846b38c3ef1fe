"""The refinement prior in the render path: references ([sub] images and sounds) go through the
prior by default on a model that measured a mix for it, the plan's mix_* knobs override it, and
mix_prior=0 renders exactly as without the prior."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from anypix.models.diffusion import Conditioning
from anypix.models.miniworld.data import MiniObject, Scene, Style, random_scene, tone, write_wav
from anypix.models.miniworld.data import render as draw
from anypix.models.registry import capabilities
from anypix.plan import Blob
from anypix.tools.choose import techniques_for
from anypix.tools.refine import mix_weights, sets_mix, uses_prior, wants_prior
from anypix.tools.render import render
from anypix.tools.techniques import RefinementPrior, _replace_target_tokens
from tests.engine.conftest import make_plan

BLOB = '[blob] ref {major-radius: 12px; minor-radius: 8px; cx: 40px; cy: 24px; angle: 0} "ref"'
ADD = ("[base] scene", "[sub] ref", "[gen] with ref", BLOB, "[op] add ref ref=ref")
DRAW = ("[sub] ref", "[gen] with ref", BLOB, "[op] generate with ref")  # no [base] to keep


@pytest.fixture(scope="module")
def miniworld() -> Any:
    from anypix.models.diffusion import load_components

    return load_components("miniworld", device="cpu")


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    scene = Image.fromarray(draw(random_scene(100_123, max_objects=2), 64)[0])
    triangle = Blob(description="a large pink triangle", cx=0.5, cy=0.5, a=0.3, b=0.24, angle=20)
    alone = Scene(0, Style("mono", "flat"), (MiniObject("pink", "triangle", "large", triangle),))
    sound = tmp_path_factory.mktemp("tone") / "tone.wav"
    write_wav(str(sound), tone("pink", "triangle", seed=3))
    return {"scene": scene, "ref": Image.fromarray(draw(alone, 64)[0]), "tone": sound}


def _render(components: Any, assets: dict[str, Any], knobs: str = "", name: str = "ref",
            plan: tuple[str, ...] = ADD) -> Any:  # fmt: skip
    lines = [line.replace("ref", name) for line in plan]
    return render(make_plan(*lines, f"[knobs] seed=4 steps=6 {knobs}"), assets, components)


def test_the_mix_falls_back_to_the_models_measured_defaults_then_the_references() -> None:
    plan = make_plan(*ADD, "[knobs] mix_gen=0.7")
    measured = {"mix_base": 0.0, "mix_gen": 0.2, "mix_prior": 1.0, "mix_norm": 0.0}
    assert mix_weights(plan.knobs, measured) == {**measured, "mix_gen": 0.7}
    assert mix_weights(plan.knobs)["mix_prior"] == 1.0  # the reference's
    assert sets_mix(plan) and wants_prior(plan)
    words_only = make_plan("[gen] a red ring", "[op] generate a red ring")
    assert not wants_prior(words_only) and RefinementPrior not in map(type, techniques_for(words_only))
    assert wants_prior(make_plan(*ADD))  # references: the model decides
    assert not uses_prior({"mix_base": 0.0, "mix_gen": 1.0, "mix_prior": 0.0, "mix_norm": 0.0})
    assert capabilities("miniworld").prior_mix is not None
    assert capabilities("tiny-random").prior_mix is None


def test_a_reference_add_goes_through_the_prior_by_default(miniworld: Any, assets: Any) -> None:
    made = _render(miniworld, assets)
    record = made.provenance.knobs["refinement_prior"]
    assert record["gen"] == "subjects" and record["defaults"] == "model"
    assert record["prior_used"] is True
    assert {k: record[k] for k in ("mix_base", "mix_gen", "mix_prior", "mix_norm")} == dict(
        capabilities("miniworld").prior_mix or {})
    again = _render(miniworld, assets)
    assert np.array_equal(np.asarray(made.images[0]), np.asarray(again.images[0]))


def test_mix_prior_zero_is_the_render_without_the_prior(miniworld: Any, assets: Any) -> None:
    off = _render(miniworld, assets, "mix_prior=0 mix_base=0")
    assert "refinement_prior" not in off.provenance.knobs
    # a model without measured defaults never adds the prior to references
    unmeasured = dataclasses.replace(miniworld, preset="miniworld-unregistered")
    plain = _render(unmeasured, assets)
    assert np.array_equal(np.asarray(off.images[0]), np.asarray(plain.images[0]))
    # The refined tokens reach the UNet (where nothing keeps the pixels: a drawing, no [base]).
    drawn_off = _render(miniworld, assets, "mix_prior=0 mix_base=0", plan=DRAW)
    drawn_on = _render(miniworld, assets, plan=DRAW)
    assert not np.array_equal(np.asarray(drawn_off.images[0]), np.asarray(drawn_on.images[0]))


def test_a_sound_reference_enters_the_prior_as_audio(miniworld: Any, assets: Any) -> None:
    made = _render(miniworld, assets, name="tone")
    record = made.provenance.knobs["refinement_prior"]
    assert record["gen"] == "subjects" and record["prior_used"] is True
    on = _render(miniworld, assets, name="tone", plan=DRAW)
    off = _render(miniworld, assets, "mix_prior=0 mix_base=0", name="tone", plan=DRAW)
    assert on.provenance.knobs["refinement_prior"]["prior_used"] is True
    assert not np.array_equal(np.asarray(off.images[0]), np.asarray(on.images[0]))


def test_only_the_conditional_target_rows_get_the_refined_tokens() -> None:
    hidden = torch.zeros(4, 6, 3)  # [uncond leading, uncond target, cond leading, cond target]
    refined = torch.ones(1, 2, 3)
    replaced = _replace_target_tokens(Conditioning(hidden=hidden, do_cfg=True), refined, rows=1)
    assert replaced.hidden[3, -2:].eq(1).all() and replaced.hidden[3, :-2].eq(0).all()
    assert replaced.hidden[:3].eq(0).all() and hidden.eq(0).all()  # the input is left as it was
