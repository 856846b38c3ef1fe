"""The render's techniques: each plan part brings its technique (and only it), each reports what it
did, bad inputs are refused before any work, and the refinement prior conditions a render only
when a plan sets a mix knob."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anypix.errors import NotAvailableError, UnknownAssetError
from anypix.plan import EditPlan, Knobs
from anypix.tools.choose import techniques_for
from anypix.tools.ops import KeepEdited, PrepareBase
from anypix.tools.render import check_inputs, render
from anypix.tools.shape_guidance import ShapeGuidance
from anypix.tools.techniques import (
    Grounding,
    InvertBase,
    KeepOutside,
    RefinementPrior,
    StyleReference,
    Subjects,
)
from tests.engine.conftest import make_plan

BLOB = '[blob] dog {major-radius: 16px; minor-radius: 10px; cx: 24px; cy: 30px; angle: 0} "a dog"'


def _kinds(plan: EditPlan) -> list[type]:
    return [type(t) for t in techniques_for(plan)]


def test_each_part_of_a_plan_brings_its_technique_in_the_render_order() -> None:
    assert _kinds(make_plan("[gen] a dog", "[op] generate a dog")) == []
    everything = make_plan("[base] photo", "[sub] dog", "[gen] a dog", BLOB, "[style] ref",
                           "[op] add a dog ref=dog", "[knobs] size=64x64 mix_prior=1")  # fmt: skip
    # the add owns the blob (tools/ops): the [base] is prepared before its inversion
    assert _kinds(everything) == [
        Subjects, PrepareBase, InvertBase, KeepEdited, StyleReference, RefinementPrior, Grounding,
        ShapeGuidance,
    ]
    # a removal whose blob it owns is grounded by the blob's "background" (the empty region)
    removal = make_plan("[base] photo", BLOB, "[op] remove the dog", "[knobs] size=64x64")
    assert _kinds(removal) == [PrepareBase, InvertBase, KeepEdited, Grounding]
    # a plan whose blobs its ops do not own keeps the plain edit; a lone removal draws nothing
    unpaired = make_plan("[base] photo", BLOB, BLOB.replace("dog {", "cat {"),
                         "[op] remove the dog", "[knobs] size=64x64")  # fmt: skip
    assert _kinds(unpaired) == [InvertBase, KeepOutside]


def test_every_technique_used_is_in_the_provenance(engine: Any, base_image: Any,
                                                   style_image: Any) -> None:  # fmt: skip
    plan = make_plan("[base] photo", "[gen] a dog", BLOB, "[style] ref", "[op] add a dog",
                     "[knobs] seed=1 steps=2 size=64x64")  # fmt: skip
    knobs = render(plan, {"photo": base_image, "ref": style_image}, engine).provenance.knobs
    assert knobs["start_blend"].startswith("sqrt(alpha)")  # the [base]'s inversion
    assert knobs["keep_outside_regions"] and knobs["start_inside_regions"] == "noise(seed)"
    assert knobs["style_aligned"]["share_attention"] is True
    assert "refinement_prior" not in knobs and "subjects" not in knobs


def test_bad_inputs_are_refused_before_any_work(base_image: Any) -> None:
    plan = make_plan("[base] photo", "[gen] a dog", "[op] variation a dog")
    with pytest.raises(UnknownAssetError, match=r"\[photo\]"):
        check_inputs(plan, {})
    with pytest.raises(ValueError, match="asset 'photo' must be a file path or a PIL image"):
        check_inputs(plan, {"photo": np.zeros((4, 4, 3))})
    with pytest.raises(ValueError, match="progress must be a function"):
        check_inputs(plan, {"photo": base_image}, progress=3)
    with pytest.raises(ValueError, match="plan must be an EditPlan"):
        check_inputs("[gen] a dog", {})  # type: ignore[arg-type]


def test_the_mix_knobs_are_off_by_default_and_old_plans_stay_off() -> None:
    assert Knobs().mix_prior is None
    stored = {"alpha": 0.7, "mix_base": 0.0, "mix_gen": 0.4, "mix_prior": 1.0, "mix_norm": 0.0}
    assert Knobs.model_validate(stored) == Knobs()  # written out before the render read them
    assert Knobs(mix_prior=1.0).mix_gen is None  # one set: the others take the reference's


def test_a_preset_without_an_embedding_space_refuses_the_prior(engine: Any) -> None:
    plan = make_plan("[gen] a dog", "[op] generate a dog", "[knobs] seed=1 steps=2 mix_prior=1")
    with pytest.raises(NotAvailableError, match="cannot condition on the refinement prior"):
        render(plan, {}, engine)


@pytest.fixture(scope="module")
def miniworld() -> Any:
    from anypix.models.diffusion import load_components

    return load_components("miniworld", device="cpu")


def test_the_refinement_prior_conditions_a_miniworld_render(miniworld: Any,
                                                            tmp_path: Path) -> None:  # fmt: skip
    lines = ("[gen] a red ring", "[op] generate a red ring", "[knobs] seed=3 steps=6")
    plain = render(make_plan(*lines), {}, miniworld)
    mixed = render(make_plan(*lines[:2], "[knobs] seed=3 steps=6 mix_prior=1 mix_gen=0.4"), {},
                   miniworld)  # fmt: skip
    again = render(make_plan(*lines[:2], "[knobs] seed=3 steps=6 mix_prior=1 mix_gen=0.4"), {},
                   miniworld)  # fmt: skip
    record = mixed.provenance.knobs["refinement_prior"]
    assert record["prior_used"] is True and record["encoder"].startswith("miniworld-binding-")
    assert (record["mix_base"], record["mix_gen"], record["mix_prior"]) == (0.0, 0.4, 1.0)
    assert "refinement_prior" not in plain.provenance.knobs
    plain_pixels, mixed_pixels = np.asarray(plain.images[0]), np.asarray(mixed.images[0])
    assert not np.array_equal(plain_pixels, mixed_pixels)  # the prior's tokens reach the UNet
    assert np.array_equal(mixed_pixels, np.asarray(again.images[0]))  # and deterministically
