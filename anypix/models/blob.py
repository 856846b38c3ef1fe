"""BlobGEN's blob grounding: blob embeddings and gated masked cross-attention layers.

A blob is a tilted ellipse plus a sentence. Its embedding joins Fourier features of the geometry
``(cx, cy, a, b, sin θ, cos θ)`` to every token embedding of its sentence and passes the result
through an MLP. A :class:`MaskedCrossAttention` layer sits after each transformer block's text
cross-attention (``attn2``): a pixel's query reaches the tokens of exactly the blobs whose ellipse
covers it (one softmax over all of them); a pixel covered by no blob gets an exact zero update.
The layer's output is scaled by ``tanh(gate)`` with ``gate = 0`` at initialisation, so adding
untrained layers leaves the UNet's output bit-for-bit unchanged.

Layout of the modules inside a diffusers ``UNet2DConditionModel`` (so they are saved and loaded
with ``unet.state_dict()``)::

    unet.blob_grounding.embedding.*                     BlobEmbedding
    unet.blob_grounding.layers.<block path, '-' for '.'>.*   one MaskedCrossAttention per block

The layers are driven through removable forward hooks on each block's ``attn2``: the masked
attention reads the same normalised hidden states as the text cross-attention, plus that
cross-attention's output (the state "after" it), and its gated result is added to the block's
cross-attention residual update. Nothing is monkeypatched, and any attention processor on
``attn2`` (regional masking, IP-Adapter) keeps working underneath.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from anypix.plan import Blob

GEOMETRY_DIM = 6  # cx, cy, a, b, sin θ, cos θ


# -- masks and resolutions --------------------------------------------------------------------------
def blob_masks(blobs: Sequence[Blob], height: int, width: int) -> torch.Tensor:
    """Boolean ``(n_blobs, height, width)`` masks of the blobs' ellipses on a pixel canvas."""
    import numpy as np

    if not blobs:
        return torch.zeros(0, height, width, dtype=torch.bool)
    return torch.from_numpy(np.stack([blob.mask(width, height) for blob in blobs]))


# Blobs -> the boolean (n, height, width) regions their conditioning covers.
RegionMasks = Callable[[Sequence["Blob"], int, int], torch.Tensor]


def blob_geometry(blobs: Sequence[Blob]) -> torch.Tensor:
    """``(n_blobs, 6)`` rows of ``(cx, cy, a, b, sin θ, cos θ)``, the input of the Fourier map."""
    rows = [
        (b.cx, b.cy, b.a, b.b, math.sin(math.radians(b.angle)), math.cos(math.radians(b.angle)))
        for b in blobs
    ]
    return torch.tensor(rows, dtype=torch.float32).reshape(len(rows), GEOMETRY_DIM)


def feature_sizes(height: int, width: int, levels: int = 8) -> dict[int, tuple[int, int]]:
    """Map a token count ``h*w`` to ``(h, w)`` for every feature map of a canvas.

    VAEs and UNet downsamplers (stride 2, padding 1) both give ``ceil(n / 2)`` per halving, so the
    sizes a transformer block can see are the repeated ceil-halvings of the image size."""
    sizes: dict[int, tuple[int, int]] = {}
    h, w = height, width
    for _ in range(levels + 1):
        sizes.setdefault(h * w, (h, w))
        h, w = -(-h // 2), -(-w // 2)
    return sizes


def masks_at(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Downsample ``(..., H, W)`` boolean masks to ``size``: a cell is inside when at least half
    of the pixels it covers are (area interpolation), which keeps each blob's shape and area."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks.bool()
    lead = masks.shape[:-2]
    flat = masks.reshape(-1, 1, *masks.shape[-2:]).float()
    if flat.shape[0] == 0:
        return torch.zeros(*lead, *size, dtype=torch.bool, device=masks.device)
    small = F.interpolate(flat, size=size, mode="area")
    return (small >= 0.5).reshape(*lead, *size)


def tokens_to_size(masks: torch.Tensor, num_tokens: int) -> tuple[int, int]:
    """The ``(h, w)`` of a feature map with ``num_tokens`` positions for masks of shape (..., H, W)."""
    sizes = feature_sizes(int(masks.shape[-2]), int(masks.shape[-1]))
    if num_tokens not in sizes:
        raise ValueError(
            f"a feature map with {num_tokens} positions does not match a {masks.shape[-2]}x"
            f"{masks.shape[-1]} canvas; give the masks at the image (or latent) size"
        )
    return sizes[num_tokens]


# -- modules -------------------------------------------------------------------------------------------
def fourier_features(values: torch.Tensor, num_freqs: int) -> torch.Tensor:
    """``(..., k)`` -> ``(..., k * 2 * num_freqs)``: sin and cos of ``π 2^j x`` for j < num_freqs."""
    freqs = math.pi * 2.0 ** torch.arange(num_freqs, device=values.device, dtype=values.dtype)
    angles = values.unsqueeze(-1) * freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(-2)


@dataclass(frozen=True)
class BlobLayerConfig:
    text_dim: int  # width of the sentence token embeddings (the text encoder's hidden size)
    embed_dim: int  # width of a blob token after the MLP (the keys/values of the masked attention)
    num_freqs: int = 8  # Fourier frequencies per geometry value
    mlp_dim: int = 512  # hidden width of the blob MLP
    heads: int | None = None  # attention heads; None: the same as the block's attn2


class BlobEmbedding(nn.Module):
    """Fourier(geometry) joined to each token embedding of the blob's sentence, then an MLP."""

    def __init__(self, config: BlobLayerConfig) -> None:
        super().__init__()
        self.num_freqs = config.num_freqs
        in_dim = config.text_dim + GEOMETRY_DIM * 2 * config.num_freqs
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, config.mlp_dim),
            nn.SiLU(),
            nn.Linear(config.mlp_dim, config.mlp_dim),
            nn.SiLU(),
            nn.Linear(config.mlp_dim, config.embed_dim),
        )

    def forward(self, geometry: torch.Tensor, token_embeddings: torch.Tensor) -> torch.Tensor:
        """geometry (B, n, 6), token_embeddings (B, n, T, D) -> blob tokens (B, n, T, embed_dim)."""
        pos = fourier_features(geometry.to(token_embeddings.dtype), self.num_freqs)
        pos = pos.unsqueeze(2).expand(-1, -1, token_embeddings.shape[2], -1)
        return self.mlp(torch.cat([token_embeddings, pos], dim=-1))


class MaskedCrossAttention(nn.Module):
    """Cross-attention from pixels to blob tokens where each pixel sees only the blobs covering it,
    gated by ``tanh(gate)`` (0 at initialisation)."""

    def __init__(self, query_dim: int, context_dim: int, heads: int) -> None:
        super().__init__()
        if query_dim % heads:
            raise ValueError(f"query_dim {query_dim} is not divisible by heads {heads}")
        self.heads = heads
        self.norm = nn.LayerNorm(query_dim)
        self.to_q = nn.Linear(query_dim, query_dim, bias=False)
        self.to_k = nn.Linear(context_dim, query_dim, bias=False)
        self.to_v = nn.Linear(context_dim, query_dim, bias=False)
        self.to_out = nn.Linear(query_dim, query_dim)
        self.gate = nn.Parameter(torch.zeros(()))

    def forward(
        self, hidden: torch.Tensor, tokens: torch.Tensor, allowed: torch.Tensor
    ) -> torch.Tensor:
        """hidden (B, N, C), tokens (B, M, D), allowed (B, N, M) bool -> gated update (B, N, C).

        Rows with no allowed token (pixels outside every blob, and the unconditional half of a
        guidance batch) get exactly zero, so only the rows and pixels some blob covers are
        computed (LayerNorm, projections and attention are per pixel: the result is the same)."""
        if tokens.shape[1] == 0:
            return torch.zeros_like(hidden)
        covered = allowed.any(dim=-1)  # (B, N)
        rows, pixels = covered.any(dim=1), covered.any(dim=0)
        # on the meta device (FLOP counts) nothing can be read: every row is computed
        whole = hidden.is_meta or (bool(rows.all()) and bool(pixels.all()))
        if not whole and not bool(rows.any()):
            return torch.zeros_like(hidden)
        if not whole:
            hidden, tokens = hidden[rows][:, pixels], tokens[rows]
            allowed, covered = allowed[rows][:, pixels], covered[rows][:, pixels]
        # A fully masked softmax row is NaN; let such rows see token 0 and zero them afterwards.
        first = torch.zeros_like(allowed)
        first[..., 0] = True
        allowed = allowed | (first & ~covered.unsqueeze(-1))
        batch, n, channels = hidden.shape
        split = (batch, -1, self.heads, channels // self.heads)
        q = self.to_q(self.norm(hidden)).view(split).transpose(1, 2)
        k = self.to_k(tokens).view(split).transpose(1, 2)
        v = self.to_v(tokens).view(split).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed.unsqueeze(1))
        out = self.to_out(out.transpose(1, 2).reshape(batch, n, channels))
        out = self.gate.tanh().to(out.dtype) * (out * covered.unsqueeze(-1).to(out.dtype))
        if whole:
            return out
        update = out.new_zeros(rows.shape[0], pixels.shape[0], channels)
        update[rows.nonzero()[:, :1], pixels.nonzero()[:, 0]] = out
        return update


# -- conditioning --------------------------------------------------------------------------------------
@dataclass
class BlobBatch:
    """What the blob layers are conditioned on, for a batch of B images and n blob slots.

    ``token_mask`` marks real tokens; a slot whose tokens are all masked is "no blob" (padding, or a
    dropped condition during training). ``masks`` are the ellipses at the image (or latent) size;
    they are downsampled per feature map."""

    geometry: torch.Tensor  # (B, n, 6)
    token_embeddings: torch.Tensor  # (B, n, T, D_text)
    token_mask: torch.Tensor  # (B, n, T) bool
    masks: torch.Tensor  # (B, n, H, W) bool

    @classmethod
    def from_blobs(
        cls,
        blobs: Sequence[Blob],
        token_embeddings: torch.Tensor,
        token_mask: torch.Tensor,
        height: int,
        width: int,
        region_masks: RegionMasks = blob_masks,
    ) -> BlobBatch:
        """One image's conditioning from plan blobs and their sentences' token embeddings
        (n, T, D) and real-token mask (n, T); masks are drawn on a ``height`` x ``width`` canvas
        by ``region_masks`` (the ellipses, or what the model was trained with)."""
        device = token_embeddings.device
        return cls(
            geometry=blob_geometry(blobs).unsqueeze(0).to(token_embeddings),
            token_embeddings=token_embeddings.unsqueeze(0),
            token_mask=token_mask.bool().unsqueeze(0).to(device),
            masks=region_masks(blobs, height, width).unsqueeze(0).to(device),
        )

    def tensors(self) -> tuple[torch.Tensor, ...]:
        return (self.geometry, self.token_embeddings, self.token_mask, self.masks)

    def for_batch(self, batch: int, cfg: bool) -> BlobBatch:
        """Tile a batch of k images to ``batch`` rows (``[c0, c1, c0, c1]``, the layout of a
        guidance batch). With ``cfg``, rows of the first half are the unconditional pass and get
        no blobs (as in diffusers' GLIGEN pipeline)."""
        have = self.geometry.shape[0]
        if batch % have:
            raise ValueError(f"blob conditioning for {have} images cannot serve a batch of {batch}")
        reps = batch // have
        tiled = BlobBatch(*(t.repeat(reps, *[1] * (t.ndim - 1)) for t in self.tensors()))
        if cfg and reps > 1 and batch % 2 == 0:
            tiled.token_mask = tiled.token_mask.clone()
            tiled.token_mask[: batch // 2] = False
        return tiled


class BlobGrounding(nn.Module):
    """The blob embedding and one masked cross-attention layer per transformer block of a UNet."""

    def __init__(self, config: BlobLayerConfig, block_dims: dict[str, tuple[int, int]]) -> None:
        super().__init__()
        self.config = config
        self.embedding = BlobEmbedding(config)
        self.layers = nn.ModuleDict(
            {
                name: MaskedCrossAttention(dim, config.embed_dim, config.heads or heads)
                for name, (dim, heads) in block_dims.items()
            }
        )
        # Plain attributes, not state. The region each blob's conditioning covers: its ellipse,
        # unless the model was trained on another (a family sets it when it builds the UNet).
        self.region_masks: RegionMasks = blob_masks
        # The active conditioning and what is derived from it.
        self.hook_handles: list[Any] = []  # removable handles of the hooks add_blob_layers made
        self._conditioning: BlobBatch | None = None
        self._cfg = False
        self._prepared: dict[int, _Prepared] = {}

    @contextmanager
    def conditioned(self, batch: BlobBatch, *, cfg: bool = False) -> Iterator[BlobGrounding]:
        """Condition every UNet call inside the block on ``batch``; restores the previous state."""
        previous = (self._conditioning, self._cfg)
        self._conditioning, self._cfg = batch, cfg
        self.clear_cache()
        try:
            yield self
        finally:
            self._conditioning, self._cfg = previous
            self.clear_cache()

    def clear_cache(self) -> None:
        self._prepared.clear()

    def _prepare(self, batch_size: int) -> _Prepared:
        """Blob tokens for a batch, computed once per conditioning when sampling, and once per
        UNet forward when gradients are on (a pre-hook on the UNet clears the cache, so training
        builds a fresh graph every step)."""
        if batch_size not in self._prepared:
            assert self._conditioning is not None
            cond = self._conditioning.for_batch(batch_size, self._cfg)
            tokens = self.embedding(cond.geometry, cond.token_embeddings).flatten(1, 2)
            self._prepared[batch_size] = _Prepared(cond, tokens, cond.token_mask.flatten(1, 2))
        return self._prepared[batch_size]

    def update(self, name: str, hidden: torch.Tensor) -> torch.Tensor | None:
        """The gated masked cross-attention update for block ``name``; None when unconditioned."""
        if self._conditioning is None:
            return None
        prepared = self._prepare(hidden.shape[0])
        allowed = prepared.allowed_at(hidden.shape[1]).to(hidden.device)
        return self.layers[name](hidden, prepared.tokens.to(hidden.dtype), allowed)


@dataclass
class _Prepared:
    cond: BlobBatch
    tokens: torch.Tensor  # (B, n*T, D)
    valid: torch.Tensor  # (B, n*T) bool
    allowed: dict[int, torch.Tensor] = field(default_factory=dict)

    def allowed_at(self, num_pixels: int) -> torch.Tensor:
        """(B, N, n*T) bool: may pixel p attend to token m (its blob covers p, m is real)."""
        if num_pixels not in self.allowed:
            size = tokens_to_size(self.cond.masks, num_pixels)
            pixel_masks = masks_at(self.cond.masks, size).flatten(2)  # (B, n, N)
            per_token = pixel_masks.repeat_interleave(self.cond.token_mask.shape[2], dim=1)
            self.allowed[num_pixels] = per_token.transpose(1, 2) & self.valid.unsqueeze(1)
        return self.allowed[num_pixels]


# -- install / remove in a UNet ------------------------------------------------------------------------
class _ClearCache:
    """UNet forward pre-hook: blob tokens are recomputed once per forward where gradients are on
    (so training gets a fresh graph each step); sampling computes them once per conditioning. A
    callable object, not a closure, so ``copy.deepcopy(unet)`` rebinds it."""

    def __init__(self, grounding: BlobGrounding) -> None:
        self.grounding = grounding

    def __call__(self, module: nn.Module, args: tuple) -> None:
        if torch.is_grad_enabled():  # sampling keeps them: the tokens do not depend on the step
            self.grounding.clear_cache()


class _AfterCrossAttention:
    """Forward hook on a block's ``attn2``: add the gated masked cross-attention update."""

    def __init__(self, grounding: BlobGrounding, name: str) -> None:
        self.grounding, self.name = grounding, name

    def __call__(self, module: nn.Module, args: tuple, kwargs: dict, output: torch.Tensor) -> Any:
        hidden = args[0] if args else kwargs["hidden_states"]
        update = self.grounding.update(self.name, hidden + output)
        return None if update is None else output + update


def _cross_attention_blocks(unet: nn.Module) -> dict[str, Any]:
    """Transformer blocks that have a text cross-attention, keyed by module path with '-' for '.'."""
    return {
        name.replace(".", "-"): module
        for name, module in unet.named_modules()
        if getattr(module, "attn2", None) is not None and hasattr(module, "norm2")
    }


def add_blob_layers(unet: nn.Module, config: BlobLayerConfig) -> BlobGrounding:
    """Add BlobGEN layers (gate 0: the UNet's output does not change) as ``unet.blob_grounding``.

    The new parameters are trainable and part of ``unet.state_dict()``; to load trained weights,
    build the UNet, call this with the same config, then ``unet.load_state_dict``."""
    if get_blob_layers(unet) is not None:
        raise ValueError("this UNet already has blob layers; remove_blob_layers(unet) first")
    blocks = _cross_attention_blocks(unet)
    if not blocks:
        raise ValueError("this UNet has no transformer blocks with cross-attention")
    dims = {name: (block.attn2.query_dim, block.attn2.heads) for name, block in blocks.items()}
    param = next(unet.parameters())
    grounding = BlobGrounding(config, dims).to(device=param.device, dtype=param.dtype)
    unet.blob_grounding = grounding
    # The handles live on the grounding module: a deep copy of the UNet copies them with the
    # hook tables they point into (torch's handles pickle those tables), so removing the layers
    # of a copy removes the copy's hooks.
    grounding.hook_handles = [unet.register_forward_pre_hook(_ClearCache(grounding))]
    for name, block in blocks.items():
        hook = _AfterCrossAttention(grounding, name)
        grounding.hook_handles.append(block.attn2.register_forward_hook(hook, with_kwargs=True))
    return grounding


def get_blob_layers(unet: Any) -> BlobGrounding | None:
    """The UNet's blob layers; None without them (or for a noise model that is no module)."""
    grounding = getattr(unet, "_modules", {}).get("blob_grounding")
    return grounding if isinstance(grounding, BlobGrounding) else None


def painted_regions(unet: Any) -> RegionMasks | None:
    """What the UNet's blob layers condition each blob on when it is not the blob's ellipse (a
    model that paints the shape a sentence names: a triangle's corners reach past its ellipse);
    None for ellipses or no blob layers."""
    layers = get_blob_layers(unet)
    if layers is None or layers.region_masks is blob_masks:
        return None
    return layers.region_masks


def remove_blob_layers(unet: nn.Module) -> None:
    """Remove the blob layers and their hooks; the UNet is as it was before ``add_blob_layers``."""
    grounding = get_blob_layers(unet)
    if grounding is None:
        return
    for handle in grounding.hook_handles:
        handle.remove()
    del unet._modules["blob_grounding"]


def blob_layer_config(unet: nn.Module) -> dict[str, Any] | None:
    """The config of a UNet's blob layers as a dict (to save next to the weights), or None."""
    grounding = get_blob_layers(unet)
    return None if grounding is None else asdict(grounding.config)
