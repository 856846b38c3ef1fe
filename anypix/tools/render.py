"""The one render function: an :class:`~anypix.plan.EditPlan` in, images and provenance out.

Everything a plan asks for happens in **one** diffusion call over one batch:

* ``[base]``: the base image is DDIM-inverted under the prompt (guidance 1) and the start latent
  is ``sqrt(alpha) * inverted + sqrt(1 - alpha) * noise`` (alpha = 1 keeps the source; see
  :mod:`anypix.tools.invert`);
* ``[sub]``: subject conditioning (:mod:`anypix.tools.subject`);
* ``[style]``: the style reference is inverted too and rides along as batch row 0, replaced at
  every step by its inverted latent, while StyleAligned shares its attention with the target row
  (:mod:`anypix.models.attention`);
* blobs / boxes: engine grounding hooks from :mod:`anypix.tools.layout`.

Renders are pure: the same plan, seed, model and device give the same pixels. The seed is drawn
when the plan leaves it out, and recorded, like every other value actually used.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.errors import AssetError, CancelledError, NotAvailableError, UnknownAssetError
from anypix.models.attention import StyleAlignedOptions
from anypix.models.diffusion import Components
from anypix.plan import EditPlan
from anypix.records import Provenance, Render

if TYPE_CHECKING:
    import torch
    from PIL import Image

START_BLEND = "sqrt(alpha) * ddim_inverted(base) + sqrt(1 - alpha) * noise(seed)"
STYLE_OPTIONS = StyleAlignedOptions()
INVERSION_GUIDANCE = 1.0


@dataclass(frozen=True)
class Sampling:
    """The knob values a render actually uses (the plan's, or the preset's defaults)."""

    steps: int
    guidance: float
    seed: int
    size: tuple[int, int]  # (width, height)

    @property
    def do_cfg(self) -> bool:
        return self.guidance > 1.0


class Ticker:
    """Counts UNet passes for the progress callback and polls the cancel callback."""

    def __init__(self, total: int, progress: Callable[[int, int], None] | None,
                 cancel: Callable[[], bool] | None) -> None:  # fmt: skip
        self.total, self.done = total, 0
        self.progress, self.cancel = progress, cancel

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise CancelledError(f"render cancelled after {self.done} of {self.total} steps")

    def tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def resolve_sampling(plan: EditPlan, components: Components) -> Sampling:
    knobs = plan.knobs
    multiple = components.size_multiple
    width, height = knobs.size or components.default_size
    # Sides snap down to what the VAE and UNet can divide; the size used is recorded.
    size = (
        max(multiple, width // multiple * multiple),
        max(multiple, height // multiple * multiple),
    )
    return Sampling(
        steps=knobs.steps or components.default_steps,
        guidance=components.default_guidance if knobs.guidance is None else knobs.guidance,
        seed=secrets.randbits(31) if knobs.seed is None else knobs.seed,
        size=size,
    )


def load_asset(name: str, assets: Mapping[str, Image.Image | Path]) -> tuple[Image.Image, str]:
    """An asset image and its sha256 (of the file's bytes, or of mode, size and pixels)."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    if name not in assets:
        raise UnknownAssetError(name, list(assets))
    value = assets[name]
    if isinstance(value, PILImage.Image):
        digest = hashlib.sha256(f"{value.mode}:{value.size}:".encode() + value.tobytes())
        return value.convert("RGB"), digest.hexdigest()
    path = Path(value)
    try:
        data = path.read_bytes()
        with PILImage.open(path) as opened:
            image = opened.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise AssetError(
            f"[{name}] ({path}) is not a readable image: {exc}", "attach a PNG or JPEG"
        ) from None
    return image, hashlib.sha256(data).hexdigest()


def prompt_of(plan: EditPlan) -> str:
    """The text the diffusion model is conditioned on: [gen], else the ops' targets."""
    return plan.gen or ", ".join(op.target for op in plan.ops if op.target)


def render(
    plan: EditPlan,
    assets: Mapping[str, Image.Image | Path],
    models: Components | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Render:
    """Render ``plan`` in one diffusion call. ``models`` None loads ``settings.model``.

    ``progress(done, total)`` is called after every UNet pass (inversions included) and
    ``cancel()`` is polled before each; when it returns True a CancelledError is raised."""
    import torch

    from anypix.models.diffusion import load_components

    started = time.perf_counter()
    components = models or load_components()
    timings = {"load": time.perf_counter() - started}
    sampling = resolve_sampling(plan, components)
    images, inputs = _load_images(plan, assets)
    inversions = sampling.steps * (int(plan.base is not None) + int(plan.style_ref is not None))
    ticker = Ticker(inversions + sampling.steps, progress, cancel)
    with torch.inference_mode():
        latents, style_rows, extra = _denoise_plan(
            plan, images, components, sampling, ticker, timings
        )
        mark = time.perf_counter()
        from anypix.models.diffusion import decode_latents

        outputs = decode_latents(components, latents[style_rows:])
        timings["decode"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    return Render(images=outputs, provenance=_provenance(plan, components, sampling, inputs, extra),
                  timings=timings)  # fmt: skip


def load_sound(name: str, assets: Mapping[str, Any]) -> tuple[tuple[Any, int], str] | None:
    """An audio asset as ``((mono float32 waveform, rate), sha256)``, or None if not audio."""
    if name not in assets or not isinstance(assets[name], str | Path):
        return None
    path = Path(assets[name])
    from anypix.media import sniff

    try:
        modality, _ = sniff(path)
    except AssetError:
        return None
    if modality != "audio":
        return None
    import soundfile

    try:
        waveform, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AssetError(f"[{name}] ({path}) is not readable audio: {exc}",
                         "attach a WAV, FLAC or OGG file") from None  # fmt: skip
    return (waveform.mean(axis=1), int(rate)), hashlib.sha256(path.read_bytes()).hexdigest()


def _load_images(
    plan: EditPlan, assets: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Images of the plan's assets; [sub] sounds load as (waveform, rate) for models that embed
    audio (the miniworld's binding encoder)."""
    loaded: dict[str, tuple[Any, str]] = {}
    for name in plan.subs:
        sound = load_sound(name, assets)
        if sound is not None:
            loaded[name] = sound
    names = [n for n in (plan.base, *plan.subs, plan.style_ref) if n is not None]
    loaded |= {name: load_asset(name, assets) for name in names if name not in loaded}
    return {n: item for n, (item, _) in loaded.items()}, {n: h for n, (_, h) in loaded.items()}


def _noise(sampling: Sampling, components: Components) -> torch.Tensor:
    import torch

    # Drawn on the CPU from the seed so every device starts from the same numbers.
    factor = components.vae_scale_factor
    width, height = sampling.size
    shape = (1, components.unet.config.in_channels, height // factor, width // factor)
    generator = torch.Generator("cpu").manual_seed(sampling.seed)
    return torch.randn(shape, generator=generator).to(components.device, components.dtype)


def _denoise_plan(
    plan: EditPlan, images: dict[str, Any], components: Components, sampling: Sampling,
    ticker: Ticker, timings: dict[str, float],
) -> tuple[torch.Tensor, int, dict[str, Any]]:  # fmt: skip
    """Steps 1-6 of a render; returns the final latents, how many leading rows are the style
    reference, and extra provenance."""
    import torch

    from anypix.models.attention import style_aligned
    from anypix.models.diffusion import denoise, encode_image, encode_prompts, make_scheduler
    from anypix.tools.invert import blend_start_latents, ddim_invert

    mark = time.perf_counter()
    extra: dict[str, Any] = {}
    if plan.subs:
        from anypix.tools.subject import described_subjects

        plan, described = described_subjects(plan, images, components)
        if described:
            extra["subject_descriptions"] = described
    prompt = prompt_of(plan)
    extra["prompt"] = prompt

    def invert(image: Any, text: str) -> Any:
        clean = encode_image(components, image, sampling.size)
        cond = encode_prompts(components, [text], do_cfg=False, size=sampling.size)
        return ddim_invert(
            components, clean, cond, steps=sampling.steps, guidance=INVERSION_GUIDANCE,
            before_step=lambda i, n: ticker.check(), after_step=lambda i, n: ticker.tick(),
        )  # fmt: skip

    # 1. Start latent: fresh noise, or the inverted [base] blended with it by alpha.
    start = _noise(sampling, components)
    keep: KeepOutside | None = None
    if plan.base is not None:
        base = invert(images[plan.base], prompt)
        start = blend_start_latents(base.noisiest, start, plan.knobs.alpha)
        extra.update(start_blend=START_BLEND, inversion_guidance=INVERSION_GUIDANCE)
        keep = KeepOutside.of(plan, base, sampling, components)
        if keep is not None:
            extra["keep_outside_regions"] = KEEP_OUTSIDE
            if any(op.op in FRESH_INSIDE for op in plan.ops):  # new content grows from noise
                start = keep.inside * _noise(sampling, components) + (1 - keep.inside) * start
                extra["start_inside_regions"] = "noise(seed)"
    # 2. The style reference, inverted, rides along as row 0.
    reference = invert(images[plan.style_ref], "") if plan.style_ref is not None else None
    style_rows = int(reference is not None)
    latents = start if reference is None else torch.cat([reference.noisiest, start])
    timings["invert"] = time.perf_counter() - mark
    # 3. Text conditioning, [uncond..., cond...]; the reference row is described by "".
    prompts = [""] * style_rows + [prompt]
    conditioning = encode_prompts(components, prompts, do_cfg=sampling.do_cfg, size=sampling.size)
    # 4. Subjects.
    if plan.subs:
        from anypix.tools.subject import subject_conditioning

        subjects = subject_conditioning(components, [images[n] for n in plan.subs])
        conditioning = subjects.apply(conditioning, skip_rows=range(style_rows))
        extra["subjects"] = subjects.method
    # 5. Scheduler and the hooks each technique installs, all removed on exit.
    scheduler = make_scheduler(components.scheduler_name, components.scheduler.config)
    scheduler.set_timesteps(sampling.steps, device=components.device)
    mark = time.perf_counter()
    with ExitStack() as stack:
        if reference is not None:
            stack.enter_context(
                style_aligned(components.unet, STYLE_OPTIONS, do_cfg=sampling.do_cfg)
            )
            extra["style_aligned"] = asdict(STYLE_OPTIONS)
        hooks = _grounding(stack, plan, components, sampling)

        def before_step(i: int, n: int, x: torch.Tensor) -> torch.Tensor:
            ticker.check()
            if hooks is not None:
                hooks.before_step(i, n)
            if keep is not None:
                x = torch.cat([x[:style_rows], keep.apply(x[style_rows:], i)])
            if reference is not None:
                x = torch.cat([reference.before_step(i).to(x.dtype), x[style_rows:]])
            return x

        # 6. One denoising loop for everything.
        latents = denoise(
            components, latents, conditioning, scheduler, sampling.guidance,
            cross_attention_kwargs=hooks.cross_attention_kwargs if hooks is not None else None,
            before_step=before_step, after_step=lambda i, n: ticker.tick(),
        )  # fmt: skip
    if keep is not None:
        latents = torch.cat([latents[:style_rows], keep.apply(latents[style_rows:], None)])
    timings["denoise"] = time.perf_counter() - mark
    return latents, style_rows, extra


FRESH_INSIDE = ("add", "replace", "remove")  # ops whose regions lose what the base had there
KEEP_OUTSIDE = "outside the blobs/boxes, latents follow the [base]'s inversion at every step"


@dataclass
class KeepOutside:
    """Local edits keep the rest of the image: when a plan edits a [base] inside blobs or boxes,
    every latent cell no region touches is replaced, before each step, by the [base]'s inverted
    latent at that step (and by its clean latent at the end), as in blended latent diffusion."""

    inside: torch.Tensor  # (1, 1, h, w) float: 1 where a region touches the latent cell
    trajectory: Any  # InversionTrajectory of the base

    @classmethod
    def of(cls, plan: EditPlan, trajectory: Any, sampling: Sampling,
           components: Components) -> KeepOutside | None:  # fmt: skip
        if not (plan.blobs or plan.boxes):
            return None
        import torch.nn.functional as F

        from anypix.models.blob import blob_masks
        from anypix.tools.layout import regions_of

        width, height = sampling.size
        masks = blob_masks(regions_of(plan, width, height), height, width)
        union = masks.any(dim=0, keepdim=True).unsqueeze(0).float()
        latent_size = tuple(trajectory.noisiest.shape[-2:])
        inside = (F.adaptive_max_pool2d(union, latent_size) > 0).float()  # any pixel touched
        return cls(inside.to(components.device, components.dtype), trajectory)

    def apply(self, latents: torch.Tensor, step: int | None) -> torch.Tensor:
        """Latents with the outside replaced by the base's at sampling step ``step`` (None: the
        clean latent, after the last step)."""
        source = self.trajectory.latents[0] if step is None else self.trajectory.before_step(step)
        inside = self.inside.to(latents.dtype)
        return inside * latents + (1 - inside) * source.to(latents.dtype)


def _grounding(stack: ExitStack, plan: EditPlan, components: Components, sampling: Sampling) -> Any:
    """Enter engine B's grounding context for plans with blobs or boxes (None otherwise). A plan
    that only removes draws nothing into its regions: they say where the base is erased."""
    if not (plan.blobs or plan.boxes) or all(op.op == "remove" for op in plan.ops):
        return None
    try:
        from anypix.tools.layout import grounding
    except ImportError:
        raise NotAvailableError(
            "blob and box grounding is not available in this build yet",
            "remove the [blob]/[box] lines from the plan",
        ) from None
    from anypix.models.diffusion import text_token_states

    width, height = sampling.size
    return stack.enter_context(
        grounding(components, plan, height=height, width=width, do_cfg=sampling.do_cfg,
                  encode_text=lambda phrases: text_token_states(components, phrases))
    )  # fmt: skip


def _provenance(
    plan: EditPlan, components: Components, sampling: Sampling, inputs: dict[str, str],
    extra: dict[str, Any],
) -> Provenance:  # fmt: skip
    knobs = plan.knobs.model_dump(mode="json")
    knobs.update(steps=sampling.steps, guidance=sampling.guidance, seed=sampling.seed,
                 size=list(sampling.size), **extra)  # fmt: skip
    knobs["scheduler_class"] = type(components.scheduler).__name__
    knobs["options"] = {k: str(v) for k, v in components.options.items()}
    return Provenance(
        preset=components.preset,
        weight_hash=components.weight_hash,
        seed=sampling.seed,
        scheduler=components.scheduler_name,
        steps=sampling.steps,
        guidance=sampling.guidance,
        alpha=plan.knobs.alpha,
        size=sampling.size,
        device=str(components.device),
        dtype=str(components.dtype).removeprefix("torch."),
        plan_tokens=plan.tokens(),
        knobs=knobs,
        inputs=inputs,
        anypix_version=_version(),
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("anypix")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return ""


def render_plan(
    plan: str,
    assets: dict[str, Path],
    output: Path,
    _models: Components | None = None,
    _progress: Callable[[int, int], None] | None = None,
    _cancel: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Render an edit plan (its token form) to an image file in one diffusion call.

    The plan's [base] is edited (DDIM inversion blended with fresh noise by alpha), its [sub]
    images condition the result, its blobs and boxes place things, and its [style] image lends
    its style. Returns the output path and the full provenance record.

    Args:
        plan: the plan in token form ([base]/[sub]/[gen]/[blob]/[style]/[op]/[knobs] lines).
        assets: asset name -> image file, for every name the plan refers to.
        output: the PNG file to write.
    """
    result = render(EditPlan.from_tokens(plan), {k: Path(v) for k, v in assets.items()}, _models,
                    progress=_progress, cancel=_cancel)  # fmt: skip
    output.parent.mkdir(parents=True, exist_ok=True)
    result.images[0].save(output)
    return {"image": str(output), "provenance": result.provenance.model_dump(mode="json")}
