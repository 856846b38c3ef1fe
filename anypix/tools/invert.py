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
``x_p``; each pass evaluates ``F`` again at the latest ``x_t`` (one more UNet call), as in the
fixed-point inversions of Pan et al. (AIDI, 2023) and ReNoise (Garibi et al., 2024).

**The default is nearly free.** A pass only needs a first guess of the step's noise, and the
noise along the trajectory changes smoothly from step to step, so the linear extrapolation of
the two previous steps' last predictions is a better guess than plain DDIM's (which costs a UNet
call) -- two to eight times closer to the fixed point on the default model in the middle of the
schedule. Started there, one pass a step costs plain DDIM's UNet calls (the least noisy step,
with nothing to extrapolate from, is plain DDIM: its error is under 3e-4 of the latent). What the
sampler then misses concentrates where the iteration contracts slowly (the second least noisy
step: each pass keeps 0.8-0.9 of the error) and at the noisiest step, whose error the rest of
the sampling amplifies; one more pass on each of those two, ``fixed-point-1-extrapolated-more-
1,-1``, costs 22 calls for 20 steps. In the middle of the schedule the extrapolation is close
enough that a step can **coast** on it, with no pass at all: the default,
``fixed-point-1-extrapolated-more-1,-1-coast-4``, coasts on every fourth step (4, 8, 12 and 16
of 20) and costs 18 calls, two fewer than plain DDIM. Issue 18 counts the cost at SD 1.5 size (VAE
and UNet FLOPs): an edit's inversion + regeneration is about 1.45x a plain generation, against
1.50x with plain DDIM, 1.54x without coasting and 2.0x with a DDIM estimate plus one pass on every
step.

Measured on the default offline model (v2 weights): clean renders of the fidelity benchmark's
16 held-out inversion scenes (seeds 120000-120015), inverted under their captions at guidance 1,
20 steps, regenerated and compared in pixels (``benchmarks/fidelity.py``'s ``inversion_psnr``).
docs/inversion.md has every variant tried.

==========================================================  =====  ==========================
method                                                      calls  reconstruction PSNR (dB)
==========================================================  =====  ==========================
plain DDIM (``DDIM``)                                       20     27.3
DDIM estimate + 1 pass over-relaxed 1.5 (the old default)   40     35.2
extrapolated start, 1 pass a step                           20     37.6
the same + 1 pass on the noisiest two steps                 22     40.8
the same + 1 pass on steps 1 and -1 (default until v3)      22     42.0
==========================================================  =====  ==========================

On the shipped v3 weights (the same 16 held-out scenes), the 22-call method gives 38.3 dB and
**the same coasting on every fourth step (default)** 40.7 dB with 18 calls; it was chosen on 16
dev scenes (seeds 520000+: 37.5 dB against 37.1), before the held-out scenes were run.

Every method loses on one hard scene (120009: 27.0 dB with the default, 25.0 plain DDIM, 22.6
the old default): there the sampler amplifies step mismatches no larger than on scenes that come
back at 38 dB. Over-relaxing the extrapolated passes overshoots on some scenes (13.8 dB on 120000
with 1.5), so the default moves the whole way. ``DDIM`` is there for whoever wants the rougher one; an inversion is done once
per image, prompt and method (:mod:`anypix.tools.inversion_cache`).

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.models.diffusion import Components, Conditioning, predict_noise

if TYPE_CHECKING:
    import torch
    from PIL import Image


@dataclass(frozen=True)
class InversionMethod:
    """How each inversion step is solved: ``refine`` fixed-point passes a step (0: plain DDIM
    inversion) on the ``refine_last`` noisiest steps (None: every step), one more on each step of
    ``refine_more`` (indices: 0 the least noisy step, -1 the noisiest), each pass moving
    ``relaxation`` times the way to the update (1: plain iteration; over 1: over-relaxed).

    Each pass is one UNet call, and starts from a first estimate of the step's noise: plain
    DDIM's, one UNet call at the lower latent, or with ``extrapolate`` the linear extrapolation
    of the two previous steps' last noise predictions, which costs nothing. A step costs
    ``1 + passes`` calls, or ``max(1, passes)`` with ``extrapolate`` (the first step has nothing
    to extrapolate from: its plain DDIM estimate is its first pass).

    With ``extrapolate``, ``coast_every`` n > 0 lets every n-th step (k = n, 2n, ...; never the
    first, the two noisiest, nor a step of ``refine_more``) coast: it takes the extrapolated noise
    as it is, with no pass and no UNet call. (Coasting on the second noisiest step costs about 7
    dB on the default model: docs/inversion.md.)"""

    refine: int = 0
    refine_last: int | None = None
    relaxation: float = 1.0
    extrapolate: bool = False
    refine_more: tuple[int, ...] = ()
    coast_every: int = 0

    def __post_init__(self) -> None:
        if self.refine < 0 or (self.refine_last is not None and self.refine_last < 0):
            raise ValueError(f"refine ({self.refine}) and refine_last ({self.refine_last}) "
                             "must be at least 0")  # fmt: skip
        if not 0 < self.relaxation < 2:
            raise ValueError(f"relaxation must be in (0, 2), got {self.relaxation}")
        if self.coast_every < 0 or (self.coast_every and not self.extrapolate):
            raise ValueError(f"coast_every ({self.coast_every}) must be at least 0, and needs "
                             "extrapolate (a coasting step takes the extrapolated noise)")  # fmt: skip

    @property
    def name(self) -> str:
        """``ddim``, ``fixed-point-2``, ``fixed-point-1-last-5``, ``fixed-point-1-w1.5`` or
        ``fixed-point-1-extrapolated-more-1,-1``: what provenance and the inversion cache's key
        record."""
        if (self.refine == 0 or self.refine_last == 0) and not self.refine_more:
            return "ddim"
        last = "" if self.refine_last is None else f"-last-{self.refine_last}"
        relaxed = "" if self.relaxation == 1 else f"-w{self.relaxation:g}"
        extrapolated = "-extrapolated" if self.extrapolate else ""
        more = f"-more-{','.join(map(str, self.refine_more))}" if self.refine_more else ""
        coast = f"-coast-{self.coast_every}" if self.coast_every else ""
        return f"fixed-point-{self.refine}{last}{relaxed}{extrapolated}{more}{coast}"

    def _more(self, k: int, steps: int) -> int:
        """The extra passes ``refine_more`` names for step ``k``."""
        return sum(1 for i in self.refine_more if i == k or i == k - steps)

    def coasts(self, k: int, steps: int) -> bool:
        """Step ``k`` takes the extrapolated noise without a pass (``coast_every``)."""
        every = self.coast_every
        return bool(every) and 0 < k < steps - 2 and k % every == 0 and not self._more(k, steps)

    def refinements(self, k: int, steps: int) -> int:
        """Fixed-point passes of inversion step ``k`` (0: the least noisy) of ``steps``."""
        if self.coasts(k, steps):
            return 0
        noisiest = steps if self.refine_last is None else self.refine_last
        passes = self.refine if k >= steps - noisiest else 0
        return passes + self._more(k, steps)

    def unet_calls(self, steps: int) -> int:
        """UNet evaluations of one inversion of ``steps`` steps (one batch row each)."""
        passes = [self.refinements(k, steps) for k in range(steps)]
        if self.extrapolate:
            return sum(0 if self.coasts(k, steps) else max(1, p) for k, p in enumerate(passes))
        return steps + sum(passes)


DDIM = InversionMethod()
# The default for edits and style references: 40.7 dB on the default offline model's clean
# renders (v3 weights, held-out scenes) for 2 UNet calls fewer than plain DDIM in 20 steps
# (module docstring).
DEFAULT_INVERSION = InversionMethod(refine=1, extrapolate=True, refine_more=(1, -1), coast_every=4)


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


def _noise(
    components: Components, scheduler: Any, conditioning: Conditioning, guidance: float,
    t: int, alpha_t: Any, point: torch.Tensor,
) -> torch.Tensor:  # fmt: skip
    """The noise (epsilon) the model predicts at ``point`` for level ``t``: one UNet call."""
    output = predict_noise(components, point, t, conditioning, guidance)
    return _to_epsilon(scheduler, output, point, alpha_t)


def _step_up(start: torch.Tensor, eps: torch.Tensor, alpha_t: Any, alpha_p: Any) -> torch.Tensor:
    """The latent one inversion step above ``start`` (level ``alpha_p``) at level ``alpha_t``,
    with the noise ``eps``."""
    x0 = (start - (1 - alpha_p) ** 0.5 * eps) / alpha_p**0.5
    return alpha_t**0.5 * x0 + (1 - alpha_t) ** 0.5 * eps


def _extrapolated(history: list[torch.Tensor]) -> torch.Tensor:
    """The next step's noise, linear in the (evenly spaced) timestep from the last two steps'
    (the last one's where there is only one)."""
    return history[-1] if len(history) == 1 else 2 * history[-1] - history[-2]


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
    history: list[torch.Tensor] = []  # the last two steps' last noise predictions
    for k, t in enumerate(reversed(timesteps)):
        if before_step is not None:
            before_step(k, steps)
        alpha_t, alpha_p = _alpha(scheduler, t), _alpha(scheduler, t - stride)
        passes = method.refinements(k, steps)
        if method.extrapolate and (passes or method.coasts(k, steps)) and history:
            eps = _extrapolated(history)
        else:  # plain DDIM's estimate: the noise predicted at the lower latent
            eps = _noise(components, scheduler, conditioning, guidance, t, alpha_t, x)
            passes = max(0, passes - 1) if method.extrapolate else passes
        noisier = _step_up(x, eps, alpha_t, alpha_p)
        for _ in range(passes):
            # The noise predicted where the sampler will predict it: at the noisier latent.
            eps = _noise(components, scheduler, conditioning, guidance, t, alpha_t, noisier)
            noisier = noisier + method.relaxation * (_step_up(x, eps, alpha_t, alpha_p) - noisier)
        history = [*history[-1:], eps]
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
        refine: fixed-point passes of each inversion step, one UNet call each, started from
            extrapolated noise as edits' are (0: plain DDIM inversion; default: what edits use).
        output: where to save the trajectory; default next to the image as NAME.inversion.pt.
    """
    import torch
    from PIL import Image

    from anypix.models.diffusion import denoise, encode_image, encode_prompts, load_components

    method = DEFAULT_INVERSION
    if refine is not None:
        method = replace(DEFAULT_INVERSION, refine=refine) if refine else DDIM
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
