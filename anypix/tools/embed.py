"""Embeddings computed once per content: a disk cache keyed by content sha256 and encoder id.

Layout: ``<data_dir>/embeddings/<encoder_id>/<sha256>.npy`` (float32, unit norm). The same bytes
embedded by the same encoder are never sent to the model twice, in this process or the next.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from anypix.errors import AnypixError, AssetError

if TYPE_CHECKING:
    import torch

    from anypix.models.encoders import EmbedModality, Encoder


def content_sha256(item: Any, modality: str) -> str:
    """sha256 of what an item *is*: text by its UTF-8 bytes, files by their bytes, in-memory
    images by their PNG encoding, waveforms by their samples and rate."""
    digest = hashlib.sha256(f"{modality}\0".encode())
    if modality == "text":
        digest.update(str(item).encode("utf-8"))
    elif isinstance(item, str | Path):
        try:
            digest.update(Path(item).read_bytes())
        except OSError as exc:
            raise AssetError(f"cannot read {item}: {exc.strerror}", "check the path") from None
    elif isinstance(item, tuple):  # (waveform, rate)
        import numpy as np

        waveform, rate = item
        digest.update(np.asarray(waveform, dtype=np.float32).tobytes() + str(rate).encode())
    else:  # a PIL image
        buffer = io.BytesIO()
        item.save(buffer, format="PNG")
        digest.update(buffer.getvalue())
    return digest.hexdigest()


class EmbeddingCache:
    """Embeds through ``encoder`` and remembers each result on disk by content hash.

    ``model_calls`` counts batches actually sent to the encoder (what a cache hit avoids)."""

    def __init__(self, encoder: Encoder, root: Path | None = None) -> None:
        if root is None:
            from anypix.config import load_settings

            root = load_settings().data_dir / "embeddings"
        self.encoder = encoder
        self.directory = root / encoder.encoder_id
        self.model_calls = 0

    def path(self, sha256: str) -> Path:
        return self.directory / f"{sha256}.npy"

    def lookup(self, sha256: str) -> torch.Tensor | None:
        import numpy as np
        import torch

        path = self.path(sha256)
        if not path.exists():
            return None
        try:
            return torch.from_numpy(np.load(path))
        except (OSError, ValueError):  # a torn or foreign file: recompute it
            return None

    def store(self, sha256: str, vector: torch.Tensor) -> None:
        import numpy as np

        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.path(sha256).with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as handle:
            np.save(handle, vector.detach().cpu().float().numpy())
        tmp.replace(self.path(sha256))  # atomic: readers never see half a file

    def embed(
        self, items: Sequence[Any], modality: EmbedModality, hashes: Sequence[str] | None = None
    ) -> tuple[torch.Tensor, list[bool]]:
        """(vectors (N, dim), cached flags). Misses go to the encoder in one batch."""
        import torch

        hashes = (
            list(hashes) if hashes is not None else [content_sha256(i, modality) for i in items]
        )
        found = [self.lookup(h) for h in hashes]
        missing = [i for i, v in enumerate(found) if v is None]
        if missing:
            self.model_calls += 1
            fresh = self.encoder.embed([items[i] for i in missing], modality)
            for i, vector in zip(missing, fresh, strict=True):
                self.store(hashes[i], vector)
                found[i] = vector
        cached = [i not in set(missing) for i in range(len(items))]
        vectors = torch.stack(found) if found else torch.zeros(0, self.encoder.dim)  # type: ignore[arg-type]
        return vectors, cached


class EmbedResult(BaseModel):
    encoder: str
    modality: str
    sha256: str
    cached: bool = Field(description="true when the vector came from the cache, not the model")
    dim: int
    embedding: list[float]


def embed(
    text: str | None = None,
    path: str | None = None,
    modality: Literal["text", "image", "audio"] = "text",
    encoder: str = "minilm",
    _encoder: Any = None,
) -> EmbedResult:
    """Embed a text or a file into the shared embedding space (cached by content).

    Args:
        text: the text to embed (modality text).
        path: an image or audio file to embed (modality image or audio).
        modality: what the input is: text, image or audio.
        encoder: encoder preset: minilm (text only), imagebind-huge, or a model family's.

    ``_encoder`` (an :class:`~anypix.models.encoders.Encoder`) is supplied by the executor.
    """
    if (text is None) == (path is None):
        raise AnypixError("give exactly one of text or path", "e.g. embed(text='a red car')")
    if text is not None and modality != "text":
        raise AnypixError(f"text was given but modality is {modality}", "set modality='text'")
    from anypix.models.encoders import load_encoder

    model = _encoder or load_encoder(encoder)
    item: Any = text if text is not None else Path(path)  # type: ignore[arg-type]
    sha = content_sha256(item, modality)
    vectors, cached = EmbeddingCache(model).embed([item], modality, [sha])
    return EmbedResult(
        encoder=model.encoder_id,
        modality=modality,
        sha256=sha,
        cached=cached[0],
        dim=int(vectors.shape[1]),
        embedding=[round(float(x), 6) for x in vectors[0]],
    )
