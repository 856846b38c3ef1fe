"""benchmarks/gpu.py's dry run: the GPU benchmark's own code on CPU at tiny size, so it is known to
run before a GPU is lent (it builds the SDXL-shaped pipeline, renders every case, counts FLOPs)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"bench_{name}", ROOT / "benchmarks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gpu() -> ModuleType:
    return _load("gpu")


def test_the_gpu_benchmark_dry_run_times_every_case(
    gpu: ModuleType, capsys: pytest.CaptureFixture[str], one_thread: None
) -> None:
    report: dict[str, Any] = gpu.main(["--dry-run", "--json"])
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(report))
    assert (report["device"], report["dtype"], report["size"], report["steps"]) == (
        "cpu", "float32", 64, 2,
    )  # fmt: skip
    assert set(report["cases"]) == {"diffusers", "plain", "blob", "style4", "edit"}
    for name, row in report["cases"].items():
        assert 0 < row["s_per_step"] < row["total_s"], name
        assert row["fraction_of_peak"] is None and row["peak_gib"] is None  # no peak on a CPU
    plain = report["cases"]["plain"]["tflop_per_step"]
    assert plain == gpu.step_tflop(gpu.TINY_UNET, 32, batch=2) > 0
    assert report["cases"]["style4"]["tflop_per_step"] == pytest.approx(4 * plain)


def test_a_step_of_sdxl_at_1024_is_13_5_tflop(gpu: ModuleType) -> None:
    # The published architecture at 128x128 latents, batch 2 (CFG), on the meta device.
    assert gpu.step_tflop(gpu.SDXL_UNET, 128, batch=2) == pytest.approx(13.52, abs=0.01)


@pytest.mark.parametrize(
    ("name", "peak"),
    [
        ("NVIDIA H100 80GB HBM3", 989.0),
        ("NVIDIA H100 PCIe", 756.0),
        ("NVIDIA H200", 989.0),
        ("NVIDIA GH200 480GB", 989.0),
        ("NVIDIA A100-SXM4-80GB", 312.0),
        ("NVIDIA L40S", 362.0),
        ("NVIDIA L4", 121.0),
        ("Tesla T4", None),
    ],
)
def test_the_peak_is_read_from_the_device_name(gpu: ModuleType, name: str, peak: Any) -> None:
    assert gpu.peak_for(name) == peak


def test_the_fill_benchmark_scores_only_holes_no_one_offset_fills(
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill = _load("fill")
    figures = fill.main(["--n", "12", "--seed", "540000", "--json"])  # dev seeds
    assert json.loads(capsys.readouterr().out) == figures
    textures = [t for t in figures if t != "all"]
    assert figures["all"]["holes"] == sum(figures[t]["holes"] for t in textures) > 0
    for row in figures.values():
        assert 0 <= row["period_fill_error"] <= 255 and 0 <= row["harmonic_fill_error"] <= 255


def test_the_scenes_benchmark_draws_and_checks_each_prompt(one_thread: None) -> None:
    """benchmarks/scenes.py on the dev prompts, one seed: each prompt planned, drawn by the
    default model and checked; a failed check says why, a passed one says nothing."""
    scenes = _load("scenes")
    report = scenes.measure("dev", 1, "miniworld")
    assert report["renders"] == report["prompts"] == len(scenes.prompts("dev")) >= 8
    assert all(bool(row["why"]) != row["verified"] for row in report["rows"])
    share = sum(row["verified"] for row in report["rows"]) / report["renders"]
    assert report["first_try_verified"] == share
