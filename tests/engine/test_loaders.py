"""Loaders: presets from config, from save_pretrained directories (SD and SDXL), offline Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from anypix.config import Settings
from anypix.errors import ConfigError, ModelUnavailableError
from anypix.models.diffusion import encode_prompts, load_components, predict_noise

from .conftest import make_plan, pixels, tiny_sdxl_pipeline


def _cpu(**model_paths: Path) -> Settings:
    return Settings(device="cpu", model_paths=dict(model_paths))


def test_tiny_preset_builds_an_sd_bundle_with_a_ddim_scheduler(engine: Any) -> None:
    assert engine.preset == "tiny-random"
    assert not engine.is_sdxl
    assert type(engine.scheduler).__name__ == "DDIMScheduler"
    assert engine.device.type == "cpu" and engine.dtype == torch.float32
    assert engine.default_size == (64, 64)
    assert len(engine.weight_hash) == 64


def test_local_directory_loads_through_the_preset_mechanism(
    engine: Any, tiny_pipeline_dir: Path
) -> None:
    loaded = load_components("sd15", settings=_cpu(sd15=tiny_pipeline_dir))
    assert loaded.preset == "sd15"
    # The sd15 preset's float16 is an accelerator default: on the CPU it loads in float32.
    assert loaded.dtype == torch.float32 and loaded.unet.dtype == torch.float32
    # Same weights as the in-memory tiny preset, so the same provenance hash.
    assert loaded.weight_hash == engine.weight_hash
    assert torch.equal(loaded.unet.conv_in.weight, engine.unet.conv_in.weight), (
        "weights changed on the way through save_pretrained/from_pretrained"
    )


def test_dtype_and_scheduler_choice(tiny_pipeline_dir: Path) -> None:
    loaded = load_components(
        "sd15", settings=_cpu(sd15=tiny_pipeline_dir), dtype="bfloat16", scheduler="dpm"
    )
    assert loaded.unet.dtype == torch.bfloat16 and loaded.dtype == torch.bfloat16
    assert type(loaded.scheduler).__name__ == "DPMSolverMultistepScheduler"
    assert loaded.scheduler_name == "dpm"
    with pytest.raises(ConfigError, match="scheduler"):
        load_components("tiny-random", settings=_cpu(), scheduler="euler")  # type: ignore[arg-type]


def test_attention_slicing_installs_sliced_processors(tiny_pipeline_dir: Path) -> None:
    loaded = load_components("sd15", settings=_cpu(sd15=tiny_pipeline_dir), attention_slicing=True)
    kinds = {type(p).__name__ for p in loaded.unet.attn_processors.values()}
    assert kinds == {"SlicedAttnProcessor"}
    assert loaded.options["attention_slicing"] is True


def test_sdxl_style_directory_loads_with_both_text_encoders(tmp_path: Path) -> None:
    tiny_sdxl_pipeline().save_pretrained(tmp_path / "sdxl")
    loaded = load_components("sdxl", settings=_cpu(sdxl=tmp_path / "sdxl"))
    assert loaded.is_sdxl and loaded.preset == "sdxl"
    assert type(loaded.scheduler).__name__ == "DDIMScheduler"  # ddim replaces the saved Euler
    with torch.inference_mode():
        cond = encode_prompts(loaded, ["a red square"], do_cfg=True, size=(64, 64))
        assert cond.hidden.shape == (2, 77, 64)  # both encoders' states side by side
        assert cond.added is not None and cond.added["time_ids"].shape == (2, 6)
        loaded.scheduler.set_timesteps(2)
        out = predict_noise(loaded, torch.zeros(1, 4, 32, 32), 500, cond, 5.0)
    assert out.shape == (1, 4, 32, 32) and torch.isfinite(out).all()


def test_sdxl_bundle_renders_a_plan(tmp_path: Path) -> None:
    from anypix.tools.render import render

    tiny_sdxl_pipeline().save_pretrained(tmp_path / "sdxl")
    loaded = load_components("sdxl", settings=_cpu(sdxl=tmp_path / "sdxl"))
    plan = make_plan("[gen] a red square", "[op] generate", "[knobs] steps=2 seed=1 size=64x64")
    result = render(plan, {}, loaded)
    assert result.images[0].size == (64, 64)
    assert pixels(result.images[0]).std() > 0


def test_offline_hub_preset_fails_fast_with_a_fix() -> None:
    with pytest.raises(ModelUnavailableError) as caught:
        load_components("sdxl", settings=_cpu())
    assert "model_paths" in str(caught.value)


def test_missing_local_directory_and_non_diffusion_presets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        load_components("sd15", settings=_cpu(sd15=tmp_path / "nowhere"))
    with pytest.raises(ModelUnavailableError, match="not a diffusion model"):
        load_components("minilm", settings=_cpu())


def test_a_directory_without_a_pipeline_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailableError, match="save_pretrained"):
        load_components("sd15", settings=_cpu(sd15=tmp_path / "empty"))
