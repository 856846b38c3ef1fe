"""The one render function: determinism, progress, cancel, provenance, and what each knob does."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anypix.errors import CancelledError, UnknownAssetError
from anypix.tools.render import render, render_plan, resolve_sampling

from .conftest import make_plan, pixels

GENERATE = ("[gen] a red ball on grass", "[op] generate")


def _generate(engine: Any, knobs: str = "seed=1", steps: int = 2, size: str = "64x64") -> Any:
    return render(make_plan(*GENERATE, f"[knobs] steps={steps} size={size} {knobs}"), {}, engine)


def test_same_plan_and_seed_give_the_same_pixels(engine: Any) -> None:
    first, second = _generate(engine), _generate(engine)
    assert np.array_equal(pixels(first.images[0]), pixels(second.images[0]))
    assert first.provenance == second.provenance


def test_a_drawn_seed_is_recorded_and_replays(engine: Any) -> None:
    drawn = render(make_plan(*GENERATE, "[knobs] steps=2"), {}, engine)
    replay = _generate(engine, f"seed={drawn.provenance.seed}")
    assert np.array_equal(pixels(drawn.images[0]), pixels(replay.images[0]))


def test_provenance_records_every_value_used(engine: Any) -> None:
    result = _generate(engine, "seed=4 guidance=3 alpha=0.25 beta=0.5")
    prov = result.provenance
    assert (prov.preset, prov.scheduler, prov.device, prov.dtype) == (
        "tiny-random",
        "ddim",
        "cpu",
        "float32",
    )
    assert prov.weight_hash == engine.weight_hash and len(prov.weight_hash) == 64
    assert (prov.seed, prov.steps, prov.guidance, prov.alpha, prov.size) == (
        4,
        2,
        3.0,
        0.25,
        (64, 64),
    )
    assert prov.knobs["beta"] == 0.5 and prov.knobs["prompt"] == "a red ball on grass"
    assert prov.knobs["scheduler_class"] == "DDIMScheduler"
    assert prov.plan_tokens.startswith("[gen] a red ball on grass")
    defaults = resolve_sampling(make_plan(*GENERATE), engine)
    assert (defaults.steps, defaults.guidance) == (engine.default_steps, engine.default_guidance)
    assert defaults.size == engine.default_size


def test_progress_counts_every_unet_pass_and_cancel_stops_between_steps(
    engine: Any, base_image: Any
) -> None:
    calls: list[tuple[int, int]] = []
    plan = make_plan("[base] photo", "[gen] a photo", "[op] variation", "[knobs] steps=3 seed=1")
    render(plan, {"photo": base_image}, engine, progress=lambda d, n: calls.append((d, n)))
    assert calls == [(i, 6) for i in range(1, 7)]  # 3 inversion + 3 denoising passes

    seen: list[int] = []
    with pytest.raises(CancelledError, match="after 4 of 6"):
        render(plan, {"photo": base_image}, engine, progress=lambda d, n: seen.append(d),
               cancel=lambda: len(seen) >= 4)  # fmt: skip
    assert seen == [1, 2, 3, 4]


def test_cancel_inside_a_style_render_leaves_the_unet_as_it_was(
    private_engine: Any, style_image: Any
) -> None:
    before = dict(private_engine.unet.attn_processors)
    plan = make_plan(
        *GENERATE[:1], "[style] paint", "[op] generate ref=paint", "[knobs] steps=3 seed=1"
    )
    ticks: list[int] = []
    with pytest.raises(CancelledError):
        render(plan, {"paint": style_image}, private_engine, progress=lambda d, n: ticks.append(d),
               cancel=lambda: len(ticks) >= 4)  # fmt: skip
    assert all(private_engine.unet.attn_processors[n] is p for n, p in before.items())
    assert not any(m._forward_hooks for m in private_engine.unet.modules())


def test_seed_changes_a_generation(engine: Any) -> None:
    a, b = _generate(engine, "seed=1"), _generate(engine, "seed=2")
    assert np.abs(pixels(a.images[0]) - pixels(b.images[0])).mean() > 1


def test_guidance_and_steps_change_the_image(engine: Any) -> None:
    plain = pixels(_generate(engine, "seed=1 guidance=7.5").images[0])
    for knobs, steps in (("seed=1 guidance=2", 2), ("seed=1 guidance=7.5", 3)):
        changed = pixels(_generate(engine, knobs, steps=steps).images[0])
        assert np.abs(changed - plain).mean() > 0.5, knobs


def test_size_sets_the_canvas_and_snaps_to_the_model_multiple(engine: Any) -> None:
    wide = _generate(engine, "seed=1", size="96x64")
    assert wide.images[0].size == (96, 64) and wide.provenance.size == (96, 64)
    odd = _generate(engine, "seed=1", size="66x63")
    assert odd.images[0].size == (64, 60) and odd.provenance.size == (64, 60)


def test_style_reference_changes_the_target_and_is_not_returned(
    engine: Any, style_image: Any
) -> None:
    plain = _generate(engine, "seed=1")
    plan = make_plan(
        *GENERATE[:1], "[style] paint", "[op] generate ref=paint", "[knobs] steps=2 seed=1"
    )
    styled = render(plan, {"paint": style_image}, engine)
    assert len(styled.images) == 1
    assert np.abs(pixels(styled.images[0]) - pixels(plain.images[0])).mean() > 0.5
    assert styled.provenance.knobs["style_aligned"]["share_attention"] is True


def test_missing_assets_are_named(engine: Any) -> None:
    plan = make_plan("[base] photo", "[op] variation", "[knobs] steps=2")
    with pytest.raises(UnknownAssetError, match=r"\[photo\]"):
        render(plan, {"other": Path("x.png")}, engine)


def test_render_plan_tool_reads_files_and_hashes_them(
    engine: Any, base_image: Any, tmp_path: Path
) -> None:
    source = tmp_path / "photo.png"
    base_image.save(source)
    result = render_plan("[base] photo\n[op] variation\n[knobs] steps=2 seed=3 alpha=0.5",
                         {"photo": source}, tmp_path / "out.png", _models=engine)  # fmt: skip
    assert Path(result["image"]).exists()
    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    assert result["provenance"]["inputs"] == {"photo": expected}


def test_a_negative_prompt_steers_guidance_and_the_empty_one_changes_nothing(
    engine: Any,
) -> None:
    def drawn(*extra: str) -> Any:
        plan = make_plan("[gen] a red disc", "[op] generate",
                         "[knobs] steps=2 guidance=7.5 seed=5 size=64x64", *extra)  # fmt: skip
        return np.asarray(render(plan, {}, engine).images[0], dtype=np.int16)

    plain = drawn()
    assert np.array_equal(plain, drawn("[negative] "))  # an empty line is no negative prompt
    steered = drawn("[negative] a blue square")
    assert np.abs(steered - plain).mean() > 1.0


def test_a_family_without_a_pipeline_encodes_prompts_as_the_pipeline_does(engine: Any) -> None:
    """Families of our own (the default offline model) carry no diffusers pipeline: their
    prompts go through the text encoder directly, and must give the pipeline's conditioning."""
    import dataclasses

    import torch

    from anypix.models.diffusion import encode_prompts

    bare = dataclasses.replace(engine, pipeline=None)
    for negative in (None, "blurry, dark"):
        prompts = ["a red ring on the left", "a large green rectangle"]
        ours = encode_prompts(bare, prompts, do_cfg=True, negative=negative)
        theirs = encode_prompts(engine, prompts, do_cfg=True, negative=negative)
        assert ours.hidden.shape == theirs.hidden.shape
        assert torch.equal(ours.hidden, theirs.hidden)
    alone = encode_prompts(bare, ["a ring"], do_cfg=False).hidden
    assert torch.equal(alone, encode_prompts(engine, ["a ring"], do_cfg=False).hidden)
