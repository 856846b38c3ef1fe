"""Shared fixtures: nothing here touches the network, a model hub or the user's data dir."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data dir and config file, never the user's."""
    data_dir = tmp_path / "anypix-data"
    monkeypatch.setenv("ANYPIX_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ANYPIX_CONFIG", str(tmp_path / "anypix-config.toml"))
    for name in list(os.environ):
        if name.startswith("ANYPIX_") and name not in ("ANYPIX_DATA_DIR", "ANYPIX_CONFIG"):
            monkeypatch.delenv(name)
    # No warm worker outlives a test; the tests of the worker turn it on themselves.
    monkeypatch.setenv("ANYPIX_WARM_IDLE_S", "0")
    return data_dir


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Torch on one thread for a module (small models run faster so on a shared 2-core machine);
    the previous count comes back after it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_components() -> dict[str, Any]:
    """Random-weight SD-shaped components (unet, vae, text_encoder, tokenizer, scheduler).
    Shared by the session: treat as read-only; copy.deepcopy before mutating."""
    import torch

    from anypix.models.tiny import tiny_components as build

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    return build()


@pytest.fixture(scope="session")
def tiny_pipeline_dir(
    tmp_path_factory: pytest.TempPathFactory, tiny_components: dict[str, Any]
) -> Path:
    """The tiny pipeline saved with save_pretrained, for testing real from_pretrained code paths."""
    from diffusers import StableDiffusionPipeline

    directory = tmp_path_factory.mktemp("tiny-sd")
    pipe = StableDiffusionPipeline(
        **tiny_components,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(directory)
    return directory


class ConstantNoiseModel:
    """An analytic noise model: predicts the same epsilon for every input and timestep.

    With a constant epsilon, DDIM's update and its inversion are exact algebraic inverses, so an
    inversion round trip must reproduce the start latent to float precision. Mimics the UNet call
    signature and output (``.sample``)."""

    def __init__(self, epsilon: Any) -> None:
        self.epsilon = epsilon
        self.calls = 0

    def __call__(
        self, sample: Any, timestep: Any, encoder_hidden_states: Any = None, **_: Any
    ) -> Any:
        from types import SimpleNamespace

        self.calls += 1
        eps = self.epsilon.to(sample.dtype).expand_as(sample)
        return SimpleNamespace(sample=eps)


@pytest.fixture
def constant_noise_model() -> ConstantNoiseModel:
    import torch

    generator = torch.Generator().manual_seed(1234)
    return ConstantNoiseModel(torch.randn(1, 4, 8, 8, generator=generator, dtype=torch.float64))
