"""Image prompts (Prompt-Free Diffusion): an image's SeeCoder tokens as cross-attention context.

The context can replace the text context (``encoder_hidden_states``) or be appended to it along the
token axis, so a render can be driven by an image, by text, or by both. For classifier-free
guidance the unconditional image context is all zeros in the reference implementation; a SeeCoder
trained for a model of its own (the default model's) brings learned null tokens instead.

The ``image_prompt`` tool renders with an image as the prompt: alone, a variation of the image
without words; with words, the image is the style (the words say what to draw) or the content
(the words say the style). The model's family provides the SeeCoder trained for its UNet
(``ModelFamily.load_seecoder``, an :class:`ImagePromptEncoder`).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from anypix.models.diffusion import Components, Conditioning
from anypix.models.seecoder import ImagePromptEncoder, Role

if TYPE_CHECKING:
    from PIL import Image

    from anypix.models.seecoder import SeeCoder


def image_to_tensor(image: Any) -> torch.Tensor:
    """A path, PIL image, (H, W, 3) uint8 array or (3, H, W)/(B, 3, H, W) tensor -> (B, 3, H, W)
    float in [0, 1]."""
    import numpy as np
    from PIL import Image

    if isinstance(image, str | Path):
        with Image.open(image) as opened:
            image = opened.convert("RGB")
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[-1] != 3:
            raise ValueError(f"expected an (H, W, 3) image array, got shape {image.shape}")
        scale = 255.0 if image.dtype == np.uint8 else 1.0
        image = torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / scale
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"cannot read an image from {type(image).__name__}")
    tensor = image if image.ndim == 4 else image.unsqueeze(0)
    if tensor.shape[1] != 3:
        raise ValueError(f"expected 3 colour channels, got a tensor of shape {tuple(image.shape)}")
    return tensor


def fit_short_side(pixels: torch.Tensor, size: int, multiple: int = 32) -> torch.Tensor:
    """Resize so the shorter side is ``size`` and both sides are multiples of ``multiple`` (the
    backbone's total stride), keeping the aspect ratio as closely as that allows."""
    h, w = pixels.shape[-2:]
    scale = size / min(h, w)
    new_h = max(multiple, round(h * scale / multiple) * multiple)
    new_w = max(multiple, round(w * scale / multiple) * multiple)
    if (new_h, new_w) == (h, w):
        return pixels
    return F.interpolate(pixels, size=(new_h, new_w), mode="bicubic", align_corners=False).clamp(
        0, 1
    )


@torch.no_grad()
def image_prompt_context(
    image: Any,
    seecoder: SeeCoder,
    *,
    size: int | None = 512,
    text_context: torch.Tensor | None = None,
    weight: float = 1.0,
) -> torch.Tensor:
    """SeeCoder context tokens (B, 148, C) for an image, optionally appended to a text context.

    ``size`` resizes the image's shorter side first (None keeps it: the reference feeds images as
    they are, which costs time on large ones). ``weight`` scales the image tokens. With
    ``text_context`` (B or 1, T, C) the result is ``[text tokens, image tokens]`` along the token
    axis; the widths must match (SeeCoder's 768 fits SD 1.x UNets)."""
    param = next(seecoder.parameters())
    pixels = image_to_tensor(image).to(device=param.device, dtype=param.dtype)
    if size is not None:
        pixels = fit_short_side(pixels, size)
    context = seecoder(pixels) * weight
    if text_context is None:
        return context
    if text_context.shape[-1] != context.shape[-1]:
        raise ValueError(
            f"text context is {text_context.shape[-1]} wide but SeeCoder gives {context.shape[-1]}; "
            "image prompts need a UNet whose cross-attention width matches SeeCoder's"
        )
    batch = max(text_context.shape[0], context.shape[0])
    text = text_context.to(context).expand(batch, -1, -1)
    return torch.cat([text, context.expand(batch, -1, -1)], dim=1)


def unconditional_image_context(context: torch.Tensor) -> torch.Tensor:
    """The unconditional counterpart of an image context for guidance: zeros (the reference's)."""
    return torch.zeros_like(context)


# -- rendering with an image as the prompt ---------------------------------------------------------


def image_prompt_encoder(components: Components) -> ImagePromptEncoder:
    """The SeeCoder the preset's family trained for its UNet."""
    from anypix.errors import NotAvailableError
    from anypix.models.registry import family_of

    family = family_of(components.preset)
    if family is None or family.load_seecoder is None:
        raise NotAvailableError(
            f"preset {components.preset!r} has no SeeCoder trained for its UNet",
            "use a preset whose model family ships one (the default model does)",
        )
    encoder: ImagePromptEncoder = family.load_seecoder(components)
    return encoder


def image_prompt_conditioning(
    components: Components, encoder: ImagePromptEncoder, image: Any, prompt: str = "",
    role: Role = "variation", *, do_cfg: bool = True,
) -> Conditioning:  # fmt: skip
    """The image's (and the words') context for the conditional row, the encoder's null context
    for the unconditional one."""
    from anypix.models.diffusion import Conditioning

    pixels = image_to_tensor(image).to(components.device, torch.float32)
    cond = encoder.context(pixels, prompt, role).to(components.device, components.dtype)
    hidden = torch.cat([encoder.null(cond), cond]) if do_cfg else cond
    return Conditioning(hidden=hidden, do_cfg=do_cfg)


def image_layout(
    components: Components, encoder: ImagePromptEncoder, image: Any, prompt: str = "",
    role: Role = "variation",
) -> tuple[str, list[Any]] | None:  # fmt: skip
    """(caption, blobs) for a model that draws objects where its blobs are: the objects the
    encoder read from ``image`` (left to right), each in a blob round the region of the image
    it stands for (:func:`anypix.models.masks.candidate_regions`, left to right). None when the
    image stands for its style alone, the encoder does not read objects out, or fewer regions
    are found than objects read (then the context alone is used, as for any model); of more
    regions, the largest are taken."""
    import numpy as np

    from anypix.models.masks import candidate_regions
    from anypix.tools.locate import ellipse_of

    readers = (encoder.texts, encoder.objects)
    if role == "style" or None in readers:
        return None
    assert encoder.texts is not None and encoder.objects is not None
    pixels = image_to_tensor(image)
    phrases = encoder.objects(pixels)[0]
    width, height = components.default_size
    picture = np.asarray(image.convert("RGB").resize((width, height)))
    regions = sorted(candidate_regions(picture), key=lambda mask: -int(mask.sum()))
    if not phrases or len(regions) < len(phrases):
        return None
    # as many regions as objects read, the largest (specks of a noisy picture are regions too)
    regions = sorted(regions[: len(phrases)], key=lambda mask: np.nonzero(mask)[1].mean())
    blobs = [ellipse_of(mask, phrase) for mask, phrase in zip(regions, phrases, strict=True)]
    return encoder.texts(pixels, prompt, role)[0], blobs


@torch.inference_mode()
def render_image_prompt(
    components: Components, encoder: ImagePromptEncoder, image: Any, prompt: str = "",
    role: Role = "variation", *, seed: int = 0, steps: int | None = None,
    guidance: float | None = None,
) -> Image.Image:  # fmt: skip
    """One image drawn from ``image`` as the prompt (with ``prompt`` beside it), from ``seed``."""
    from anypix.models.diffusion import decode_latents, denoise, make_scheduler

    steps = steps or components.default_steps
    guidance = components.default_guidance if guidance is None else guidance
    layout = image_layout(components, encoder, image, prompt, role)
    if layout is not None:  # the objects drawn where the image has them, through the blobs
        from anypix.plan import EditPlan, Knobs, Op
        from anypix.tools.render import render

        text, blobs = layout
        knobs = Knobs(steps=steps, guidance=guidance, seed=seed, size=components.default_size)
        plan = EditPlan(gen=text, blobs=blobs, ops=[Op(op="generate")], knobs=knobs)
        return render(plan, {}, components).images[0]
    conditioning = image_prompt_conditioning(components, encoder, image, prompt, role,
                                             do_cfg=guidance > 1.0)  # fmt: skip
    width, height = components.default_size
    factor = components.vae_scale_factor
    shape = (1, components.unet.config.in_channels, height // factor, width // factor)
    # Drawn on the CPU from the seed so every device starts from the same numbers.
    noise = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed))
    scheduler = make_scheduler(components.scheduler_name, components.scheduler.config)
    scheduler.set_timesteps(steps, device=components.device)
    latents = noise.to(components.device, components.dtype) * scheduler.init_noise_sigma
    latents = denoise(components, latents, conditioning, scheduler, guidance)
    return decode_latents(components, latents)[0]


def image_prompt(
    image: Path,
    output: Path,
    prompt: str = "",
    role: Role = "variation",
    seed: int | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    _models: Components | None = None,
) -> dict[str, Any]:
    """Draw a new image with an image as the prompt (Prompt-Free Diffusion's SeeCoder): a
    variation of the image without words (its objects and style, redrawn), or the image as the
    style prompt (role "style": the words say what to draw, "a red ring") or as the content
    prompt (role "content": the words say the style, "on night stripes").

    Args:
        image: the image to use as the prompt.
        output: the PNG file to write.
        prompt: words beside the image ("" for a variation).
        role: what the image stands for: variation (all of it), style or content.
        seed: sampling seed (None: random; the one used is returned).
        steps: denoising steps (None: the model's default).
        guidance: classifier-free guidance scale (None: the model's default).
    """
    from anypix.models.diffusion import load_components
    from anypix.tools.render import load_asset

    picture, digest = load_asset("image", {"image": Path(image)})
    components = _models or load_components()
    encoder = image_prompt_encoder(components)
    seed = secrets.randbits(31) if seed is None else seed
    drawn = render_image_prompt(components, encoder, picture, prompt, role, seed=seed,
                                steps=steps, guidance=guidance)  # fmt: skip
    output.parent.mkdir(parents=True, exist_ok=True)
    drawn.save(output)
    read = None
    if encoder.words is not None:
        read = encoder.words(image_to_tensor(picture), role)[0]
    return {"image": str(output), "seed": seed, "prompt": prompt, "role": role,
            "image_words": read, "source_sha256": digest, "preset": components.preset,
            "seecoder": encoder.name, "steps": steps or components.default_steps,
            "guidance": components.default_guidance if guidance is None else guidance}  # fmt: skip
