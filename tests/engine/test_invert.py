"""DDIM inversion: exact round trips under the analytic noise model, and the alpha blend."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

from anypix.models.diffusion import Conditioning, decode_latents, denoise, encode_image
from anypix.tools.invert import blend_start_latents, ddim_invert, ddim_scheduler
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
    ddim_invert(analytic, torch.zeros(1, 4, 8, 8, dtype=torch.float64), cond, steps=6)
    assert constant_noise_model.calls == 6


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
