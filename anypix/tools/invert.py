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

**Fixed-point refinement** (:class:`InversionMethod`) removes that approximation: the latent
``x_t`` that a sampling step takes exactly to ``x_p`` solves ``x_t = F(x_t)``, the inversion
update above with ``eps`` predicted at ``x_t`` itself. Plain DDIM is one evaluation of ``F`` at
``x_p``; each refinement evaluates ``F`` again at the latest ``x_t`` (one more UNet call per
step), as in the fixed-point inversions of Pan et al. (AIDI, 2023) and ReNoise (Garibi et al.,
2024). On the default (offline) model the iteration creeps towards its fixed point (each pass keeps
the error's sign), so an over-relaxed pass, ``x_t += 1.5 * (F(x_t) - x_t)``, goes further for
the same call.

What it buys and costs, measured on the default offline model, v1 (clean renders of the fidelity
benchmark's held-out scenes 120000-120003, under their captions, 20 steps, guidance 1,
regenerated and compared in pixels; UNet calls per inversion):

=================================  =====  ======================================
method                             calls  reconstruction PSNR (dB)
=================================  =====  ======================================
plain DDIM (``DDIM``)              20     26.4 (33.1 24.8 24.3 23.5)
1 refinement (``refine=1``)        40     35.6 (40.2 33.8 33.9 34.5)
2 refinements                      60     41.6 (43.0 40.0 41.7: scenes 1, 3, 4)
1 refinement, over-relaxed 1.5     40     38.5 (41.0 on the second scene)
=================================  =====  ======================================

Over-relaxing by 2 overshoots (28.4 dB on the second scene). Refining only the noisiest steps
buys less per call (``refine_last``: one refinement of the 5 noisiest steps, 25 calls, gives
35.8 and 31.0 dB on the first two scenes). The default (:data:`DEFAULT_INVERSION`) is the
over-relaxed single refinement: the >= 35 dB of issue 16 at twice plain DDIM's UNet calls
(2.3x its time on the shared CPU). ``DDIM`` is there for whoever needs the cheaper, rougher
one; an inversion is done once per image, prompt and method (:mod:`anypix.tools.inversion_cache`).

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


@dataclass(frozen=True)
class InversionMethod:
    """How each inversion step is solved: ``refine`` fixed-point iterations after the plain DDIM
    estimate (0: plain DDIM inversion), on the ``refine_last`` noisiest steps (None: every step),
    each moving ``relaxation`` times the way to the update (1: plain iteration; over 1:
    over-relaxed, faster where the iteration creeps towards its fixed point, as it does on the
    default offline model). A step costs ``1 + refine`` UNet calls where it is refined, one elsewhere."""

    refine: int = 0
    refine_last: int | None = None
    relaxation: float = 1.0

    def __post_init__(self) -> None:
        if self.refine < 0 or (self.refine_last is not None and self.refine_last < 0):
            raise ValueError(f"refine ({self.refine}) and refine_last ({self.refine_last}) "
                             "must be at least 0")  # fmt: skip
        if not 0 < self.relaxation < 2:
            raise ValueError(f"relaxation must be in (0, 2), got {self.relaxation}")

    @property
    def name(self) -> str:
        """``ddim``, ``fixed-point-2``, ``fixed-point-1-last-5`` or ``fixed-point-1-w1.5``: what
        provenance and the inversion cache's key record."""
        if self.refine == 0 or self.refine_last == 0:
            return "ddim"
        last = "" if self.refine_last is None else f"-last-{self.refine_last}"
        relaxed = "" if self.relaxation == 1 else f"-w{self.relaxation:g}"
        return f"fixed-point-{self.refine}{last}{relaxed}"

    def refinements(self, k: int, steps: int) -> int:
        """Fixed-point iterations of inversion step ``k`` (0: the least noisy) of ``steps``."""
        noisiest = steps if self.refine_last is None else self.refine_last
        return self.refine if k >= steps - noisiest else 0

    def unet_calls(self, steps: int) -> int:
        """UNet evaluations of one inversion of ``steps`` steps (one batch row each)."""
        return steps + sum(self.refinements(k, steps) for k in range(steps))


DDIM = InversionMethod()
# The default for edits and style references: the least UNet calls that reconstruct the
# default offline model's clean renders at >= 35 dB (module docstring).
DEFAULT_INVERSION = InversionMethod(refine=1, relaxation=1.5)


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


def _inversion_update(
    components: Components, scheduler: Any, conditioning: Conditioning, guidance: float,
    level: tuple[int, Any, Any], start: torch.Tensor, point: torch.Tensor,
) -> torch.Tensor:  # fmt: skip
    """The latent at ``level = (t, alpha_t, alpha_prev)`` one inversion step above ``start``, with
    the noise predicted at ``point`` (``start`` itself: plain DDIM)."""
    t, alpha_t, alpha_p = level
    output = predict_noise(components, point, t, conditioning, guidance)
    eps = _to_epsilon(scheduler, output, point, alpha_t)
    x0 = (start - (1 - alpha_p) ** 0.5 * eps) / alpha_p**0.5
    return alpha_t**0.5 * x0 + (1 - alpha_t) ** 0.5 * eps


def ddim_invert(
    components: Components,
    latents: torch.Tensor,
    conditioning: Conditioning,
    *,
    steps: int,
    guidance: float = 1.0,
    method: InversionMethod = DEFAULT_INVERSION,
    before_step: Callable[[int, int], None] | None = None,
    after_step: Callable[[int, int], None] | None = None,
) -> InversionTrajectory:
    """Invert clean ``latents`` through ``steps`` DDIM steps under ``conditioning``, each step
    solved by ``method``.

    ``before_step(i, steps)`` runs before each step (cancellation), ``after_step(i, steps)``
    after it (progress). Guidance 1 with a conditioning built without CFG costs
    ``method.unet_calls(steps)`` UNet calls (``steps`` for plain DDIM)."""
    scheduler = ddim_scheduler(components, steps, latents.device)
    stride = scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    timesteps = [int(t) for t in scheduler.timesteps]
    trajectory = [latents]
    x = latents
    for k, t in enumerate(reversed(timesteps)):
        if before_step is not None:
            before_step(k, steps)
        level = (t, _alpha(scheduler, t), _alpha(scheduler, t - stride))
        noisier = _inversion_update(components, scheduler, conditioning, guidance, level, x, x)
        for _ in range(method.refinements(k, steps)):
            # The noise predicted where the sampler will predict it: at the noisier latent.
            update = _inversion_update(components, scheduler, conditioning, guidance, level, x,
                                       noisier)  # fmt: skip
            noisier = noisier + method.relaxation * (update - noisier)
        x = noisier
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
    method: InversionMethod = DEFAULT_INVERSION,
    before_step: Callable[[int, int], None] | None = None,
    after_step: Callable[[int, int], None] | None = None,
) -> InversionTrajectory:
    """The DDIM trajectory of a real image at ``size``, described by ``prompt`` (guidance 1): what
    an edited [base] and a style reference start from."""
    from anypix.models.diffusion import encode_image, encode_prompts

    clean = encode_image(components, image, size)
    conditioning = encode_prompts(components, [prompt], do_cfg=False, size=size)
    return ddim_invert(components, clean, conditioning, steps=steps, guidance=1.0, method=method,
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
    refine: int | None = None,
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
        refine: fixed-point refinements of each inversion step, one UNet call each, over-relaxed
            as edits' are (0: plain DDIM inversion; default: what edits use).
        output: where to save the trajectory; default next to the image as NAME.inversion.pt.
    """
    import torch
    from PIL import Image

    from anypix.models.diffusion import denoise, encode_image, encode_prompts, load_components

    method = DEFAULT_INVERSION if refine is None else InversionMethod(
        refine=refine, relaxation=DEFAULT_INVERSION.relaxation
    )
    components = _models or load_components()
    with torch.inference_mode(), Image.open(image) as source:
        size = components.default_size
        clean = encode_image(components, source, size)
        conditioning = encode_prompts(components, [prompt], do_cfg=False, size=size)
        trajectory = ddim_invert(components, clean, conditioning, steps=steps, method=method)
        scheduler = ddim_scheduler(components, steps)
        rebuilt = denoise(components, trajectory.noisiest, conditioning, scheduler, 1.0)
        error = float((rebuilt - clean).abs().mean())
    target = output or image.with_suffix(".inversion.pt")
    torch.save({"latents": [x.cpu() for x in trajectory.latents], "timesteps": trajectory.timesteps,
                "prompt": prompt, "preset": components.preset, "method": method.name},
               target)  # fmt: skip
    return {"trajectory": str(target), "steps": steps, "method": method.name,
            "latent_reconstruction_error": error}  # fmt: skip
