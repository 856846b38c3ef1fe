"""SeeCoder (Prompt-Free Diffusion): an image stands where a prompt stands.

    image (B, 3, H, W) in [0, 1]
      -> Swin backbone: features res3, res4, res5 (strides 8, 16, 32)
      -> decoder: one transformer over the three levels' tokens, plus lateral 1x1 convs
      -> query transformer: 4 global + 144 local queries; local queries cross-attend to one
         level per layer (round robin), then all queries self-attend and pass an FFN
      -> context (B, 148, C): used as ``encoder_hidden_states`` by the UNet's cross-attention

The optional 2-D position embedding (SeeCoder-PA) adds Fourier-feature MLP positions to the keys
of the local queries' cross-attention. Module names follow the official checkpoint
(``imencoder``, ``imdecoder``, ``qtransformer`` and their children), so ``load_seecoder_state``
reads ``seecoder-v1-0.safetensors`` (keys prefixed ``ctx.image.``) with no renaming. The
unconditional context for guidance is all zeros, as in the reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from anypix.models.seecoder_backbone import SwinBackbone

Role = Literal["variation", "style", "content"]


@dataclass(frozen=True)
class ImagePromptEncoder:
    """A SeeCoder for one model. ``context(pixels, prompt, role)`` is the conditional context
    (B, T, C) of (B, 3, H, W) pixels in [0, 1] with the words ``prompt`` beside them, the image
    standing for a whole prompt ("variation"), for its style alone ("style": the words say what
    to draw) or for its content alone ("content": the words say the style); ``null(context)`` is
    the unconditional context of the same shape; ``words(pixels, role)`` what the encoder read,
    in words, where it reads images out in words (else None).

    An encoder that reads words can also say, per image, ``texts(pixels, prompt, role)``: the
    caption its context encodes, and ``objects(pixels)``: the phrases of the objects it read,
    left to right. With both, a model that draws objects where blobs put them draws each one
    where the image has it (:func:`anypix.tools.image_prompt.image_layout`)."""

    context: Callable[[torch.Tensor, str, Role], torch.Tensor]
    null: Callable[[torch.Tensor], torch.Tensor]
    name: str  # what it is, for provenance
    words: Callable[[torch.Tensor, Role], list[str]] | None = None
    texts: Callable[[torch.Tensor, str, Role], list[str]] | None = None
    objects: Callable[[torch.Tensor], list[list[str]]] | None = None

LEVELS = ("res3", "res4", "res5")
CHECKPOINT_PREFIX = "ctx.image."


@dataclass(frozen=True)
class SeeCoderConfig:
    """Defaults are the official SeeCoder (Swin-L backbone, 768-wide decoder and queries)."""

    embed_dim: int = 192  # Swin patch embedding width; stage i has embed_dim * 2**i channels
    depths: tuple[int, ...] = (2, 2, 18, 2)  # Swin blocks per stage
    num_heads: tuple[int, ...] = (6, 12, 24, 48)  # Swin heads per stage
    window_size: int = 12  # Swin attention window (cells)
    decoder_dim: int = 768  # width of the decoder's transformer and lateral convs
    decoder_heads: int = 8
    decoder_layers: int = 6
    decoder_ff_dim: int = 1024
    norm_groups: int = 32  # GroupNorm groups in the decoder's projections
    hidden_dim: int = 768  # width of the queries = the context width the UNet sees
    num_global_queries: int = 4
    num_local_queries: int = 144
    query_heads: int = 8
    query_layers: int = 9
    query_ff_dim: int = 2048
    position_embedding: bool = False  # SeeCoder-PA: 2-D positions on the features' keys
    position_freqs: int = 20  # Fourier frequencies per axis of the position embedding

    @property
    def num_queries(self) -> int:
        return self.num_global_queries + self.num_local_queries


# -- decoder -------------------------------------------------------------------------------------------
class DecoderLayer(nn.Module):
    """Post-norm transformer layer (self-attention, ReLU FFN)."""

    def __init__(self, dim: int, heads: int, ff_dim: int) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm1 = nn.LayerNorm(dim)
        self.linear1 = nn.Linear(dim, ff_dim)
        self.linear2 = nn.Linear(ff_dim, dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.self_attn(x, x, x, need_weights=False)[0])
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))


class DecoderStack(nn.Module):
    def __init__(self, layers: list[DecoderLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class ConvNorm(nn.Conv2d):
    """1x1 convolution without bias followed by a GroupNorm stored as ``.norm``."""

    def __init__(self, in_channels: int, out_channels: int, groups: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size=1, bias=False)
        self.norm = nn.GroupNorm(groups, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(super().forward(x))


class SeeCoderDecoder(nn.Module):
    """Joint transformer over the tokens of res3-res5 (with a learned level embedding) added to
    lateral projections of the backbone features."""

    def __init__(self, in_channels: dict[str, int], config: SeeCoderConfig) -> None:
        super().__init__()
        dim, groups = config.decoder_dim, config.norm_groups
        self.inproj_layers = nn.ModuleDict(
            {
                level: nn.Sequential(
                    nn.Conv2d(in_channels[level], dim, kernel_size=1), nn.GroupNorm(groups, dim)
                )
                for level in LEVELS
            }
        )
        self.transformer = DecoderStack(
            [
                DecoderLayer(dim, config.decoder_heads, config.decoder_ff_dim)
                for _ in range(config.decoder_layers)
            ]
        )
        # Indexed coarse to fine: level_embed[0] belongs to res5.
        self.level_embed = nn.Parameter(torch.randn(len(LEVELS), dim))
        self.lateral_layers = nn.ModuleDict(
            {level: ConvNorm(in_channels[level], dim, groups) for level in LEVELS}
        )

    def forward(self, features: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        tokens, shapes = [], []
        for index, level in enumerate(reversed(LEVELS)):
            x = self.inproj_layers[level](features[level])
            shapes.append(x.shape)
            tokens.append(x.flatten(2).transpose(1, 2) + self.level_embed[index])
        mixed = self.transformer(torch.cat(tokens, dim=1)).split(
            [t.shape[1] for t in tokens], dim=1
        )
        out = {
            level: y.transpose(1, 2).reshape(shape) + self.lateral_layers[level](features[level])
            for level, y, shape in zip(reversed(LEVELS), mixed, shapes, strict=True)
        }
        return [out[level] for level in LEVELS]


# -- query transformer ---------------------------------------------------------------------------------
class PositionMLP(nn.Module):
    """SeeCoder-PA's 2-D position embedding: Fourier features of centred cell coordinates
    (in units of the shorter side) through a 3-layer MLP whose last layer starts at zero."""

    def __init__(self, freqs: int, dim: int) -> None:
        super().__init__()
        self.freqs = freqs
        self.mlp = nn.Sequential(
            nn.Linear(4 * freqs, dim),
            nn.SiLU(),
            nn.Linear(dim, dim),
            nn.SiLU(),
            nn.Linear(dim, dim),
        )
        last: nn.Linear = self.mlp[-1]  # type: ignore[assignment]
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        """feature (B, C, h, w) -> positions (1, h*w, dim)."""
        h, w = feature.shape[-2:]
        side = min(h, w)
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        ys = (ys + 0.5 - h / 2) / side * 2 * math.pi
        xs = (xs + 0.5 - w / 2) / side * 2 * math.pi
        scales = (side / 2) ** torch.linspace(0, 1, self.freqs)
        py, px = ys[..., None] * scales, xs[..., None] * scales
        pos = torch.cat([py.sin(), py.cos(), px.sin(), px.cos()], dim=-1).to(feature)
        return self.mlp(pos).flatten(0, 1).unsqueeze(0)


class AttentionLayer(nn.Module):
    """Post-norm attention: ``norm(q + attn(q + q_pos, kv + k_pos, kv))``."""

    def __init__(self, dim: int, heads: int, attr: str) -> None:
        super().__init__()
        self.attr = attr  # "self_attn" or "multihead_attn", the checkpoint's names
        self.add_module(attr, nn.MultiheadAttention(dim, heads, batch_first=True))
        self.norm = nn.LayerNorm(dim)

    def forward(
        self, q: torch.Tensor, kv: torch.Tensor, q_pos: torch.Tensor, k_pos: torch.Tensor | None
    ) -> torch.Tensor:
        keys = kv if k_pos is None else kv + k_pos
        out = getattr(self, self.attr)(q + q_pos, keys, kv, need_weights=False)[0]
        return self.norm(q + out)


class FeedForwardLayer(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.linear1, self.linear2, self.norm = (
            nn.Linear(dim, hidden),
            nn.Linear(hidden, dim),
            nn.LayerNorm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.linear2(F.relu(self.linear1(x))))


class QueryTransformer(nn.Module):
    def __init__(self, in_dim: int, config: SeeCoderConfig) -> None:
        super().__init__()
        dim, heads = config.hidden_dim, config.query_heads
        self.num_global = config.num_global_queries
        self.pe_layer = (
            PositionMLP(config.position_freqs, dim) if config.position_embedding else None
        )
        self.input_proj = (
            nn.ModuleList(nn.Conv2d(in_dim, dim, kernel_size=1) for _ in LEVELS)
            if in_dim != dim
            else None
        )
        layers = range(config.query_layers)
        self.transformer_selfatt_layers = nn.ModuleList(
            AttentionLayer(dim, heads, "self_attn") for _ in layers
        )
        self.transformer_crossatt_layers = nn.ModuleList(
            AttentionLayer(dim, heads, "multihead_attn") for _ in layers
        )
        self.transformer_feedforward_layers = nn.ModuleList(
            FeedForwardLayer(dim, config.query_ff_dim) for _ in layers
        )
        self.init_query = nn.Embedding(config.num_queries, dim)
        self.query_pos_embedding = nn.Embedding(config.num_queries, dim)
        self.level_embed = nn.Embedding(len(LEVELS), dim)  # indexed fine to coarse: 0 is res3

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        memory, memory_pos = [], []
        for i, feature in enumerate(features):
            memory_pos.append(None if self.pe_layer is None else self.pe_layer(feature))
            x = feature if self.input_proj is None else self.input_proj[i](feature)
            memory.append(x.flatten(2).transpose(1, 2) + self.level_embed.weight[i])
        batch, g = memory[0].shape[0], self.num_global
        queries = self.init_query.weight.unsqueeze(0).expand(batch, -1, -1)
        query_pos = self.query_pos_embedding.weight.unsqueeze(0).expand(batch, -1, -1)
        for i, (cross, self_attn, ffn) in enumerate(
            zip(
                self.transformer_crossatt_layers,
                self.transformer_selfatt_layers,
                self.transformer_feedforward_layers,
                strict=True,
            )
        ):
            level = i % len(memory)
            # Only the local queries look at the image; the global ones gather from them.
            local = cross(queries[:, g:], memory[level], query_pos[:, g:], memory_pos[level])
            queries = torch.cat([queries[:, :g], local], dim=1)
            queries = ffn(self_attn(queries, queries, query_pos, query_pos))
        return queries


# -- SeeCoder ------------------------------------------------------------------------------------------
class SeeCoder(nn.Module):
    """Image (B, 3, H, W) in [0, 1] -> context tokens (B, 4 + 144, hidden_dim)."""

    def __init__(self, config: SeeCoderConfig = SeeCoderConfig()) -> None:
        super().__init__()
        self.config = config
        self.imencoder = SwinBackbone(
            config.embed_dim, config.depths, config.num_heads, config.window_size
        )
        channels = dict(
            zip(("res2", "res3", "res4", "res5"), self.imencoder.num_features, strict=True)
        )
        self.imdecoder = SeeCoderDecoder(channels, config)
        self.qtransformer = QueryTransformer(config.decoder_dim, config)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.qtransformer(self.imdecoder(self.imencoder(images)))

    @property
    def context_dim(self) -> int:
        return self.config.hidden_dim


def official_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys of an official SeeCoder checkpoint as this module names them (drops ``ctx.image.``
    and anything that is not the context encoder)."""
    if any(key.startswith(CHECKPOINT_PREFIX) for key in state):
        return {
            k.removeprefix(CHECKPOINT_PREFIX): v
            for k, v in state.items()
            if k.startswith(CHECKPOINT_PREFIX)
        }
    return dict(state)


def load_seecoder_state(
    model: SeeCoder, state: dict[str, torch.Tensor], *, strict: bool = True, assign: bool = False
) -> Any:
    """Load official-layout weights (with or without the ``ctx.image.`` prefix). SeeCoder-PA
    checkpoints carry ``qtransformer.pe_layer.*``; build the model with ``position_embedding=True``."""
    state = official_state_dict(state)
    has_pe = any(k.startswith("qtransformer.pe_layer.") for k in state)
    if has_pe != model.config.position_embedding:
        kind = (
            "a SeeCoder-PA checkpoint (with" if has_pe else "a plain SeeCoder checkpoint (without"
        )
        raise ValueError(
            f"{kind} position embedding); build SeeCoderConfig(position_embedding={has_pe})"
        )
    return model.load_state_dict(state, strict=strict, assign=assign)


def load_seecoder(
    path: str | Path,
    config: SeeCoderConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> SeeCoder:
    """Build a SeeCoder and load an official ``.safetensors`` / ``.pth`` checkpoint into it.
    Without a config, the official one is used (SeeCoder-PA when the file has its position MLP)."""
    from anypix.errors import ModelUnavailableError

    path = Path(path)
    if not path.is_file():
        raise ModelUnavailableError(
            f"no SeeCoder checkpoint at {path}",
            "download pretrained/pfd/seecoder/seecoder-v1-0.safetensors from shi-labs/prompt-free-diffusion",
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    state = official_state_dict(state)
    if config is None:
        config = SeeCoderConfig(
            position_embedding=any(k.startswith("qtransformer.pe_layer.") for k in state)
        )
    with torch.device("meta"):  # no time spent initialising 600M weights that are overwritten
        model = SeeCoder(config)
    load_seecoder_state(model, state, assign=True)
    return model.to(device=device, dtype=dtype).eval()


CHECKPOINT_FILES = {
    "seecoder": "pretrained/pfd/seecoder/seecoder-v1-0.safetensors",
    "seecoder-pa": "pretrained/pfd/seecoder/seecoder-pa-v1-0.safetensors",
    "seecoder-anime": "pretrained/pfd/seecoder/seecoder-anime-v1-0.safetensors",
}


def load_seecoder_preset(
    variant: str = "seecoder",
    *,
    config: SeeCoderConfig | None = None,
    settings: Any = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> SeeCoder:
    """Load SeeCoder through the ``seecoder`` preset: ``model_paths.seecoder`` may name the
    checkpoint file or a copy of the shi-labs/prompt-free-diffusion repository (or its cached
    snapshot); ``variant`` picks seecoder, seecoder-pa or seecoder-anime inside it."""
    from anypix.config import load_settings
    from anypix.errors import ModelUnavailableError
    from anypix.models.registry import get_preset, resolve_source

    if variant not in CHECKPOINT_FILES:
        raise ValueError(
            f"unknown SeeCoder variant {variant!r}; choose {', '.join(CHECKPOINT_FILES)}"
        )
    source = Path(resolve_source("seecoder", settings or load_settings()))
    if source.is_file():
        return load_seecoder(source, config, device=device, dtype=dtype)
    relative = CHECKPOINT_FILES[variant]
    for candidate in (source / relative, source / Path(relative).name):
        if candidate.is_file():
            return load_seecoder(candidate, config, device=device, dtype=dtype)
    if str(source) == get_preset("seecoder").source:  # a Hub id: downloads are allowed
        from huggingface_hub import hf_hub_download

        return load_seecoder(
            hf_hub_download(str(source), relative), config, device=device, dtype=dtype
        )
    raise ModelUnavailableError(
        f"{source} has no {relative}",
        "point model_paths.seecoder at the .safetensors file or at a copy of the repository",
    )
