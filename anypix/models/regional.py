"""Training-free blob layouts: regional masking of the existing text cross-attention.

For a checkpoint without blob layers (any SD/SDXL model), each blob's own sentence tokens are
appended to the cross-attention context and masked so that they reach only the pixels inside the
blob's ellipse. A pixel inside a blob attends, in one softmax, to the global prompt and to the
tokens of every blob covering it; a pixel outside every blob attends to the global prompt alone,
so its cross-attention output is what it was without the layout. With classifier-free guidance the
unconditional half of the batch never sees blob tokens.

The processor wraps whatever processor ``attn2`` had (so it composes with others) and passes it a
longer context and an additive attention mask; :func:`regional_attention` installs it with
``unet.set_attn_processor`` and restores the original processor objects on exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from anypix.models.blob import masks_at, tokens_to_size


@dataclass
class RegionalContext:
    """Blob tokens and masks shared by all the regional processors of one UNet."""

    tokens: torch.Tensor  # (M, D): the blobs' sentence tokens, one blob after another
    token_blob: torch.Tensor  # (M,) long: which blob each token belongs to
    masks: torch.Tensor  # (n_blobs, H, W) bool at the image (or latent) size
    cfg: bool = False  # the batch is [uncond..., cond...]; blob tokens reach only the cond half
    _bias: dict[tuple[Any, ...], torch.Tensor] = field(default_factory=dict, repr=False)

    def bias(self, batch: int, num_pixels: int, num_text: int, like: torch.Tensor) -> torch.Tensor:
        """Additive mask (batch, N, num_text + M): 0 where a pixel may attend, a large negative
        number where it may not. Text tokens are always allowed, so no row is fully masked."""
        key = (batch, num_pixels, num_text, like.dtype, like.device)
        if key not in self._bias:
            size = tokens_to_size(self.masks, num_pixels)
            inside = masks_at(self.masks, size).flatten(1).to(like.device)  # (n, N)
            allowed = inside[self.token_blob.to(like.device)].transpose(0, 1)  # (N, M)
            allowed = allowed.unsqueeze(0).repeat(batch, 1, 1)
            if self.cfg and batch % 2 == 0:
                allowed[: batch // 2] = False
            blocked = torch.finfo(like.dtype).min
            blob_bias = torch.zeros(allowed.shape, dtype=like.dtype, device=like.device)
            blob_bias.masked_fill_(~allowed, blocked)
            text_bias = torch.zeros(
                batch, num_pixels, num_text, dtype=like.dtype, device=like.device
            )
            self._bias[key] = torch.cat([text_bias, blob_bias], dim=-1)
        return self._bias[key]


class RegionalAttnProcessor:
    """Cross-attention processor that adds masked blob tokens to the context of ``base``."""

    def __init__(self, base: Any, region: RegionalContext) -> None:
        self.base = base
        self.region = region

    def __call__(
        self,
        attn: nn.Module,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        if (
            encoder_hidden_states is None
            or hidden_states.ndim != 3
            or self.region.tokens.shape[0] == 0
        ):
            return self.base(
                attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs
            )
        batch, num_pixels, _ = hidden_states.shape
        num_text = encoder_hidden_states.shape[1]
        tokens = self.region.tokens.to(encoder_hidden_states)
        context = torch.cat(
            [encoder_hidden_states, tokens.unsqueeze(0).expand(batch, -1, -1)], dim=1
        )
        bias = self.region.bias(batch, num_pixels, num_text, hidden_states)
        if attention_mask is not None:
            # diffusers' cross-attention masks are (B, 1, K) biases over the text tokens.
            pad = torch.zeros(*attention_mask.shape[:-1], tokens.shape[0]).to(attention_mask)
            bias = bias + torch.cat([attention_mask, pad], dim=-1).to(bias.dtype)
        return self.base(attn, hidden_states, context, bias, temb, *args, **kwargs)


def is_cross_attention(name: str) -> bool:
    return name.endswith("attn2.processor")


@contextmanager
def regional_attention(unet: Any, region: RegionalContext) -> Iterator[dict[str, Any]]:
    """Install regional processors on every ``attn2``; on exit restore the original processors
    (the same objects). Yields the installed processors by name."""
    original = dict(unet.attn_processors)
    installed = {
        name: RegionalAttnProcessor(proc, region) if is_cross_attention(name) else proc
        for name, proc in original.items()
    }
    unet.set_attn_processor(dict(installed))  # diffusers pops entries from the dict it gets
    try:
        yield {name: proc for name, proc in installed.items() if is_cross_attention(name)}
    finally:
        unet.set_attn_processor(dict(original))
