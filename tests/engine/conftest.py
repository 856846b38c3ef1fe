"""Fixtures for the diffusion engine tests: the tiny-random preset loaded through the real loader,
and helpers that keep plans and images small (64x64, a few steps)."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from anypix.plan import EditPlan


@pytest.fixture(scope="session")
def engine() -> Any:
    """tiny-random through load_components (read-only: use ``private_engine`` to mutate)."""
    import torch

    from anypix.config import Settings
    from anypix.models.diffusion import load_components

    torch.set_num_threads(2)
    return load_components("tiny-random", settings=Settings(device="cpu", model_paths={}))


@pytest.fixture
def private_engine(engine: Any) -> Any:
    """A copy of the engine with its own UNet, for tests that install processors or hooks."""
    return dataclasses.replace(engine, unet=copy.deepcopy(engine.unet))


@pytest.fixture(scope="session")
def base_image() -> Any:
    """A smooth 64x64 test picture (a gradient with a disc), deterministic."""
    import numpy as np
    from PIL import Image

    ys, xs = np.mgrid[0:64, 0:64]
    red = xs * 4
    green = ys * 4
    blue = np.where((xs - 40) ** 2 + (ys - 24) ** 2 < 150, 230, 40)
    return Image.fromarray(np.stack([red, green, blue], -1).astype("uint8"))


@pytest.fixture(scope="session")
def style_image() -> Any:
    import numpy as np
    from PIL import Image

    ys, xs = np.mgrid[0:64, 0:64]
    stripes = ((xs + ys) // 8 % 2) * 200 + 30
    return Image.fromarray(np.stack([stripes, stripes // 2, 255 - stripes], -1).astype("uint8"))


def make_plan(*lines: str) -> EditPlan:
    return EditPlan.from_tokens("\n".join(lines))


def pixels(image: Any) -> Any:
    import numpy as np

    return np.asarray(image, dtype=np.float64)


class ConstantNoiseUNet:
    """The analytic constant-noise model behind a UNet's config, so the render path (which reads
    ``unet.config``) can run on it."""

    def __init__(self, model: Any, config: Any) -> None:
        self.model, self.config = model, config

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    def state_dict(self) -> dict[str, Any]:
        return {"epsilon": self.model.epsilon}  # its only "weight", for the provenance hash


@pytest.fixture
def save_dir(tmp_path: Path) -> Path:
    return tmp_path


def tiny_sdxl_pipeline() -> Any:
    """A random-weight SDXL-architecture pipeline (two text encoders, text_time embedding)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    from anypix.models.tiny import byte_clip_tokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=32, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 2), projection_class_embeddings_input_dim=80,
        cross_attention_dim=64, norm_num_groups=16,
    )  # fmt: skip
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=16, sample_size=64,
    )  # fmt: skip
    tokenizer = byte_clip_tokenizer()
    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, projection_dim=32, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        max_position_embeddings=77,
    )  # fmt: skip
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
        timestep_spacing="leading",
    )  # fmt: skip
    return StableDiffusionXLPipeline(
        vae=vae, text_encoder=CLIPTextModel(text_config), tokenizer=tokenizer,
        text_encoder_2=CLIPTextModelWithProjection(text_config), tokenizer_2=byte_clip_tokenizer(),
        unet=unet, scheduler=scheduler,
    )  # fmt: skip
