"""A fake encoder behind the real :class:`~anypix.models.encoders.Encoder` interface.

Text is a bag of words: each word has a fixed random direction, so sentences that share words
are close and the fake behaves like a (crude) sentence encoder. Images are embedded by their mean
colour projected into the same space. ``calls`` counts batches, to check what caching avoids.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import torch

from anypix.models.encoders import Encoder


def _word_vector(word: str, dim: int) -> torch.Tensor:
    seed = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
    return torch.randn(dim, generator=torch.Generator().manual_seed(seed))


class BagOfWordsEncoder(Encoder):
    def __init__(
        self, dim: int = 64, modalities: Sequence[str] = ("text",), encoder_id: str = "fake-bow"
    ) -> None:
        self.dim = dim
        self.modalities = frozenset(modalities)
        self.encoder_id = encoder_id
        self.calls = 0
        self.items_seen = 0
        self._colour_proj = torch.randn(3, dim, generator=torch.Generator().manual_seed(7))

    def _embed(self, items: Sequence[Any], modality: str) -> torch.Tensor:  # type: ignore[override]
        self.calls += 1
        self.items_seen += len(items)
        if modality == "text":
            rows = []
            for text in items:
                words = re.findall(r"[a-z]+", str(text).lower()) or ["<empty>"]
                rows.append(torch.stack([_word_vector(w, self.dim) for w in words]).sum(0))
            return torch.stack(rows)
        means = [
            torch.tensor(list(item.convert("RGB").resize((4, 4)).get_flattened_data()))
            .float()
            .mean(0)
            for item in items
        ]
        return torch.stack(means) / 255.0 @ self._colour_proj
