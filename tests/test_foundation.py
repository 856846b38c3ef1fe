"""Settings, presets, attachments, the tool table and the core/UI import boundary."""

from __future__ import annotations

import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest
from PIL import Image

from anypix.config import load_settings
from anypix.errors import AssetError, ConfigError, ModelUnavailableError
from anypix.media import parse_attachments, sniff
from anypix.models.registry import PRESETS, resolve_source
from anypix.tools.registry import describe


def test_settings_layering_env_over_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "anypix-config.toml"
    config.write_text('model = "sd15"\nllm = "openai"\n[model_paths]\nsd15 = "/models/sd15"\n')
    settings = load_settings()
    assert settings.model == "sd15" and settings.llm == "openai"
    assert settings.model_paths["sd15"] == Path("/models/sd15")
    monkeypatch.setenv("ANYPIX_MODEL", "tiny-random")
    assert load_settings().model == "tiny-random"
    assert load_settings(model="miniworld", llm=None).model == "miniworld"  # CLI flag wins


def test_bad_settings_raise_a_config_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANYPIX_LLM", "gpt-17")
    with pytest.raises(ConfigError, match="'llm'"):
        load_settings()


def test_unreadable_toml_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "anypix-config.toml").write_text("model = [unclosed")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings()


def test_hub_preset_offline_fails_fast_with_a_fix() -> None:
    start = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as caught:
        resolve_source("sd15", load_settings())
    assert time.perf_counter() - start < 10  # never a hang (a generous bound, not a benchmark)
    message = str(caught.value)
    assert "sd15" in message and "model_paths" in message and "ANYPIX_MODEL_PATHS__SD15" in message


def test_local_directory_overrides_a_hub_preset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANYPIX_MODEL_PATHS__SDXL", str(tmp_path))
    assert resolve_source("sdxl", load_settings()) == str(tmp_path)
    monkeypatch.setenv("ANYPIX_MODEL_PATHS__SDXL", str(tmp_path / "missing"))
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        resolve_source("sdxl", load_settings())


def test_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ModelUnavailableError, match="tiny-random"):
        resolve_source("sd3", load_settings())
    assert {
        "tiny-random",
        "sd15",
        "sdxl",
        "gligen",
        "imagebind-huge",
        "vicuna-7b",
        "smollm2",
    } <= set(PRESETS)


def _wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(16000)
        handle.writeframes(b"\x00\x00" * 160)
    return path


def test_attachments_are_typed_by_content_not_extension(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "photo.jpg", format="PNG")  # a PNG named .jpg
    attachments = parse_attachments(
        [f"photo={tmp_path / 'photo.jpg'}", str(_wav(tmp_path / "birds.wav"))]
    )
    assert attachments["photo"].modality == "image" and attachments["photo"].format == "png"
    assert attachments["birds"].modality == "audio"
    with pytest.raises(AssetError, match="two attachments"):
        parse_attachments([f"a={tmp_path / 'photo.jpg'}", f"a={tmp_path / 'birds.wav'}"])


@pytest.mark.parametrize("content", [b"", b"GIF", b"not an image at all"])
def test_empty_and_unknown_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(AssetError):
        sniff(path)


def test_tool_schema_comes_from_signature_and_docstring() -> None:
    def blur(image: str, radius: float = 2.0, _models: object = None) -> str:
        """Blur an image.

        Args:
            image: name of the asset to blur
            radius: blur radius in pixels,
                larger is blurrier
        """
        return image

    tool = describe("blur", blur)
    assert tool.description == "Blur an image."
    assert tool.parameters["required"] == ["image"]
    assert tool.parameters["properties"]["radius"] == {
        "type": "number",
        "description": "blur radius in pixels, larger is blurrier",
        "default": 2.0,
    }
    assert "_models" not in tool.parameters["properties"]
    assert tool.openai_schema()["function"]["name"] == "blur"


def test_core_never_imports_ui_or_server_libraries() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import anypix\n"
        "for pkg in ('anypix.plan', 'anypix.agent', 'anypix.tools', 'anypix.models', 'anypix.memory'):\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for info in pkgutil.walk_packages(getattr(mod, '__path__', []), pkg + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "print(','.join(m for m in ('textual', 'typer', 'mcp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""
