"""SeeCoder's image backbone: a Swin Transformer that returns multi-scale features.

The official SeeCoder uses Swin-L (embed 192, depths 2-2-18-2, window 12) as in Mask2Former's
detection variant: feature maps are padded to whole windows (so any image size works), and every
stage's output has its own LayerNorm (``norm0`` .. ``norm3``). Attribute names follow the official
checkpoint (``patch_embed``, ``layers.i.blocks.j.attn.qkv``, ``layers.i.downsample.reduction``...)
so its weights load without renaming.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _windows(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, H, W, C) with H, W multiples of ``size`` -> (B * nW, size*size, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // size, size, w // size, size, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, size * size, c)


def _unwindow(windows: torch.Tensor, size: int, h: int, w: int) -> torch.Tensor:
    c = windows.shape[-1]
    x = windows.view(-1, h // size, w // size, size, size, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def _relative_position_index(size: int) -> torch.Tensor:
    """(size², size²) index into the (2·size-1)² table of relative offsets between two cells."""
    coords = torch.stack(
        torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    ).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (size - 1)
    return rel[..., 0] * (2 * size - 1) + rel[..., 1]


def _shift_mask(h: int, w: int, size: int, shift: int, device: torch.device) -> torch.Tensor:
    """(nW, size², size²) additive mask: after a cyclic shift, cells that were not neighbours
    must not attend to each other (-100 as in the reference, so softmax stays finite)."""
    labels = torch.zeros(1, h, w, 1, device=device)
    bands = (slice(0, -size), slice(-size, -shift), slice(-shift, None))
    for index, (hs, ws) in enumerate((hs, ws) for hs in bands for ws in bands):
        labels[:, hs, ws, :] = index
    cells = _windows(labels, size).squeeze(-1)
    differ = cells.unsqueeze(1) != cells.unsqueeze(2)
    return torch.zeros(differ.shape, device=device).masked_fill(differ, -100.0)


class WindowAttention(nn.Module):
    def __init__(self, dim: int, window: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.relative_position_index: torch.Tensor
        self.register_buffer("relative_position_index", _relative_position_index(window))
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0).to(q.dtype)  # (1, heads, n, n)
        if mask is not None:
            windows = mask.shape[0]
            bias = (bias.unsqueeze(1) + mask.to(q.dtype).view(1, windows, 1, n, n)).expand(
                b // windows, -1, -1, -1, -1
            )
            bias = bias.reshape(b, self.heads, n, n)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinBlock(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, shift: int, mlp_ratio: float) -> None:
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, h: int, w: int, mask: torch.Tensor | None) -> torch.Tensor:
        b, _, c = x.shape
        y = self.norm1(x).view(b, h, w, c)
        pad_h, pad_w = (-h) % self.window, (-w) % self.window
        y = F.pad(y, (0, 0, 0, pad_w, 0, pad_h))
        hp, wp = h + pad_h, w + pad_w
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(1, 2))
        y = self.attn(_windows(y, self.window), mask if self.shift else None)
        y = _unwindow(y, self.window, hp, wp)
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + y[:, :h, :w, :].reshape(b, h * w, c)
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """2x2 neighbourhoods -> one token with twice the channels."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, _, c = x.shape
        x = F.pad(x.view(b, h, w, c), (0, 0, 0, w % 2, 0, h % 2))
        # The order of the four cells matters for loading weights: (0,0), (1,0), (0,1), (1,1).
        x = torch.cat(
            [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1
        )
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class SwinStage(nn.Module):
    def __init__(
        self, dim: int, depth: int, heads: int, window: int, mlp_ratio: float, downsample: bool
    ) -> None:
        super().__init__()
        self.window, self.shift = window, window // 2
        self.blocks = nn.ModuleList(
            SwinBlock(dim, heads, window, 0 if i % 2 == 0 else window // 2, mlp_ratio)
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim) if downsample else None

    def forward(
        self, x: torch.Tensor, h: int, w: int
    ) -> tuple[torch.Tensor, torch.Tensor, int, int]:
        """Returns this stage's output (for the feature pyramid) and the next stage's input."""
        hp, wp = -(-h // self.window) * self.window, -(-w // self.window) * self.window
        mask = _shift_mask(hp, wp, self.window, self.shift, x.device) if self.shift else None
        for block in self.blocks:
            x = block(x, h, w, mask)
        if self.downsample is None:
            return x, x, h, w
        return x, self.downsample(x, h, w), (h + 1) // 2, (w + 1) // 2


class PatchEmbed(nn.Module):
    def __init__(self, patch: int, dim: int) -> None:
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = (-x.shape[-2]) % self.patch, (-x.shape[-1]) % self.patch
        x = self.proj(F.pad(x, (0, pad_w, 0, pad_h)))
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class SwinBackbone(nn.Module):
    """Swin Transformer returning ``{"res2": ..., "res5": ...}`` feature maps at strides 4-32."""

    def __init__(
        self,
        embed_dim: int,
        depths: tuple[int, ...],
        num_heads: tuple[int, ...],
        window_size: int,
        patch_size: int = 4,
        mlp_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        self.num_features = [embed_dim * 2**i for i in range(len(depths))]
        self.layers = nn.ModuleList(
            SwinStage(dim, depth, heads, window_size, mlp_ratio, downsample=i < len(depths) - 1)
            for i, (dim, depth, heads) in enumerate(
                zip(self.num_features, depths, num_heads, strict=True)
            )
        )
        for i, dim in enumerate(self.num_features):
            self.add_module(f"norm{i}", nn.LayerNorm(dim))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.patch_embed(images)
        b, _, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        features: dict[str, torch.Tensor] = {}
        for i, stage in enumerate(self.layers):
            out, x, next_h, next_w = stage(x, h, w)
            out = getattr(self, f"norm{i}")(out)
            features[f"res{i + 2}"] = out.view(b, h, w, -1).permute(0, 3, 1, 2).contiguous()
            h, w = next_h, next_w
        return features
