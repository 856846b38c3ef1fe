"""Shape guidance: a training-free nudge, at sampling time, towards the shape each blob asks for.

A model may put the right colour in the right place and still draw the wrong shape (a ring
without its hole, a rectangle with round corners). When the preset has a *shape critic* (a
learnt classifier that reads the shape drawn in a blob of a given colour, which the default
offline model's family ships as ``Capabilities.shape_critic``), each of the first denoising steps takes the
model's predicted clean image ``x0``, and a few gradient steps on it raise the critic's
log-probability of every blob's asked shape (universal guidance's backward step, Bansal et al.
2023: the gradient is taken with respect to ``x0``, never through the UNet). The next latent is
then moved by what the edit of ``x0`` moves it under DDIM, ``sqrt(alpha_bar_next) * dx0``.

The ``x0`` of a step is read from the UNet's own output by a forward hook (no extra UNet pass), so
the guidance of the prediction made at step ``i`` is applied before step ``i + 1``. It needs
deterministic DDIM steps (the model's default scheduler); with another scheduler it stays off
and says so in the provenance (``shape_guided``).

Knob: ``shape_guidance`` (a plan knob; None: the preset's measured default, 0: off). It is a
step size on the predicted clean image in its pixel space.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from anypix.tools.techniques import RenderJob, Technique

if TYPE_CHECKING:
    import torch

    from anypix.plan import Blob


class ShapeCritic(Protocol):
    """What shape guidance asks of a preset's critic."""

    critic_id: str

    def reads(self, blob: Blob) -> bool:
        """Whether the blob's sentence names one shape (and whatever else the critic needs)."""
        ...

    def log_likelihood(self, pixels: torch.Tensor, blobs: list[Blob]) -> torch.Tensor:
        """(B,) log-probability that each blob of the image rows ``pixels`` (B, 3, H, W) in
        [-1, 1] shows the shape its sentence asks for; differentiable in the pixels."""
        ...


# Ops whose blobs each ask for a new object to be drawn; in others (remove, move, recolor...) a
# blob may name what is to go away or keep its own drawn shape.
DRAWS = ("generate", "add")


@dataclass(frozen=True)
class ShapeGuidanceOptions:
    scale: float  # step size of each gradient step on x0's pixels
    fraction: float = 0.5  # the predictions of the first fraction of the steps are guided
    iterations: int = 3  # gradient steps on each guided x0
    smoothing: float = 0.0  # Gaussian sigma, in latent cells, the gradient is blurred by


class ShapeGuidance(Technique):
    """See the module docstring. Does nothing for a preset without a shape critic, a plan whose
    blobs name no shape, or a knob of 0."""

    name = "shape_guidance"

    def __init__(
        self, options: ShapeGuidanceOptions | None = None, critic: ShapeCritic | None = None
    ) -> None:
        self.options = options  # None: the plan's knob, else the preset's default
        self.given = critic  # None: the preset's critic
        self.critic: ShapeCritic | None = None
        self.blobs: list[Blob] = []
        self.record: dict[str, Any] = {}
        self._job: RenderJob | None = None
        self._timesteps: list[int] = []
        self._prediction: tuple[torch.Tensor, Any, torch.Tensor] | None = None  # (x, t, output)

    # -- choosing ---------------------------------------------------------------------------------

    def prepare(self, job: RenderJob) -> None:
        import torch

        from anypix.models.diffusion import make_scheduler

        options = self.options or _preset_options(job)
        if options is None or options.scale <= 0:
            return
        critic = self.given
        if critic is None:
            with torch.inference_mode(False):  # its weights must be usable by autograd
                critic = _preset_critic(job.components.preset)
        if critic is None:
            return
        self.blobs = [blob for blob in job.plan.blobs if critic.reads(blob)]
        if not self.blobs:
            return
        if job.components.scheduler_name != "ddim":
            self.record = {"shape_guided": "no: it needs deterministic DDIM steps"}
            return
        scheduler = make_scheduler(job.components.scheduler_name, job.components.scheduler.config)
        scheduler.set_timesteps(job.steps)
        self._timesteps = [int(t) for t in scheduler.timesteps]
        self.critic, self.options, self._job = critic, options, job
        self.record = {"shape_guided": {
            "critic": critic.critic_id, "scale": options.scale, "fraction": options.fraction,
            "iterations": options.iterations, "blobs": len(self.blobs)}}  # fmt: skip

    # -- reading the UNet's prediction -------------------------------------------------------------

    def hooks(self, job: RenderJob) -> AbstractContextManager[Any]:
        return nullcontext() if self.critic is None else self._watching(job)

    @contextmanager
    def _watching(self, job: RenderJob) -> Iterator[None]:
        def keep(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
            sample = args[0] if args else kwargs["sample"]
            timestep = args[1] if len(args) > 1 else kwargs["timestep"]
            self._prediction = (sample, timestep, output.sample)

        handle = job.components.unet.register_forward_hook(keep, with_kwargs=True)
        try:
            yield
        finally:
            handle.remove()
            self._prediction = None

    # -- guiding -------------------------------------------------------------------------------------

    def before_step(self, i: int, n: int, latents: torch.Tensor) -> torch.Tensor:
        """Move the target row by the guided edit of the clean image predicted at step i - 1."""
        if self.critic is None or self._prediction is None or i == 0:
            return latents
        assert self.options is not None and self._job is not None
        if i > round(self.options.fraction * n):
            return latents
        job = self._job
        x0 = self._predicted_clean(job)
        guided = self._guided(job, x0)
        alphas = job.components.scheduler.alphas_cumprod
        step_gain = float(alphas[self._timesteps[i]]) ** 0.5
        target = latents[job.rows :] + step_gain * (guided - x0).to(latents.dtype)
        import torch

        return torch.cat([latents[: job.rows], target])

    def _predicted_clean(self, job: RenderJob) -> torch.Tensor:
        """The target row's x0 as the last step's scheduler saw it (after classifier-free
        guidance)."""
        assert self._prediction is not None
        sample, timestep, output = self._prediction
        if job.do_cfg:
            sample = sample.chunk(2)[0]
            uncond, cond = output.chunk(2)
            output = uncond + job.guidance * (cond - uncond)
        scheduler = job.components.scheduler
        alpha = scheduler.alphas_cumprod[int(timestep)].to(sample.device, sample.dtype)
        x, out = sample[job.rows :], output[job.rows :]
        kind = scheduler.config.prediction_type
        if kind == "v_prediction":
            return alpha.sqrt() * x - (1 - alpha).sqrt() * out
        if kind == "epsilon":
            return (x - (1 - alpha).sqrt() * out) / alpha.sqrt()
        return out

    def _guided(self, job: RenderJob, x0: torch.Tensor) -> torch.Tensor:
        assert self.critic is not None and self.options is not None
        vae = job.components.vae
        return guided_clean(x0, lambda x: vae.decode(x / vae.config.scaling_factor).sample,
                            self.critic, self.blobs, self.options)  # fmt: skip

    def provenance(self) -> dict[str, Any]:
        return self.record


def guided_clean(
    x0: torch.Tensor, decode: Callable[[torch.Tensor], torch.Tensor], critic: ShapeCritic,
    blobs: list[Blob], options: ShapeGuidanceOptions,
) -> torch.Tensor:  # fmt: skip
    """The clean latent ``x0`` (1, C, h, w) after ``options.iterations`` gradient steps that raise
    ``critic``'s log-likelihood of every blob's asked shape in the decoded pixels."""
    import torch

    with torch.inference_mode(False), torch.enable_grad():
        current = x0.detach().clone().float()
        for _ in range(options.iterations):
            current.requires_grad_(True)
            pixels = decode(current).expand(len(blobs), -1, -1, -1)
            loss = -critic.log_likelihood(pixels, blobs).sum()
            (gradient,) = torch.autograd.grad(loss, current)
            current = (current - options.scale * _blurred(gradient, options.smoothing)).detach()
    return current.to(x0.dtype)


def _blurred(latents: torch.Tensor, sigma: float) -> torch.Tensor:
    """Each channel of (1, C, h, w) ``latents`` blurred by a Gaussian of ``sigma`` cells: the
    critic's gradient is spiky (a few pixels carry most of it); blurred, it moves regions."""
    import torch
    import torch.nn.functional as F

    if sigma <= 0:
        return latents
    radius = max(1, round(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=latents.dtype, device=latents.device)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = latents.shape[1]
    rows = F.conv2d(latents, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1),
                    padding=(0, radius), groups=channels)  # fmt: skip
    return F.conv2d(rows, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1),
                    padding=(radius, 0), groups=channels)  # fmt: skip


def _preset_options(job: RenderJob) -> ShapeGuidanceOptions | None:
    """The plan's ``shape_guidance`` knob, else the preset's default scale (None: none)."""
    from anypix.errors import ModelUnavailableError
    from anypix.models.registry import capabilities

    knob = job.plan.knobs.shape_guidance
    if knob is not None:
        return ShapeGuidanceOptions(scale=knob)
    try:
        scale = capabilities(job.components.preset).shape_guidance
    except ModelUnavailableError:
        return None
    return None if scale is None else ShapeGuidanceOptions(scale=scale)


def _preset_critic(preset: str) -> ShapeCritic | None:
    from anypix.errors import ModelUnavailableError
    from anypix.models.registry import capabilities

    try:
        loader = capabilities(preset).shape_critic
        return None if loader is None else loader()
    except ModelUnavailableError:  # a preset the registry does not know, or weights not there
        return None
