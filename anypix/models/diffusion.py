"""Diffusion loaders and the small engine every rendering tool shares.

:func:`load_components` turns a diffusion preset's name (``tiny-random``, ``sd15``, ``sdxl``,
``gligen``, or one a model family registers) into a :class:`Components` bundle with diffusers' names
(``unet``, ``vae``, ``text_encoder``, ``tokenizer``, ``scheduler`` ...). Weights come from where
:func:`anypix.models.registry.resolve_source` says: a local directory wins, Hub presets load only
from the local cache unless downloads are allowed, and anything unreachable fails at once with a
:class:`~anypix.errors.ModelUnavailableError`.

The rest of the module is the engine the tools are written against: prompt encoding into a
classifier-free-guidance batch laid out ``[uncond..., cond...]`` (diffusers' layout), one guided
noise prediction, VAE encode/decode, and a sha256 over the weights for provenance.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from anypix.config import Settings, load_settings
from anypix.errors import ConfigError, ModelUnavailableError
from anypix.models.device import pick_device
from anypix.models.registry import get_preset, load_family_components, presets, resolve_source

if TYPE_CHECKING:
    import torch
    from PIL import Image

SchedulerName = Literal["ddim", "dpm"]
SCHEDULERS: tuple[str, ...] = ("ddim", "dpm")
_HASHED_MODULES = ("unet", "vae", "text_encoder", "text_encoder_2", "image_encoder")


@dataclass(eq=False)
class Components:
    """A loaded diffusion model: diffusers components plus what provenance needs to know."""

    preset: str
    unet: Any
    vae: Any
    text_encoder: Any
    tokenizer: Any
    scheduler: Any
    device: torch.device
    dtype: torch.dtype
    text_encoder_2: Any = None  # SDXL only
    tokenizer_2: Any = None
    pipeline: Any = None  # the diffusers pipeline that owns the components (offload, IP-Adapter)
    default_steps: int = 30
    default_guidance: float = 7.5
    scheduler_name: str = "ddim"
    # Subject references: a SubjectTokenEncoder (anypix.tools.subject) for models with their own
    # image-embedding tokens; IP-Adapter presets use the pipeline's loader instead.
    subject_encoder: Any = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def is_sdxl(self) -> bool:
        return self.text_encoder_2 is not None

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def size_multiple(self) -> int:
        """Image sides must be multiples of this (VAE downsampling times UNet downsampling)."""
        return self.vae_scale_factor * 2 ** (len(self.unet.config.block_out_channels) - 1)

    @property
    def default_size(self) -> tuple[int, int]:
        side = int(self.unet.config.sample_size) * self.vae_scale_factor
        return side, side

    @cached_property
    def weight_hash(self) -> str:
        """sha256 over every weight tensor (names, dtypes, shapes and bytes), in name order."""
        digest = hashlib.sha256()
        for name in _HASHED_MODULES:
            module = getattr(self, name, None)
            if module is None and self.pipeline is not None:
                module = getattr(self.pipeline, name, None)
            if module is None:
                continue
            for key, tensor in sorted(module.state_dict().items()):
                flat = tensor.detach().to("cpu").contiguous().reshape(-1)
                digest.update(f"{name}.{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
                digest.update(flat.view(_uint8()).numpy().tobytes())
        return digest.hexdigest()


def _uint8() -> Any:
    import torch

    return torch.uint8


# -- device, dtype, scheduler ------------------------------------------------------------------------


def pick_dtype(
    preset_dtype: str, device: torch.device, requested: str | None = None
) -> torch.dtype:
    """float32 on CPU (half precision is slow there); the preset's half dtype on accelerators."""
    import torch

    name = requested or ("float32" if device.type == "cpu" else preset_dtype)
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ConfigError(f"unknown dtype {name!r}", "use float32, float16 or bfloat16")
    return dtype


def make_scheduler(name: str, config: Any) -> Any:
    """A DDIM (deterministic, invertible) or DPM-Solver++ multistep scheduler from a config."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if name == "ddim":
        return DDIMScheduler.from_config(config)
    if name == "dpm":
        return DPMSolverMultistepScheduler.from_config(config)
    raise ConfigError(f"unknown scheduler {name!r}", f"choose one of {', '.join(SCHEDULERS)}")


# -- loading ----------------------------------------------------------------------------------------


def load_components(
    preset: str | None = None,
    *,
    settings: Settings | None = None,
    device: str | None = None,
    dtype: str | None = None,
    scheduler: SchedulerName = "ddim",
    cpu_offload: bool = False,
    attention_slicing: bool | int | str = False,
) -> Components:
    """Load a diffusion preset.

    ``device`` defaults to ``settings.device``; ``dtype`` to float32 on CPU and the preset's
    dtype elsewhere. ``cpu_offload`` calls diffusers' ``enable_model_cpu_offload`` (accelerators
    only); ``attention_slicing`` (True, "auto", "max" or a slice size) trades speed for memory.
    """
    settings = settings or load_settings()
    name = preset or settings.model
    spec = get_preset(name)
    if spec.kind != "diffusion":
        diffusion = [p.name for p in presets().values() if p.kind == "diffusion"]
        raise ModelUnavailableError(
            f"preset {name!r} is a {spec.kind} model, not a diffusion model",
            f"choose one of {', '.join(diffusion)}",
        )
    target = pick_device(device or settings.device)
    torch_dtype = pick_dtype(spec.dtype, target, dtype)
    if settings.threads and target.type == "cpu":
        import torch

        torch.set_num_threads(settings.threads)
    if spec.source == "family":  # the family's loader reads model_paths itself
        return load_family_components(spec, settings=settings, device=target, dtype=torch_dtype)
    if name == "tiny-random" and name not in settings.model_paths:
        pipe = _tiny_pipeline()
    else:
        source = resolve_source(name, settings)
        pipe = _from_pretrained(name, source, torch_dtype)
    pipe.scheduler = make_scheduler(scheduler, pipe.scheduler.config)
    if attention_slicing:
        pipe.enable_attention_slicing("auto" if attention_slicing is True else attention_slicing)
    if cpu_offload and target.type != "cpu":
        pipe.enable_model_cpu_offload(device=target)
    else:
        pipe.to(device=target)
        if pipe.unet.dtype != torch_dtype:  # from_pretrained already loaded the right dtype
            pipe.to(dtype=torch_dtype)
    return Components(
        preset=name,
        unet=pipe.unet,
        vae=pipe.vae,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        scheduler=pipe.scheduler,
        text_encoder_2=getattr(pipe, "text_encoder_2", None),
        tokenizer_2=getattr(pipe, "tokenizer_2", None),
        device=target,
        dtype=torch_dtype,
        pipeline=pipe,
        default_steps=spec.capabilities.steps,
        default_guidance=spec.capabilities.guidance,
        scheduler_name=scheduler,
        options={"cpu_offload": bool(cpu_offload), "attention_slicing": attention_slicing},
    )


def _tiny_pipeline() -> Any:
    from diffusers import StableDiffusionPipeline

    from anypix.models.tiny import tiny_components

    return StableDiffusionPipeline(
        **tiny_components(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def _from_pretrained(name: str, source: str, torch_dtype: torch.dtype) -> Any:
    """Any saved SD 1.x / SDXL / GLIGEN pipeline; ``DiffusionPipeline`` picks the class from
    model_index.json, so SDXL-style directories come back with their second text encoder."""
    from diffusers import DiffusionPipeline

    try:
        return DiffusionPipeline.from_pretrained(
            source, torch_dtype=torch_dtype, safety_checker=None, requires_safety_checker=False
        )
    except (OSError, ValueError) as exc:
        raise ModelUnavailableError(
            f"preset {name!r}: cannot load a diffusers pipeline from {source}: {exc}",
            "point model_paths at a directory written by save_pretrained (with model_index.json)",
        ) from None


# -- the engine: prompts, guided noise prediction, VAE ----------------------------------------------


@dataclass
class Conditioning:
    """UNet conditioning for a batch. With guidance the batch is twice as long, laid out
    ``[uncond_0..uncond_{n-1}, cond_0..cond_{n-1}]`` like diffusers' pipelines."""

    hidden: torch.Tensor  # encoder_hidden_states, (batch, tokens, dim)
    do_cfg: bool
    added: dict[str, Any] | None = None  # SDXL's text_embeds/time_ids, IP-Adapter embeds

    @property
    def batch(self) -> int:
        return self.hidden.shape[0] // (2 if self.do_cfg else 1)


def encode_prompts(
    components: Components,
    prompts: list[str],
    *,
    do_cfg: bool,
    size: tuple[int, int] | None = None,
    negative: str | None = None,
) -> Conditioning:
    """Text conditioning for ``prompts`` (one per image); the unconditional prompt is
    ``negative`` (default "": plain classifier-free guidance)."""
    import torch

    pipe, device = components.pipeline, components.device
    negatives = [negative or ""] * len(prompts)
    if pipe is None:  # a family of our own: its text encoder read as an SD 1.x pipeline reads it
        cond = _encode_texts(components, prompts)
        hidden = torch.cat([_encode_texts(components, negatives), cond]) if do_cfg else cond
        return Conditioning(hidden=hidden.to(components.dtype), do_cfg=do_cfg)
    if not components.is_sdxl:
        cond, uncond = pipe.encode_prompt(prompts, device, 1, do_cfg, negative_prompt=negatives)
        hidden = torch.cat([uncond, cond]) if do_cfg else cond
        return Conditioning(hidden=hidden.to(components.dtype), do_cfg=do_cfg)
    cond, uncond, pooled, uncond_pooled = pipe.encode_prompt(
        prompt=prompts, device=device, num_images_per_prompt=1,
        do_classifier_free_guidance=do_cfg, negative_prompt=negatives,
    )  # fmt: skip
    width, height = size or components.default_size
    time_ids = pipe._get_add_time_ids(
        (height, width), (0, 0), (height, width), dtype=components.dtype,
        text_encoder_projection_dim=components.text_encoder_2.config.projection_dim,
    )  # fmt: skip
    hidden = torch.cat([uncond, cond]) if do_cfg else cond
    text_embeds = torch.cat([uncond_pooled, pooled]) if do_cfg else pooled
    added = {
        "text_embeds": text_embeds.to(device, components.dtype),
        "time_ids": time_ids.to(device).repeat(hidden.shape[0], 1),
    }
    return Conditioning(hidden=hidden.to(components.dtype), do_cfg=do_cfg, added=added)


def text_token_states(components: Components, phrases: list[str]) -> torch.Tensor:
    """Token hidden states of ``phrases`` with the model's text encoder(s), no guidance batch:
    what grounding layers (blobs, boxes) attend to."""
    return encode_prompts(components, phrases, do_cfg=False).hidden


def _encode_texts(components: Components, texts: list[str]) -> torch.Tensor:
    """The text encoder's last hidden states over ``texts`` padded to the tokenizer's length:
    what a Stable Diffusion 1.x pipeline's ``encode_prompt`` gives, without importing the
    pipeline (its module pulls in image processors and single-file loaders, about 1.7 s)."""
    import torch

    tokenizer = components.tokenizer
    ids = tokenizer(
        texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
        return_tensors="pt",
    ).input_ids  # fmt: skip
    with torch.no_grad():
        hidden: torch.Tensor = components.text_encoder(ids.to(components.device))[0]
    return hidden


def predict_noise(
    components: Components,
    latents: torch.Tensor,
    timestep: Any,
    conditioning: Conditioning,
    guidance: float,
    cross_attention_kwargs: dict[str, Any] | None = None,
) -> torch.Tensor:
    """One guided UNet evaluation; returns the model output in the scheduler's prediction type."""
    import torch

    model_input = torch.cat([latents, latents]) if conditioning.do_cfg else latents
    model_input = components.scheduler.scale_model_input(model_input, timestep)
    output = components.unet(
        model_input,
        timestep,
        encoder_hidden_states=conditioning.hidden,
        added_cond_kwargs=conditioning.added,
        cross_attention_kwargs=cross_attention_kwargs or None,
    ).sample
    if not conditioning.do_cfg:
        return output
    uncond, cond = output.chunk(2)
    return uncond + guidance * (cond - uncond)


def image_to_tensor(image: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """RGB image resized to (width, height) as a (1, 3, H, W) tensor in [-1, 1]."""
    import numpy as np
    import torch
    from PIL import Image as PILImage

    rgb = image.convert("RGB")
    if rgb.size != size:
        rgb = rgb.resize(size, PILImage.Resampling.LANCZOS)
    array = np.asarray(rgb, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)


def encode_image(components: Components, image: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """VAE latents of an image: the posterior mean (deterministic), scaled like diffusers."""
    vae = components.vae
    pixels = image_to_tensor(image, size).to(components.device, vae.dtype)
    latents = vae.encode(pixels).latent_dist.mean
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    return ((latents - shift) * vae.config.scaling_factor).to(components.dtype)


def decode_latents(components: Components, latents: torch.Tensor) -> list[Image.Image]:
    from PIL import Image as PILImage

    vae = components.vae
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    pixels = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor + shift).sample
    array = ((pixels.float().clamp(-1, 1) + 1) * 127.5).round().byte()
    return [PILImage.fromarray(a.permute(1, 2, 0).cpu().numpy()) for a in array]


def denoise(
    components: Components,
    latents: torch.Tensor,
    conditioning: Conditioning,
    scheduler: Any,
    guidance: float,
    *,
    cross_attention_kwargs: dict[str, Any] | None = None,
    before_step: Callable[[int, int, torch.Tensor], torch.Tensor] | None = None,
    after_step: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """The denoising loop over ``scheduler.timesteps`` (already set). ``before_step(i, n, latents)``
    may replace the latents (StyleAligned's inverted reference) and raise to cancel;
    ``after_step(i, n)`` reports progress."""
    timesteps = scheduler.timesteps
    for i, t in enumerate(timesteps):
        if before_step is not None:
            latents = before_step(i, len(timesteps), latents)
        output = predict_noise(
            components, latents, t, conditioning, guidance, cross_attention_kwargs
        )
        latents = scheduler.step(output, t, latents).prev_sample
        if after_step is not None:
            after_step(i, len(timesteps))
    return latents
