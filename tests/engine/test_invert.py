"""DDIM inversion: exact round trips under analytic noise models (a constant one, where plain DDIM
is exact, and the exact denoiser of Gaussian data, where only fixed-point refinement is), its
cost in UNet calls, and the alpha blend."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch

from anypix.models.diffusion import Conditioning, decode_latents, denoise, encode_image
from anypix.tools.invert import (
    DDIM,
    DEFAULT_INVERSION,
    InversionMethod,
    blend_start_latents,
    ddim_invert,
    ddim_scheduler,
)
from anypix.tools.render import render

from .conftest import ConstantNoiseUNet, make_plan, pixels


def _analytic(engine: Any, model: Any) -> Any:
    return dataclasses.replace(engine, unet=ConstantNoiseUNet(model, engine.unet.config))


@pytest.mark.parametrize("steps", [2, 4, 25])
@pytest.mark.parametrize("guidance", [1.0, 5.0])
def test_round_trip_is_exact_with_the_analytic_noise_model(
    engine: Any, constant_noise_model: Any, steps: int, guidance: float
) -> None:
    analytic = _analytic(engine, constant_noise_model)
    clean = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    do_cfg = guidance > 1
    cond = Conditioning(
        hidden=torch.zeros(2 if do_cfg else 1, 1, 32, dtype=torch.float64), do_cfg=do_cfg
    )
    trajectory = ddim_invert(analytic, clean, cond, steps=steps, guidance=guidance)
    assert len(trajectory.latents) == steps + 1
    assert (trajectory.noisiest - clean).abs().max() > 0.1  # it really moved up the schedule

    seen = []
    scheduler = ddim_scheduler(analytic, steps, "cpu")
    rebuilt = denoise(analytic, trajectory.noisiest, cond, scheduler, guidance,
                      before_step=lambda i, n, x: seen.append(x) or x)  # fmt: skip
    assert (rebuilt - clean).abs().max().item() < 1e-12
    # The sampler passes through every latent of the trajectory, in order.
    for i, latent in enumerate(seen):
        assert (latent - trajectory.before_step(i)).abs().max().item() < 1e-12


def test_inversion_calls_the_model_once_per_step_at_guidance_one(
    engine: Any, constant_noise_model: Any
) -> None:
    analytic = _analytic(engine, constant_noise_model)
    cond = Conditioning(hidden=torch.zeros(1, 1, 32, dtype=torch.float64), do_cfg=False)
    ddim_invert(analytic, torch.zeros(1, 4, 8, 8, dtype=torch.float64), cond, steps=6, method=DDIM)
    assert constant_noise_model.calls == 6


class GaussianDataNoiseModel:
    """The exact noise prediction when every latent element of the data is N(0, VARIANCE):
    ``E[eps | x_t] = sqrt(1 - a_t) * x_t / (a_t * VARIANCE + 1 - a_t)``, given in the scheduler's
    prediction type. It depends on the latent and the level, so a plain DDIM inversion step (noise
    predicted one level too low) is not the inverse of a sampling step, while the exact inverse
    exists: the analytic model for testing fixed-point refinement."""

    VARIANCE = 0.25

    def __init__(self, scheduler: Any) -> None:
        self.alphas = scheduler.alphas_cumprod.to(torch.float64)
        self.prediction = scheduler.config.prediction_type
        self.calls = 0

    def __call__(self, sample: Any, timestep: Any, **_: Any) -> Any:
        from types import SimpleNamespace

        self.calls += 1
        alpha = self.alphas[int(timestep)]
        eps = (1 - alpha) ** 0.5 * sample / (alpha * self.VARIANCE + 1 - alpha)
        if self.prediction == "v_prediction":  # eps = sqrt(a) v + sqrt(1 - a) x
            return SimpleNamespace(sample=(eps - (1 - alpha) ** 0.5 * sample) / alpha**0.5)
        return SimpleNamespace(sample=eps)


def _gaussian_engine(engine: Any, prediction: str) -> tuple[Any, GaussianDataNoiseModel]:
    scheduler = type(engine.scheduler).from_config(engine.scheduler.config,
                                                   prediction_type=prediction)  # fmt: skip
    model = GaussianDataNoiseModel(scheduler)
    unet = ConstantNoiseUNet(model, engine.unet.config)
    return dataclasses.replace(engine, unet=unet, scheduler=scheduler), model


def _round_trip_error(analytic: Any, method: InversionMethod, steps: int = 10) -> float:
    clean = 0.5 * torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3),
                              dtype=torch.float64)  # fmt: skip
    cond = Conditioning(hidden=torch.zeros(1, 1, 32, dtype=torch.float64), do_cfg=False)
    trajectory = ddim_invert(analytic, clean, cond, steps=steps, method=method)
    rebuilt = denoise(analytic, trajectory.noisiest, cond, ddim_scheduler(analytic, steps, "cpu"), 1.0)
    return (rebuilt - clean).abs().max().item()


def _errors_and_calls(
    analytic: Any, model: Any, methods: Sequence[InversionMethod]
) -> tuple[list[float], list[int]]:
    """Each method's round-trip error over 10 steps, and the UNet calls its inversion made."""
    errors, calls = [], []
    for method in methods:
        model.calls = 0
        errors.append(_round_trip_error(analytic, method))
        calls.append(model.calls - 10)  # less the 10 sampling steps of the round trip
    return errors, calls


# The exact round trip's error floor: with v-prediction DDIMScheduler.step turns v into eps and
# x0 with sqrt(a) and sqrt(1 - a) taken from float32 alphas, so a + (1 - a) = 1 to float32 only.
@pytest.mark.parametrize(("prediction", "floor"), [("epsilon", 1e-10), ("v_prediction", 1e-6)])
def test_fixed_point_refinement_closes_the_round_trip_plain_ddim_leaves_open(
    engine: Any, prediction: str, floor: float
) -> None:
    analytic, _ = _gaussian_engine(engine, prediction)
    errors = [_round_trip_error(analytic, InversionMethod(refine=k)) for k in (0, 1, 2, 4)]
    assert errors[0] > 1e-3, errors  # plain DDIM inversion is only approximate here
    # Each refinement is one more step of a contraction: the error shrinks geometrically.
    assert all(after < before / 3 for before, after in itertools.pairwise(errors)), errors
    assert _round_trip_error(analytic, InversionMethod(refine=30)) < floor


def test_refining_only_the_noisiest_steps_costs_less_and_helps_less(engine: Any) -> None:
    analytic, model = _gaussian_engine(engine, "epsilon")
    plain, last, every = DDIM, InversionMethod(refine=2, refine_last=3), InversionMethod(refine=2)
    errors, calls = _errors_and_calls(analytic, model, (plain, last, every))
    assert calls == [10, 16, 30] == [m.unet_calls(10) for m in (plain, last, every)]
    assert errors[0] > errors[1] > errors[2], errors


def test_over_relaxation_speeds_up_a_creeping_fixed_point_at_no_extra_cost(engine: Any) -> None:
    # Here each plain iteration keeps about a quarter of the error, with its sign (it creeps),
    # so moving 1.3 times the way to the update lands nearer the fixed point; 1.9 overshoots.
    analytic, _ = _gaussian_engine(engine, "epsilon")
    errors = {w: _round_trip_error(analytic, InversionMethod(refine=1, relaxation=w))
              for w in (1.0, 1.3, 1.9)}  # fmt: skip
    assert errors[1.3] < errors[1.0] / 3 and errors[1.9] > errors[1.3], errors
    with pytest.raises(ValueError, match="relaxation"):
        InversionMethod(refine=1, relaxation=2.0)


def test_an_extrapolated_start_buys_each_step_a_pass_for_free(engine: Any) -> None:
    # Each step's fixed point starts from the noise extrapolated from the two steps before it
    # instead of a UNet call at the lower latent: one pass a step then costs what plain DDIM
    # costs and lands nearer than a DDIM estimate plus one pass (twice the calls).
    analytic, model = _gaussian_engine(engine, "epsilon")
    methods = [DDIM, InversionMethod(refine=1), InversionMethod(refine=1, extrapolate=True),
               InversionMethod(refine=1, extrapolate=True, refine_more=(1, -1))]  # fmt: skip
    errors, calls = _errors_and_calls(analytic, model, methods)
    assert calls == [10, 20, 10, 12] == [m.unet_calls(10) for m in methods]
    plain, refined, extrapolated, more = errors
    assert extrapolated < refined and extrapolated < plain / 4, errors
    assert more < extrapolated, errors  # the two extra passes help
    # The start changes only where the iteration begins, not the fixed point it converges to.
    assert _round_trip_error(analytic, InversionMethod(refine=30, extrapolate=True)) < 1e-10


def test_coasting_steps_take_the_extrapolated_noise_without_a_unet_call(engine: Any) -> None:
    analytic, model = _gaussian_engine(engine, "epsilon")
    full = InversionMethod(refine=1, extrapolate=True, refine_more=(1, -1))
    coasting = dataclasses.replace(full, coast_every=4)
    # Never the first step, the two noisiest, nor a step refine_more names: 4 of 10 coasts.
    assert [coasting.refinements(k, 10) for k in range(10)] == [1, 2, 1, 1, 0, 1, 1, 1, 1, 2]
    assert [k for k in range(10) if coasting.coasts(k, 10)] == [4]
    assert [k for k in range(20) if coasting.coasts(k, 20)] == [4, 8, 12, 16]
    errors, calls = _errors_and_calls(analytic, model, (DDIM, full, coasting))
    assert calls == [10, 12, 11] == [m.unet_calls(10) for m in (DDIM, full, coasting)]
    plain, solved, coasted = errors
    assert solved < coasted < plain / 4, errors  # a coasting step is a good guess, not a solution
    assert coasting.name == "fixed-point-1-extrapolated-more-1,-1-coast-4"
    with pytest.raises(ValueError, match="needs extrapolate"):
        InversionMethod(refine=1, coast_every=4)


def test_refine_more_adds_one_pass_to_the_steps_it_names() -> None:
    method = InversionMethod(refine=1, extrapolate=True, refine_more=(1, -1, 40))
    assert [method.refinements(k, 6) for k in range(6)] == [1, 2, 1, 1, 1, 2]  # 40: no such step
    assert method.unet_calls(6) == 8
    # Without the extrapolated start every step pays for its DDIM estimate too.
    assert InversionMethod(refine=1, refine_more=(1, -1)).unet_calls(6) == 6 + 8


def test_inversion_methods_are_named_checked_and_keyed_apart(engine: Any) -> None:
    from anypix.tools.inversion_cache import inversion_key

    extrapolated = InversionMethod(1, extrapolate=True)
    default_like = InversionMethod(1, extrapolate=True, refine_more=(1, -1))
    assert [m.name for m in (DDIM, InversionMethod(refine=2), InversionMethod(1, refine_last=5),
                             InversionMethod(1, relaxation=1.5), InversionMethod(3, refine_last=0),
                             InversionMethod(0, extrapolate=True), extrapolated, default_like)
            ] == ["ddim", "fixed-point-2", "fixed-point-1-last-5", "fixed-point-1-w1.5", "ddim",
                  "ddim", "fixed-point-1-extrapolated",
                  "fixed-point-1-extrapolated-more-1,-1"]  # fmt: skip
    assert DEFAULT_INVERSION.name != "ddim"  # edits and style references are refined
    with pytest.raises(ValueError, match="at least 0"):
        InversionMethod(refine=-1)
    methods = (DDIM, InversionMethod(refine=1), InversionMethod(refine=2),
               InversionMethod(refine=1, relaxation=1.5), extrapolated, default_like)  # fmt: skip
    keys = {inversion_key(engine, "d" * 64, size=(64, 64), steps=4, prompt="p", method=m)
            for m in methods}  # fmt: skip
    assert len(keys) == len(methods)


def test_blend_keeps_the_source_at_alpha_one_and_noise_at_zero() -> None:
    generator = torch.Generator().manual_seed(0)
    inverted, noise = (
        torch.randn(1, 4, 64, 64, generator=generator),
        torch.randn(1, 4, 64, 64, generator=generator),
    )
    assert torch.equal(blend_start_latents(inverted, noise, 1.0), inverted)
    assert torch.equal(blend_start_latents(inverted, noise, 0.0), noise)
    half = blend_start_latents(inverted, noise, 0.5)
    assert abs(half.std().item() - 1.0) < 0.03  # variance preserving for unit-variance inputs
    with pytest.raises(ValueError, match="alpha"):
        blend_start_latents(inverted, noise, 1.5)


def _edit(analytic: Any, image: Any, alpha: float, seed: int = 3) -> Any:
    plan = make_plan("[base] photo", "[gen] a photo", "[op] variation",
                     f"[knobs] alpha={alpha} guidance=1 steps=4 seed={seed}")  # fmt: skip
    return render(plan, {"photo": image}, analytic)


def test_render_at_alpha_one_reproduces_the_base_with_the_analytic_model(
    engine: Any, constant_noise_model: Any, base_image: Any
) -> None:
    constant_noise_model.epsilon = constant_noise_model.epsilon.repeat(1, 1, 4, 4)  # 32x32 latents
    analytic = _analytic(engine, constant_noise_model)
    with torch.inference_mode():
        reconstruction = decode_latents(engine, encode_image(engine, base_image, (64, 64)))[0]
    kept = pixels(_edit(analytic, base_image, 1.0).images[0])
    # Exact in real arithmetic; float32 latents may flip a pixel's rounding by one level.
    off = np.abs(kept - pixels(reconstruction))
    assert off.max() <= 1 and (off > 0).mean() < 0.01
    # alpha = 1 ignores the noise entirely: a different seed gives the same pixels.
    assert np.array_equal(pixels(_edit(analytic, base_image, 1.0, seed=99).images[0]), kept)
    # Less alpha, more fresh noise: the result moves steadily away from the base.
    distances = [
        np.abs(pixels(_edit(analytic, base_image, alpha).images[0]) - pixels(reconstruction)).mean()
        for alpha in (0.9, 0.5, 0.0)
    ]
    assert 0 < distances[0] < distances[1] < distances[2], distances


def test_alpha_trades_source_for_noise_on_a_real_unet(engine: Any, base_image: Any) -> None:
    source = pixels(base_image)
    edits = {alpha: pixels(_edit(engine, base_image, alpha).images[0]) for alpha in (1.0, 0.0)}
    near, far = (np.abs(edits[a] - source).mean() for a in (1.0, 0.0))
    assert near < far, (near, far)


def test_the_invert_tool_solves_steps_as_edits_do_unless_told(
    engine: Any, base_image: Any, tmp_path: Any
) -> None:
    from anypix.tools.invert import invert

    image = tmp_path / "base.png"
    base_image.save(image)
    named = {refine: invert(image, steps=3, refine=refine, _models=engine)["method"]
             for refine in (None, 0, 2)}  # fmt: skip
    assert named == {None: DEFAULT_INVERSION.name, 0: "ddim",
                     2: dataclasses.replace(DEFAULT_INVERSION, refine=2).name}  # fmt: skip
    assert named[2] != named[None]
