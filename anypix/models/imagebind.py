"""An ImageBind-compatible encoder: vision, text and audio in one embedding space.

Written for anypix (no code from the ImageBind repository), with parameter names and shapes that
match the official ``imagebind_huge.pth``, so that file loads with :func:`load_imagebind`. Only the
three modalities anypix uses are built; the checkpoint's depth, thermal and IMU tensors are skipped.

Layout of the state dict (``M`` is vision, text or audio)::

    modality_preprocessors.M.*   patch stem / token embedding, cls token, positional embedding
    modality_trunks.M.blocks.N.* pre-norm transformer blocks (nn.MultiheadAttention, fc1/fc2 MLP)
    modality_heads.M.*           final LayerNorm + projection to the shared space
    modality_postprocessors.M.*  logit scales (text learnable, audio fixed at 20)

Embeddings come out L2-normalised per modality, without the logit scales, as InstructAny2Pix
uses them. Preprocessing (image resize/crop/normalise, Kaldi-style log-mel fbank, CLIP BPE
token ids) lives in :mod:`anypix.models.imagebind_inputs`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from anypix.errors import ModelUnavailableError

BindModality = Literal["vision", "text", "audio"]
MODALITIES: tuple[BindModality, ...] = ("vision", "text", "audio")


@dataclass(frozen=True)
class ImageBindConfig:
    out_dim: int = 1024  # size of the shared embedding space
    vision_dim: int = 1280
    vision_blocks: int = 32
    vision_heads: int = 16
    image_size: int = 224
    patch: int = 14  # vision patches are (2 frames) x patch x patch; an image is repeated twice
    text_dim: int = 1024
    text_blocks: int = 24
    text_heads: int = 16
    vocab_size: int = 49408  # OpenAI CLIP BPE
    context_length: int = 77
    audio_dim: int = 768
    audio_blocks: int = 12
    audio_heads: int = 12
    mel_bins: int = 128
    audio_frames: int = 204  # 2 s clips at a 10 ms shift, padded
    audio_kernel: int = 16
    audio_stride: int = 10
    audio_logit_scale: float = 20.0  # fixed in the official model
    text_logit_scale: float = 1 / 0.07  # learnable in the official model

    @classmethod
    def huge(cls) -> ImageBindConfig:
        return cls()

    @classmethod
    def tiny(cls, vocab_size: int = 514) -> ImageBindConfig:
        """A few-thousand-parameter config for tests (514 = the byte CLIP tokenizer's vocab)."""
        return cls(
            out_dim=16,
            vision_dim=32,
            vision_blocks=2,
            vision_heads=4,
            image_size=28,
            text_dim=32,
            text_blocks=2,
            text_heads=4,
            vocab_size=vocab_size,
            audio_dim=32,
            audio_blocks=2,
            audio_heads=4,
        )

    @property
    def vision_tokens(self) -> int:
        return 1 + (self.image_size // self.patch) ** 2

    @property
    def audio_grid(self) -> tuple[int, int]:
        def side(n: int) -> int:
            return (n - self.audio_kernel) // self.audio_stride + 1

        return side(self.mel_bins), side(self.audio_frames)


# -- building blocks (names follow the official checkpoint) ----------------------------------------


class _RepeatAsVideo(nn.Module):
    """(B, C, H, W) image -> (B, C, frames, H, W) clip of identical frames (no parameters)."""

    def __init__(self, frames: int = 2) -> None:
        super().__init__()
        self.frames = frames

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image.unsqueeze(2).expand(-1, -1, self.frames, -1, -1)


class PatchStem(nn.Module):
    def __init__(self, proj: nn.Module, norm_layer: nn.Module | None = None) -> None:
        super().__init__()
        self.proj = proj
        self.norm_layer = norm_layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.proj(x).flatten(2).transpose(1, 2)  # B C (T) H W -> B L C
        return self.norm_layer(tokens) if self.norm_layer is not None else tokens


class PosEmbedding(nn.Module):
    def __init__(self, tokens: int, dim: int) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * dim**-0.5)


class PatchPreprocessor(nn.Module):
    """Patch tokens + a cls token + learned positions (the official ``RGBDTPreprocessor``)."""

    def __init__(self, stem: PatchStem, tokens: int, dim: int) -> None:
        super().__init__()
        self.rgbt_stem = stem
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * dim**-0.5)
        self.pos_embedding_helper = PosEmbedding(tokens, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.rgbt_stem(x)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        return torch.cat([cls, tokens], dim=1) + self.pos_embedding_helper.pos_embed


class TextPreprocessor(nn.Module):
    def __init__(self, vocab_size: int, context_length: int, dim: int) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.pos_embed = nn.Parameter(torch.randn(1, context_length, dim) * 0.01)
        # The checkpoint stores the causal mask as a buffer, so it is one here too.
        mask = torch.full((context_length, context_length), float("-inf")).triu_(1)
        self.register_buffer("mask", mask)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(token_ids) + self.pos_embed[:, : token_ids.shape[1]]


class Mlp(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block; ``add_bias_kv`` is on for audio, as in the official model."""

    def __init__(self, dim: int, heads: int, add_bias_kv: bool) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(
            dim, heads, bias=True, add_bias_kv=add_bias_kv, batch_first=True
        )
        self.norm_1 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim)
        self.norm_2 = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        h = self.norm_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=attn_mask)[0]
        return x + self.mlp(self.norm_2(x))


class Trunk(nn.Module):
    def __init__(
        self, dim: int, blocks: int, heads: int, pre_norm: bool, add_bias_kv: bool
    ) -> None:
        super().__init__()
        # Sequential so the vision LayerNorm is named pre_transformer_layer.0 like the checkpoint.
        self.pre_transformer_layer = nn.Sequential(
            nn.LayerNorm(dim, eps=1e-6) if pre_norm else nn.Identity()
        )
        self.blocks = nn.ModuleList(Block(dim, heads, add_bias_kv) for _ in range(blocks))

    def forward(self, tokens: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        tokens = self.pre_transformer_layer(tokens)
        for block in self.blocks:
            tokens = block(tokens, attn_mask)
        return tokens


class _SelectCls(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]


class TextHead(nn.Module):
    """Pools the end-of-text token (the highest id in each row) and projects it."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, out_dim, bias=False))

    def forward(self, x: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
        eot = token_ids.argmax(dim=-1)
        return self.proj(x[torch.arange(x.shape[0], device=x.device), eot])


class _Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(x, dim=-1)


class LogitScale(nn.Module):
    def __init__(self, init: float, learnable: bool) -> None:
        super().__init__()
        value = torch.tensor(math.log(init))
        if learnable:
            self.log_logit_scale = nn.Parameter(value)
        else:
            self.register_buffer("log_logit_scale", value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x  # anypix keeps unit vectors; ``scale`` is there for contrastive logits

    @property
    def scale(self) -> float:
        return float(self.log_logit_scale.exp().clamp(max=100))


def _cls_head(dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(
        nn.LayerNorm(dim, eps=1e-6), _SelectCls(), nn.Linear(dim, out_dim, bias=False)
    )


class ImageBindModel(nn.Module):
    def __init__(self, config: ImageBindConfig) -> None:
        super().__init__()
        c = self.config = config
        vision_stem = PatchStem(
            nn.Sequential(
                _RepeatAsVideo(2),
                nn.Conv3d(
                    3, c.vision_dim, (2, c.patch, c.patch), (2, c.patch, c.patch), bias=False
                ),
            )
        )
        audio_stem = PatchStem(
            nn.Conv2d(1, c.audio_dim, c.audio_kernel, c.audio_stride, bias=False),
            nn.LayerNorm(c.audio_dim),
        )
        grid = c.audio_grid
        self.modality_preprocessors = nn.ModuleDict(
            {
                "vision": PatchPreprocessor(vision_stem, c.vision_tokens, c.vision_dim),
                "text": TextPreprocessor(c.vocab_size, c.context_length, c.text_dim),
                "audio": PatchPreprocessor(audio_stem, 1 + grid[0] * grid[1], c.audio_dim),
            }
        )
        self.modality_trunks = nn.ModuleDict(
            {
                "vision": Trunk(c.vision_dim, c.vision_blocks, c.vision_heads, True, False),
                "text": Trunk(c.text_dim, c.text_blocks, c.text_heads, False, False),
                "audio": Trunk(c.audio_dim, c.audio_blocks, c.audio_heads, False, True),
            }
        )
        self.modality_heads = nn.ModuleDict(
            {
                "vision": _cls_head(c.vision_dim, c.out_dim),
                "text": TextHead(c.text_dim, c.out_dim),
                "audio": _cls_head(c.audio_dim, c.out_dim),
            }
        )
        self.modality_postprocessors = nn.ModuleDict(
            {
                "vision": _Normalize(),
                "text": nn.Sequential(_Normalize(), LogitScale(c.text_logit_scale, True)),
                "audio": nn.Sequential(_Normalize(), LogitScale(c.audio_logit_scale, False)),
            }
        )

    def forward(self, modality: BindModality, inputs: torch.Tensor) -> torch.Tensor:
        """Unit embeddings (B, out_dim). Inputs: vision (B, 3, S, S) normalised pixels; text
        (B, context) token ids; audio (B, clips, 1, mel_bins, frames) fbanks, clips averaged."""
        if modality not in MODALITIES:
            raise ValueError(f"modality {modality!r} is not one of {MODALITIES}")
        clips = 1
        if modality == "audio" and inputs.ndim == 5:
            clips = inputs.shape[1]
            inputs = inputs.flatten(0, 1)
        tokens = self.modality_preprocessors[modality](inputs)
        mask: torch.Tensor | None = None
        if modality == "text":
            length = tokens.shape[1]
            mask = self.modality_preprocessors["text"].get_buffer("mask")[:length, :length]
        hidden = self.modality_trunks[modality](tokens, mask)
        head = self.modality_heads[modality]
        pooled = head(hidden, inputs) if modality == "text" else head(hidden)
        embeds = self.modality_postprocessors[modality](pooled)
        if clips > 1:  # the official model averages the clip embeddings of one recording
            embeds = nn.functional.normalize(embeds.unflatten(0, (-1, clips)).mean(1), dim=-1)
        return embeds


def load_imagebind(
    path: str | Path, config: ImageBindConfig | None = None, device: str = "cpu"
) -> ImageBindModel:
    """Build the model and load an official-layout checkpoint (strict for vision/text/audio)."""
    path = Path(path)
    if path.is_dir():
        path = path / "imagebind_huge.pth"
    if not path.exists():
        raise ModelUnavailableError(
            f"ImageBind checkpoint {path} does not exist",
            "set model_paths.imagebind-huge to the imagebind_huge.pth file or its folder",
        )
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    with torch.device("meta"):  # no random init of 1B parameters that are overwritten anyway
        model = ImageBindModel(config or ImageBindConfig.huge())
    load_official_state_dict(model, state)
    return model.to(device).eval().requires_grad_(False)


def load_official_state_dict(model: ImageBindModel, state: dict[str, torch.Tensor]) -> list[str]:
    """Load the vision/text/audio tensors of an official state dict, strictly; returns the keys
    of the other modalities (depth, thermal, IMU), which are skipped. Raises
    :class:`ModelUnavailableError` naming missing, unexpected or misshapen keys."""
    ours = {k: v for k, v in state.items() if k.split(".")[1] in MODALITIES}
    expected = {k: v.shape for k, v in model.state_dict().items()}
    problems = {
        "missing": sorted(set(expected) - set(ours)),
        "unexpected": sorted(set(ours) - set(expected)),
        "misshapen": sorted(k for k in set(ours) & set(expected) if ours[k].shape != expected[k]),
    }
    if any(problems.values()):
        details = "; ".join(f"{kind} {keys[:3]}" for kind, keys in problems.items() if keys)
        raise ModelUnavailableError(
            f"the checkpoint does not match the ImageBind layout ({details})",
            "use the official imagebind_huge.pth or a config that matches it",
        )
    model.load_state_dict(ours, strict=True, assign=True)
    return sorted(set(state) - set(ours))
