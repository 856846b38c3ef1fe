"""Image prompts (Prompt-Free Diffusion): an image's SeeCoder tokens as cross-attention context.

The context can replace the text context (``encoder_hidden_states``) or be appended to it along the
token axis, so a render can be driven by an image, by text, or by both. For classifier-free
guidance the unconditional image context is all zeros, as in the reference implementation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
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
