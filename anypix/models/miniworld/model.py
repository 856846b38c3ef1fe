"""The miniworld diffusion model: a blob-grounded UNet in a lossless "tiny latent" space.

* **Latents** are the 64x64 image pixel-unshuffled to 12x32x32 (:class:`PixelShuffleVAE`): an
  exact, parameter-free stand-in for a VAE, so DDIM inversion is the only thing between an image
  and its reconstruction, and a UNet at 32x32 does the work of one at 64x64.
* **Text** goes through a small CLIP text transformer over a word-level CLIP BPE vocabulary of the
  miniworld (colours, shapes, sizes, textures, palettes and a few synonyms), trained with the UNet.
* **Blobs** reach the UNet two ways, both driven by the engine's blob layers
  (:mod:`anypix.models.blob`): BlobGEN's gated masked cross-attention in every transformer block,
  and each blob's pooled embedding *painted* into its ellipse and added after ``conv_in``
  (:class:`BlobPainter`) - the spatial path that learns positions in a CPU budget.
* **Subjects** (``[sub]`` images and sounds, ``[gen]`` through the prior) are 128-d vectors of the
  miniworld binding space turned into ``k`` cross-attention tokens (:class:`SubjectTokens`),
  appended after the caption's tokens.

The painter and the subject tokens are submodules of the UNet, so ``unet.state_dict()`` (and the
weight hash) covers everything the UNet is conditioned through.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from anypix.models.blob import BlobLayerConfig, add_blob_layers, get_blob_layers, masks_at
from anypix.models.miniworld.data import shape_in_blob
from anypix.models.miniworld.words import named_shape, vocabulary
from anypix.models.tiny import SPECIAL_TOKENS, _bytes_to_unicode

if TYPE_CHECKING:
    from anypix.plan import Blob

BINDING_DIM = 128


def _bpe(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """CLIP's BPE of one word: merge the best-ranked adjacent pair until none is known."""
    pieces = [*word[:-1], word[-1] + "</w>"]
    while len(pieces) > 1:
        pairs = set(itertools.pairwise(pieces))
        best = min(pairs, key=lambda pair: ranks.get(pair, 1 << 30))
        if best not in ranks:
            break
        merged, i = [], 0
        while i < len(pieces):
            if i + 1 < len(pieces) and (pieces[i], pieces[i + 1]) == best:
                merged.append(pieces[i] + pieces[i + 1])
                i += 2
            else:
                merged.append(pieces[i])
                i += 1
        pieces = merged
    return pieces


def word_merges(words: tuple[str, ...]) -> list[tuple[str, str]]:
    """Merges that make every word one token. A merge added later ranks below all earlier ones,
    so it only applies once nothing else does: words already whole stay whole, and each round
    joins two more pieces of every word still split."""
    ranks: dict[tuple[str, str], int] = {}
    while True:
        split = [pieces for pieces in (_bpe(w, ranks) for w in words) if len(pieces) > 1]
        if not split:
            return list(ranks)
        for pieces in split:
            ranks.setdefault((pieces[0], pieces[1]), len(ranks))


def write_word_tokenizer(directory: Path, words: tuple[str, ...] = ()) -> Path:
    """A CLIP BPE tokenizer whose vocabulary is bytes plus whole miniworld words (each one
    token); any other text falls back to byte tokens."""
    directory.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    merges = word_merges(tuple(w for w in (words or vocabulary()) if len(w) > 1))
    tokens = [*chars, *(c + "</w>" for c in chars), *(a + b for a, b in merges)]
    vocab = {token: i for i, token in enumerate(dict.fromkeys([*tokens, *SPECIAL_TOKENS]))}
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    lines = "\n".join(f"{a} {b}" for a, b in merges)
    (directory / "merges.txt").write_text(f"#version: 0.2\n{lines}\n", encoding="utf-8")
    return directory


def load_tokenizer(directory: Path, max_length: int) -> Any:
    from transformers import CLIPTokenizer

    return CLIPTokenizer(
        vocab=str(directory / "vocab.json"),
        merges=str(directory / "merges.txt"),
        model_max_length=max_length,
        pad_token="<|endoftext|>",
    )


# -- the "VAE" --------------------------------------------------------------------------------------
class PixelShuffleVAE(ModelMixin, ConfigMixin):  # type: ignore[misc]
    """Pixel (un)shuffle as a VAE: 3xHxW in [-1, 1] <-> 12x(H/2)x(W/2), exactly invertible."""

    @register_to_config
    def __init__(
        self,
        factor: int = 2,
        scaling_factor: float = 1.0,
        block_out_channels: tuple[int, ...] = (3, 12),  # one halving: vae_scale_factor = 2
        latent_channels: int = 12,
    ) -> None:
        super().__init__()
        # A buffer gives the module a dtype and device (diffusers asks for both).
        self.register_buffer("unit", torch.ones(()), persistent=False)

    def encode(self, pixels: torch.Tensor, return_dict: bool = True) -> Any:
        latents = F.pixel_unshuffle(pixels, int(self.config["factor"])).to(self.unit.dtype)
        distribution = SimpleNamespace(
            mean=latents, mode=lambda: latents, sample=lambda g=None: latents
        )
        return SimpleNamespace(latent_dist=distribution)

    def decode(self, latents: torch.Tensor, return_dict: bool = True) -> Any:
        return SimpleNamespace(sample=F.pixel_shuffle(latents, int(self.config["factor"])))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(pixels).latent_dist.mean).sample


# -- blob painter and subject tokens -------------------------------------------------------------------
class BlobPainter(nn.Module):
    """Paints each blob's pooled embedding into its ellipse and adds a convolution of that map to
    the output of the UNet's ``conv_in`` (equivalent to extra input channels)."""

    def __init__(self, embed_dim: int, channels: int, out_channels: int) -> None:
        super().__init__()
        self.to_paint = nn.Linear(embed_dim, channels)
        self.conv = nn.Conv2d(channels, out_channels, kernel_size=3, padding=1)

    def paint(self, tokens: torch.Tensor, valid: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """tokens (B, n, T, E), valid (B, n, T), masks (B, n, H, W) -> update (B, C, H, W)."""
        weights = valid.to(tokens.dtype).unsqueeze(-1)
        pooled = (tokens * weights).sum(2) / weights.sum(2).clamp(min=1.0)  # (B, n, E)
        features = self.to_paint(pooled) * valid.any(-1, keepdim=True).to(tokens.dtype)
        canvas = torch.einsum("bnc,bnhw->bchw", features, masks.to(tokens.dtype))
        return self.conv(canvas)


class _PaintAfterConvIn:
    """Forward hook on ``unet.conv_in`` that adds the painted blobs (a callable object so that
    ``copy.deepcopy(unet)`` rebinds it)."""

    def __init__(self, unet: nn.Module) -> None:
        self.unet = unet

    def __call__(self, module: nn.Module, args: tuple, output: torch.Tensor) -> Any:
        grounding = get_blob_layers(self.unet)
        if grounding is None or grounding._conditioning is None:
            return None
        prepared = grounding._prepare(output.shape[0])
        cond = prepared.cond
        n, t = cond.token_mask.shape[1], cond.token_mask.shape[2]
        tokens = prepared.tokens.reshape(output.shape[0], n, t, -1)
        masks = masks_at(cond.masks, (int(output.shape[-2]), int(output.shape[-1])))
        painter: Any = self.unet.blob_painter
        return output + painter.paint(tokens.to(output.dtype), cond.token_mask, masks)


class SubjectTokens(nn.Module):
    """A binding-space vector -> ``k`` cross-attention tokens; learned null tokens mean "none"."""

    def __init__(self, binding_dim: int, width: int, k: int) -> None:
        super().__init__()
        self.k, self.width = k, width
        self.proj = nn.Sequential(
            nn.Linear(binding_dim, 4 * width), nn.SiLU(), nn.Linear(4 * width, k * width)
        )
        self.null = nn.Parameter(torch.randn(k, width) * 0.02)

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        """(n, binding_dim) -> (n, k, width)."""
        return self.proj(vectors).reshape(vectors.shape[0], self.k, self.width)

    def null_tokens(self, n: int) -> torch.Tensor:
        return self.null.unsqueeze(0).expand(n, -1, -1)


# -- the model config and builders ---------------------------------------------------------------------
@dataclass(frozen=True)
class MiniworldConfig:
    image_size: int = 64
    block_out_channels: tuple[int, ...] = (32, 64, 128)
    text_width: int = 64
    text_layers: int = 2
    max_length: int = 48  # caption tokens
    sentence_length: int = 10  # blob sentence tokens during training (real tokens never exceed it)
    paint_channels: int = 16
    subject_tokens: int = 2
    binding_dim: int = BINDING_DIM
    # Each blob's conditioning covers the shape its words name, drawn in its ellipse (the
    # silhouette), not the whole ellipse (see :func:`silhouettes`); False: the ellipse (v1, v2).
    paint_shapes: bool = False

    @property
    def latent_size(self) -> int:
        return self.image_size // 2

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MiniworldConfig:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "block_out_channels" in known:
            known["block_out_channels"] = tuple(known["block_out_channels"])
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def blob_config(self) -> BlobLayerConfig:
        return BlobLayerConfig(
            text_dim=self.text_width, embed_dim=self.text_width, num_freqs=8, mlp_dim=128
        )


def silhouettes(blobs: Sequence[Blob], height: int, width: int) -> torch.Tensor:
    """The region each blob's conditioning covers when the model paints shapes: the shape its
    sentence names, drawn in its ellipse as the world draws it (a ring keeps its hole); the
    ellipse for a sentence that names no shape. Boolean ``(n, height, width)``."""
    if not blobs:
        return torch.zeros(0, height, width, dtype=torch.bool)
    masks = []
    for blob in blobs:
        shape = named_shape(blob.description)
        mask = blob.mask(width, height) if shape is None else shape_in_blob(shape, blob, width, height)
        masks.append(mask if mask.any() else blob.mask(width, height))  # a sliver: the ellipse
    return torch.from_numpy(np.stack(masks))


def build_unet(config: MiniworldConfig) -> Any:
    """The UNet with blob layers, the painter and the subject tokens installed."""
    from diffusers import UNet2DConditionModel

    channels = config.block_out_channels
    unet: Any = UNet2DConditionModel(
        sample_size=config.latent_size,
        in_channels=12,
        out_channels=12,
        layers_per_block=1,
        block_out_channels=channels,
        down_block_types=("DownBlock2D", *["CrossAttnDownBlock2D"] * (len(channels) - 1)),
        up_block_types=(*["CrossAttnUpBlock2D"] * (len(channels) - 1), "UpBlock2D"),
        cross_attention_dim=config.text_width,
        attention_head_dim=4,  # diffusers passes this as the number of heads
        norm_num_groups=16,
    )
    layers = add_blob_layers(unet, config.blob_config())
    if config.paint_shapes:
        layers.region_masks = silhouettes
    unet.blob_painter = BlobPainter(config.text_width, config.paint_channels, channels[0])
    unet.conv_in.register_forward_hook(_PaintAfterConvIn(unet))
    unet.subject_tokens = SubjectTokens(
        config.binding_dim, config.text_width, config.subject_tokens
    )
    return unet


def build_text_encoder(config: MiniworldConfig, tokenizer: Any) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.text_width,
            intermediate_size=4 * config.text_width,
            num_attention_heads=4,
            num_hidden_layers=config.text_layers,
            max_position_embeddings=config.max_length,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )


def build_scheduler() -> Any:
    """v-prediction on a cosine schedule (what trained best on this CPU; see MEASUREMENTS.md)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="v_prediction",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
