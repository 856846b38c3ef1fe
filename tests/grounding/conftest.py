"""Helpers for the grounding tests: a text encoder callable and a tiny CFG denoising loop."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch


def make_encode_text(components: dict[str, Any]) -> Callable[[list[str]], torch.Tensor]:
    tokenizer, text_encoder = components["tokenizer"], components["text_encoder"]

    def encode_text(sentences: list[str]) -> torch.Tensor:
        ids = tokenizer(
            sentences,
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids
        with torch.no_grad():
            return text_encoder(ids)[0]

    return encode_text


@pytest.fixture
def components(tiny_components: dict[str, Any]) -> dict[str, Any]:
    """A private copy of the tiny components (the session fixture is read-only)."""
    return {**tiny_components, "unet": copy.deepcopy(tiny_components["unet"])}


@pytest.fixture
def encode_text(tiny_components: dict[str, Any]) -> Callable[[list[str]], torch.Tensor]:
    return make_encode_text(tiny_components)


@torch.no_grad()
def denoise(
    components: dict[str, Any],
    encode_text: Callable[[list[str]], torch.Tensor],
    prompt: str,
    *,
    hooks: Any = None,
    steps: int = 3,
    guidance: float = 4.0,
    seed: int = 0,
) -> torch.Tensor:
    """A plain DDIM loop with classifier-free guidance, calling the grounding hooks the way the
    render does. Returns the final latents (1, 4, 32, 32)."""
    unet, scheduler = components["unet"], copy.deepcopy(components["scheduler"])
    scheduler.set_timesteps(steps)
    context = encode_text(["", prompt])
    latents = torch.randn(1, 4, 32, 32, generator=torch.Generator().manual_seed(seed))
    for i, t in enumerate(scheduler.timesteps):
        kwargs = {}
        if hooks is not None:
            hooks.before_step(i, steps)
            kwargs = hooks.cross_attention_kwargs
        eps = unet(
            torch.cat([latents] * 2),
            t,
            encoder_hidden_states=context,
            cross_attention_kwargs=kwargs,
        ).sample
        uncond, cond = eps.chunk(2)
        latents = scheduler.step(uncond + guidance * (cond - uncond), t, latents).prev_sample
    return latents


@pytest.fixture
def sample() -> Callable[..., torch.Tensor]:
    """The denoising loop above, as a fixture (test modules do not import conftest)."""
    return denoise
