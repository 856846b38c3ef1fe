"""DDIM inversion: an image's latent walked back up the noise schedule, and the alpha blend.

Sampling with DDIM (eta = 0) moves a latent from noise level ``t`` to the level ``prev(t) = t -
T // steps`` with::

    x0  = (x_t - sqrt(1 - a_t) * eps) / sqrt(a_t)
    x_p = sqrt(a_p) * x0 + sqrt(1 - a_p) * eps            (a = alphas_cumprod)

Inversion runs the same update backwards, from ``prev(t)`` to ``t``, with ``eps`` predicted at
the lower level (the only latent we have)::

    x0  = (x_p - sqrt(1 - a_p) * eps) / sqrt(a_p)
    x_t = sqrt(a_t) * x0 + sqrt(1 - a_t) * eps

When the noise model returns the same ``eps`` at both levels (the analytic constant-noise model
of the tests) the two are algebraic inverses and a round trip is exact to float precision; with
a real UNet it is the usual DDIM-inversion approximation, best at guidance 1.

**The alpha blend** (:func:`blend_start_latents`), following InstructAny2Pix's convention that
alpha = 1 keeps the source::

    z_T = sqrt(alpha) * z_inverted + sqrt(1 - alpha) * noise

alpha = 1 starts exactly from the inverted [base] (the edit can only change what guidance
changes); alpha = 0 starts from fresh noise (a new image). The square roots keep a unit-variance
start latent unit-variance, which is what the sampler expects at the top of the schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.models.diffusion import Components, Conditioning, predict_noise

if TYPE_CHECKING:
    import torch
    from PIL import Image


@dataclass
class InversionTrajectory:
    """Latents of one inversion. ``latents[k]`` is the latent after ``k`` inversion steps:
    ``latents[0]`` is the clean input, ``latents[-1]`` the noisiest. ``timesteps`` are in
    sampling order (high noise first), as ``scheduler.timesteps``."""

    latents: list[torch.Tensor]
    timesteps: list[int]

    @property
    def noisiest(self) -> torch.Tensor:
        return self.latents[-1]

    def before_step(self, i: int) -> torch.Tensor:
        """The latent a sampler with the same timesteps holds before its step ``i``."""
        return self.latents[len(self.timesteps) - i]


def ddim_scheduler(components: Components, steps: int, device: Any = None) -> Any:
    """A fresh DDIM scheduler with the model's noise schedule, its timesteps set."""
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler.from_config(components.scheduler.config)
    scheduler.set_timesteps(steps, device=device or components.device)
    return scheduler


def _alpha(scheduler: Any, timestep: int) -> torch.Tensor:
    # The same float32 values and expressions DDIMScheduler.step uses, so the round trip of a
    # constant noise model is exact to the latent dtype's precision.
    return scheduler.alphas_cumprod[timestep] if timestep >= 0 else scheduler.final_alpha_cumprod


def _to_epsilon(scheduler: Any, output: torch.Tensor, sample: torch.Tensor, alpha: Any) -> Any:
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return output
    if kind == "v_prediction":
        return alpha**0.5 * output + (1 - alpha) ** 0.5 * sample
    if kind == "sample":
        return (sample - alpha**0.5 * output) / (1 - alpha) ** 0.5
    raise ValueError(f"unsupported prediction_type {kind!r}")


def ddim_invert(
    components: Components,
    latents: torch.Tensor,
    conditioning: Conditioning,
    *,
    steps: int,
    guidance: float = 1.0,
    before_step: Callable[[int, int], None] | None = None,
    after_step: Callable[[int, int], None] | None = None,
) -> InversionTrajectory:
    """Invert clean ``latents`` through ``steps`` DDIM steps under ``conditioning``.

    ``before_step(i, steps)`` runs before each step (cancellation), ``after_step(i, steps)``
    after it (progress). Guidance 1 with a conditioning built without CFG costs one UNet call
    per step."""
    scheduler = ddim_scheduler(components, steps, latents.device)
    stride = scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    timesteps = [int(t) for t in scheduler.timesteps]
    trajectory = [latents]
    x = latents
    for k, t in enumerate(reversed(timesteps)):
        if before_step is not None:
            before_step(k, steps)
        alpha_t, alpha_p = _alpha(scheduler, t), _alpha(scheduler, t - stride)
        output = predict_noise(components, x, t, conditioning, guidance)
        eps = _to_epsilon(scheduler, output, x, alpha_t)
        x0 = (x - (1 - alpha_p) ** 0.5 * eps) / alpha_p**0.5
        x = alpha_t**0.5 * x0 + (1 - alpha_t) ** 0.5 * eps
        trajectory.append(x)
        if after_step is not None:
            after_step(k, steps)
    return InversionTrajectory(latents=trajectory, timesteps=timesteps)


def invert_image(
    components: Components,
    image: Image.Image,
    *,
    size: tuple[int, int],
    steps: int,
    prompt: str = "",
    before_step: Callable[[int, int], None] | None = None,
    after_step: Callable[[int, int], None] | None = None,
) -> InversionTrajectory:
    """The DDIM trajectory of a real image at ``size``, described by ``prompt`` (guidance 1): what
    an edited [base] and a style reference start from."""
    from anypix.models.diffusion import encode_image, encode_prompts

    clean = encode_image(components, image, size)
    conditioning = encode_prompts(components, [prompt], do_cfg=False, size=size)
    return ddim_invert(components, clean, conditioning, steps=steps, guidance=1.0,
                       before_step=before_step, after_step=after_step)  # fmt: skip


def blend_start_latents(inverted: torch.Tensor, noise: torch.Tensor, alpha: float) -> torch.Tensor:
    """``sqrt(alpha) * inverted + sqrt(1 - alpha) * noise``: alpha = 1 keeps the source exactly."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    if alpha == 1.0:
        return inverted.clone()
    return math.sqrt(alpha) * inverted + math.sqrt(1.0 - alpha) * noise.to(inverted.dtype)


def invert(
    image: Path,
    prompt: str = "",
    steps: int = 50,
    output: Path | None = None,
    _models: Components | None = None,
) -> dict[str, Any]:
    """Invert an image with DDIM: find the noise latent that the model turns back into it.

    Saves the whole latent trajectory (a torch file) so a later render can start from it, and
    reports how well sampling from the noisiest latent reconstructs the image.

    Args:
        image: the image file to invert.
        prompt: a description of the image; inversion is most faithful with the prompt that
            will be used to regenerate it.
        steps: DDIM steps (more steps, closer round trip).
        output: where to save the trajectory; default next to the image as NAME.inversion.pt.
    """
    import torch
    from PIL import Image

    from anypix.models.diffusion import denoise, encode_image, encode_prompts, load_components

    components = _models or load_components()
    with torch.inference_mode(), Image.open(image) as source:
        size = components.default_size
        clean = encode_image(components, source, size)
        conditioning = encode_prompts(components, [prompt], do_cfg=False, size=size)
        trajectory = ddim_invert(components, clean, conditioning, steps=steps)
        scheduler = ddim_scheduler(components, steps)
        rebuilt = denoise(components, trajectory.noisiest, conditioning, scheduler, 1.0)
        error = float((rebuilt - clean).abs().mean())
    target = output or image.with_suffix(".inversion.pt")
    torch.save({"latents": [x.cpu() for x in trajectory.latents], "timesteps": trajectory.timesteps,
                "prompt": prompt, "preset": components.preset}, target)  # fmt: skip
    return {"trajectory": str(target), "steps": steps, "latent_reconstruction_error": error}
