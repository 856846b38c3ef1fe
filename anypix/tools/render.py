"""The one render function: an :class:`~anypix.plan.EditPlan` in, images and provenance out.

Everything a plan asks for happens in **one** diffusion call over one batch, composed from the
techniques of :mod:`anypix.tools.techniques` (each prepares its part, may act before each step
and reports its provenance):

* ``[sub]``: subject conditioning (:mod:`anypix.tools.subject`);
* ``[base]``: the base image is DDIM-inverted under the prompt (guidance 1) and the start latent
  is ``sqrt(alpha) * inverted + sqrt(1 - alpha) * noise`` (alpha = 1 keeps the source; see
  :mod:`anypix.tools.invert`); local edits keep everything outside their blobs;
* ``[style]``: the style reference is inverted too and rides along as batch row 0, replaced at
  every step by its inverted latent, while StyleAligned shares its attention with the target row
  (:mod:`anypix.models.attention`);
* ``mix_*`` knobs: the refinement prior's embedding of [gen] conditions the target
  (:mod:`anypix.tools.refine`);
* blobs / boxes: grounding hooks from :mod:`anypix.tools.layout`.

Renders are pure: the same plan, seed, model and device give the same pixels. The seed is drawn
when the plan leaves it out, and recorded, like every other value actually used.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.errors import AssetError, CancelledError, UnknownAssetError
from anypix.models.diffusion import Components
from anypix.plan import EditPlan
from anypix.records import Provenance, Render
from anypix.tools.choose import techniques_for
from anypix.tools.techniques import RenderJob, Technique, prompt_of

if TYPE_CHECKING:
    import torch
    from PIL import Image

__all__ = ["Sampling", "check_inputs", "load_asset", "prompt_of", "render", "render_plan"]


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


def in_model_words(
    plan: EditPlan, components: Components, seed: int, base: Image.Image | None = None
) -> EditPlan:
    """``plan`` with its blob sentences in words the preset's model draws (its ``blob_words``,
    given the seed and the [base]: a colour for "a ring", for a model that never drew an object
    without one); the render's record keeps them. A preset the registry does not know
    (components built in code) draws them as written."""
    from anypix.models.registry import known_capabilities

    known = known_capabilities(components.preset)
    words = None if known is None else known.blob_words
    if words is None or not plan.blobs or plan.subs:  # a [sub]'s blob takes its look from it
        return plan
    said = words([blob.description for blob in plan.blobs], seed, base)
    blobs = [b.model_copy(update={"description": s}) for b, s in zip(plan.blobs, said, strict=True)]
    return plan.model_copy(update={"blobs": blobs})


def resolve_sampling(
    plan: EditPlan, components: Components, base_size: tuple[int, int] | None = None
) -> Sampling:
    """The plan's knobs, the preset's defaults where it leaves them; without a size, an edit of
    a ``base_size`` [base] renders the model's default area in the base's aspect ratio."""
    from anypix.tools.scope import fit_aspect

    knobs = plan.knobs
    multiple = components.size_multiple
    default = components.default_size
    if base_size is not None:
        default = fit_aspect(base_size, default, multiple)
    width, height = knobs.size or default
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


def check_inputs(
    plan: EditPlan, assets: Mapping[str, Any], progress: Any = None, cancel: Any = None
) -> None:
    """Refuse what cannot be rendered before any work: a ValueError naming the bad value, or
    :class:`~anypix.errors.UnknownAssetError` for a name the plan reads that is not given."""
    from PIL import Image as PILImage

    if not isinstance(plan, EditPlan):
        raise ValueError(f"plan must be an EditPlan, not {type(plan).__name__}")
    for name in plan.asset_names():
        if name not in assets:
            raise UnknownAssetError(name, list(assets))
        if not isinstance(assets[name], str | Path | PILImage.Image):
            raise ValueError(f"asset {name!r} must be a file path or a PIL image, "
                             f"not {type(assets[name]).__name__}")  # fmt: skip
    for label, callback in (("progress", progress), ("cancel", cancel)):
        if callback is not None and not callable(callback):
            raise ValueError(f"{label} must be a function or None, not {callback!r}")


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

    from anypix.models.diffusion import decode_latents, load_components

    # 1. Check the inputs.
    check_inputs(plan, assets, progress, cancel)
    started = time.perf_counter()
    # 2. The model; 3. the plan's images and sounds, and the sampling values the plan leaves
    #    to the model (an edit keeps its [base]'s aspect ratio).
    components = models or load_components()
    timings = {"load": time.perf_counter() - started}
    images, inputs = _load_images(plan, assets)
    base_size = images[plan.base].size if plan.base is not None else None
    sampling = resolve_sampling(plan, components, base_size)
    plan = in_model_words(plan, components, sampling.seed, images.get(plan.base or ""))
    # 4. The techniques the plan asks for.
    techniques = techniques_for(plan)
    inversions = sampling.steps * (int(plan.base is not None) + int(plan.style_ref is not None))
    ticker = Ticker(inversions + sampling.steps, progress, cancel)
    job = RenderJob(plan, images, components, sampling.size, sampling.steps, sampling.guidance,
                    noise=lambda: _noise(sampling, components),
                    invert=lambda image, text: _invert(job, ticker, image, text),
                    timings=timings)  # fmt: skip
    with torch.inference_mode():
        # 5.-8. Prepare, encode, condition and denoise.
        latents = _denoise(job, techniques, ticker)
        # 9. Decode the target row.
        mark = time.perf_counter()
        outputs = decode_latents(components, latents[job.rows :])
        for technique in techniques:  # e.g. the [base] pasted back outside an op's pixels
            outputs = technique.finish_images(outputs)
        timings["decode"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    extra = {"prompt": job.prompt}
    for technique in techniques:
        extra |= technique.provenance()
    return Render(images=outputs, provenance=_provenance(plan, components, sampling, inputs, extra),
                  timings=timings)  # fmt: skip


def _denoise(job: RenderJob, techniques: list[Technique], ticker: Ticker) -> torch.Tensor:
    """Steps 5-8 of a render; returns the final latents of every row."""
    import torch

    from anypix.models.diffusion import denoise, encode_prompts, make_scheduler

    # 5. Start latents: the seed's noise, then each technique's part (the subjects' words, the
    #    inverted [base], fresh noise where an object is added, the style reference's row).
    mark = time.perf_counter()
    job.start = job.noise()
    for technique in techniques:
        technique.prepare(job)
    assert job.start is not None
    latents = torch.cat([*(row for row, _ in job.leading), job.start])
    job.timings["invert"] = time.perf_counter() - mark
    # 6. Text conditioning, [uncond..., cond...], then what each technique adds to it.
    prompts = [text for _, text in job.leading] + [job.prompt]
    job.conditioning = encode_prompts(job.components, prompts, do_cfg=job.do_cfg, size=job.size,
                                      negative=job.plan.knobs.negative)  # fmt: skip
    for technique in techniques:
        technique.condition(job)
    # 7. The scheduler, and the processors and hooks each technique installs (removed on exit).
    scheduler = make_scheduler(job.components.scheduler_name, job.components.scheduler.config)
    scheduler.set_timesteps(job.steps, device=job.components.device)
    mark = time.perf_counter()
    with ExitStack() as stack:
        for technique in techniques:
            stack.enter_context(technique.hooks(job))

        def before_step(i: int, n: int, x: torch.Tensor) -> torch.Tensor:
            ticker.check()
            for technique in techniques:
                x = technique.before_step(i, n, x)
            return x

        # 8. One denoising loop for everything.
        latents = denoise(job.components, latents, job.conditioning, scheduler, job.guidance,
                          before_step=before_step, after_step=lambda i, n: ticker.tick())  # fmt: skip
    for technique in techniques:
        latents = technique.finish(latents)
    job.timings["denoise"] = time.perf_counter() - mark
    return latents


def _invert(job: RenderJob, ticker: Ticker, image: Any, text: str) -> Any:
    """The DDIM inversion of ``image`` described by ``text``, counted in progress; done once per
    image, model, prompt, steps and size (:mod:`anypix.tools.inversion_cache`)."""
    from anypix.tools.inversion_cache import active_cache
    from anypix.tools.invert import invert_image

    cache = active_cache()
    invert = invert_image if cache is None else cache.invert
    return invert(job.components, image, size=job.size, steps=job.steps, prompt=text,
                  before_step=lambda i, n: ticker.check(),
                  after_step=lambda i, n: ticker.tick())  # fmt: skip


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
    audio (a subject encoder that embeds sounds)."""
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
