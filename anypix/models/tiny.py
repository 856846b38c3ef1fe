"""The ``tiny-random`` preset: an SD-shaped pipeline with random weights, built from config.

Used by plumbing tests and by anything that needs a real diffusers pipeline without files. Its
pixels mean nothing. The tokenizer is a CLIP BPE tokenizer over a byte vocabulary (no merges),
written to a temp dir in code, so nothing is downloaded.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TEXT_HIDDEN = 32
SPECIAL_TOKENS = ("<|startoftext|>", "<|endoftext|>")


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP/GPT-2's reversible byte -> printable character table."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


def write_byte_tokenizer(directory: Path) -> Path:
    """Write vocab.json + merges.txt for a byte-level CLIP tokenizer into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    vocab_list = [*chars, *(c + "</w>" for c in chars), *SPECIAL_TOKENS]
    vocab = {token: index for index, token in enumerate(vocab_list)}
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    return directory


@cache
def _tokenizer_dir() -> Path:
    return write_byte_tokenizer(Path(tempfile.mkdtemp(prefix="anypix-tok-")))


def byte_clip_tokenizer(max_length: int = 77) -> Any:
    from transformers import CLIPTokenizer

    return CLIPTokenizer(
        vocab=str(_tokenizer_dir() / "vocab.json"),
        merges=str(_tokenizer_dir() / "merges.txt"),
        model_max_length=max_length,
        pad_token="<|endoftext|>",
    )


@dataclass(frozen=True)
class TinyConfig:
    sample_size: int = 32  # latent side; images are 2x that (the VAE has one downsample)
    block_out_channels: tuple[int, ...] = (32, 64)
    cross_attention_dim: int = TEXT_HIDDEN
    seed: int = 0


def tiny_components(config: TinyConfig = TinyConfig()) -> dict[str, Any]:
    """Random-weight ``unet, vae, text_encoder, tokenizer, scheduler`` with diffusers' names."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(config.seed)
    unet = UNet2DConditionModel(
        sample_size=config.sample_size,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=config.block_out_channels,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=config.cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=16,
    )
    torch.manual_seed(config.seed + 1)
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(16, 32),
        latent_channels=4,
        norm_num_groups=16,
        sample_size=config.sample_size * 2,
    )
    tokenizer = byte_clip_tokenizer()
    torch.manual_seed(config.seed + 2)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.cross_attention_dim,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            max_position_embeddings=77,
        )
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    modules: list[Any] = [unet, vae, text_encoder]
    for module in modules:
        module.eval().requires_grad_(False)
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "scheduler": scheduler,
    }
