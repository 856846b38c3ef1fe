"""A session's embedding index: find ``[base]`` and ``[sub]`` assets by name, recency or meaning.

Every asset is embedded once when it arrives (through :class:`~anypix.tools.embed.EmbeddingCache`,
so the same bytes are never embedded twice) and, when it has a caption, its caption too. A query
is scored against both, by cosine similarity, and the best of the two counts.

Search is brute force over one matrix (float16 above 20k assets): 100k assets take ~15 ms on
one CPU core, bounded by memory bandwidth.

Resolution of a reference, in order: an exact asset name wins; "the last picture", "the first
sound" resolve by arrival order; anything else is retrieved, and when the best two candidates are
closer than ``margin`` the reference is reported back as ambiguous (:class:`AmbiguousReferenceError`
lists the candidates) instead of guessed.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from anypix.errors import AmbiguousReferenceError, UnknownAssetError, UserError

if TYPE_CHECKING:
    import torch

    from anypix.models.encoders import Encoder

AssetModality = Literal["image", "audio"]
_KIND_WORDS: dict[str, AssetModality] = {
    **dict.fromkeys(("picture", "photo", "image", "pic", "shot", "snapshot", "img"), "image"),
    **dict.fromkeys(("sound", "audio", "recording", "clip", "track", "song"), "audio"),
}
_ORDINALS = {
    "first": 0,
    "earliest": 0,
    "oldest": 0,
    "second": 1,
    "third": 2,
    "last": -1,
    "latest": -1,
    "newest": -1,
    "recent": -1,
    "previous": -1,
    "final": -1,
}
_FILLER = {
    "the",
    "a",
    "an",
    "my",
    "one",
    "most",
    "i",
    "sent",
    "added",
    "attached",
    "uploaded",
    "that",
}


# Above this many vectors the search matrix is kept in float16: scores move by ~1e-3, far below
# any ambiguity margin, and a 100k x 384 search reads 77 MB instead of 154 MB.
HALF_PRECISION_ABOVE = 20_000


class Hit(BaseModel):
    name: str
    score: float


class Resolution(BaseModel):
    """How a reference was resolved; ``candidates`` are the top hits when retrieval was used."""

    ref: str
    name: str
    how: Literal["name", "recency", "retrieval"]
    score: float = 1.0
    candidates: list[Hit] = []


@dataclass(frozen=True)
class _Table:
    order: list[str]
    content_rows: torch.Tensor
    content: torch.Tensor
    caption_rows: torch.Tensor
    captions: torch.Tensor


@dataclass
class IndexedAsset:
    name: str
    modality: AssetModality
    sha256: str
    order: int
    caption: str | None = None


class SessionIndex:
    """Names -> embeddings (and caption embeddings) for one session, in arrival order.

    ``encoder`` embeds the assets themselves when it can (ImageBind, a binding encoder); ``text_encoder``
    (default: ``encoder``) embeds captions and text queries. With MiniLM alone, assets are found
    through their captions."""

    def __init__(
        self, encoder: Encoder, text_encoder: Encoder | None = None, cache_root: Any = None
    ):
        from anypix.tools.embed import EmbeddingCache

        self.encoder = encoder
        self.text_encoder = text_encoder or encoder
        self.cache = EmbeddingCache(encoder, cache_root)
        self.text_cache = EmbeddingCache(self.text_encoder, cache_root)
        self.assets: dict[str, IndexedAsset] = {}  # insertion order is arrival order
        self._arrivals = itertools.count()
        self._vectors: dict[str, torch.Tensor] = {}  # content embeddings (encoder space)
        self._captions: dict[str, torch.Tensor] = {}  # caption embeddings (text space)
        self._matrix: dict[str, _Table] = {}

    # -- adding ------------------------------------------------------------------------------------
    def add(
        self, name: str, item: Any, modality: AssetModality, caption: str | None = None
    ) -> IndexedAsset:
        """Index an asset (a path, PIL image or (waveform, rate)); re-adding a name replaces it."""
        from anypix.tools.embed import content_sha256

        sha = content_sha256(item, modality)
        asset = IndexedAsset(name, modality, sha, next(self._arrivals), caption)
        self._forget(name)
        self.assets[name] = asset
        if modality in self.encoder.modalities:
            self._vectors[name] = self.cache.embed([item], modality, [sha])[0][0]
        if caption:
            self._captions[name] = self.text_cache.embed([caption], "text")[0][0]
        self._matrix.clear()
        return asset

    def _forget(self, name: str) -> None:
        for table in (self.assets, self._vectors, self._captions):
            table.pop(name, None)

    def vector(self, name: str) -> torch.Tensor:
        """The content embedding of an indexed asset (in the encoder's space)."""
        if name not in self._vectors:
            raise UnknownAssetError(name, [n for n in self.names() if n in self._vectors])
        return self._vectors[name]

    def names(self, modality: AssetModality | None = None) -> list[str]:
        """Asset names in arrival order (re-adding a name moves it last), optionally of one
        modality."""
        return [a.name for a in self.assets.values() if modality is None or a.modality == modality]

    def add_many(self, entries: list[tuple[str, Any, AssetModality, str | None]]) -> None:
        """Index several (name, item, modality, caption) at once: one encoder batch per kind."""
        from anypix.tools.embed import content_sha256

        captions = [e[3] for e in entries if e[3]]
        if captions:
            self.text_cache.embed(captions, "text")  # warm the cache in one batch
        for modality in ("image", "audio"):
            items = [e[1] for e in entries if e[2] == modality]
            if items and modality in self.encoder.modalities:
                hashes = [content_sha256(item, modality) for item in items]
                self.cache.embed(items, modality, hashes)
        for name, item, modality, caption in entries:
            self.add(name, item, modality, caption)  # every lookup now hits the cache

    def add_embedding(
        self,
        name: str,
        vector: torch.Tensor,
        modality: AssetModality,
        sha256: str = "",
        caption: str | None = None,
    ) -> IndexedAsset:
        """Index an asset whose content embedding is already known (same encoder space)."""
        import torch

        asset = IndexedAsset(name, modality, sha256, next(self._arrivals), caption)
        self._forget(name)
        self.assets[name] = asset
        self._vectors[name] = torch.nn.functional.normalize(vector.float().flatten(), dim=0)
        if caption:
            self._captions[name] = self.text_cache.embed([caption], "text")[0][0]
        self._matrix.clear()
        return asset

    # -- searching ---------------------------------------------------------------------------------
    def _table(self, modality: AssetModality | None) -> _Table:
        """Matrices of the content and caption vectors of the assets of ``modality``; rebuilt
        only after the index changes, so a search is one or two matrix products."""
        import torch

        key = str(modality)
        if key not in self._matrix:
            order = self.names(modality)
            position = {name: i for i, name in enumerate(order)}
            parts = []
            for source, dim in (
                (self._vectors, self.encoder.dim),
                (self._captions, self.text_encoder.dim),
            ):
                names = [n for n in order if n in source]
                matrix = torch.stack([source[n] for n in names]) if names else torch.zeros(0, dim)
                if len(names) > HALF_PRECISION_ABOVE:
                    matrix = matrix.half()  # search is memory-bound: half the bytes, ~2x faster
                parts.append((torch.tensor([position[n] for n in names], dtype=torch.long), matrix))
            self._matrix[key] = _Table(order, *parts[0], *parts[1])
        return self._matrix[key]

    def search(
        self, query: str | torch.Tensor, modality: AssetModality | None = None, k: int = 5
    ) -> list[Hit]:
        """Top-``k`` assets by cosine similarity: a text query is compared with captions (text
        space) and, when the encoder binds text to the assets' modality, with the assets. An
        asset's score is the better of the two."""
        import torch

        table = self._table(modality)
        scores = torch.full((len(table.order),), -2.0)

        def score(which: str, vector: torch.Tensor) -> None:
            rows, matrix = (
                (table.content_rows, table.content)
                if which == "content"
                else (table.caption_rows, table.captions)
            )
            if len(rows) and matrix.shape[1] == vector.shape[-1]:
                values = (matrix @ vector.to(matrix.dtype)).float()
                if len(rows) == len(scores):  # every asset has this kind of vector: no gather
                    torch.maximum(scores, values, out=scores)
                else:
                    scores[rows] = torch.maximum(scores[rows], values)

        if isinstance(query, str):
            text_vector = self.text_cache.embed([query], "text")[0][0]
            score("captions", text_vector)
            if "text" in self.encoder.modalities:
                shared = text_vector
                if self.text_encoder is not self.encoder:
                    shared = self.cache.embed([query], "text")[0][0]
                score("content", shared)
        else:
            vector = torch.nn.functional.normalize(torch.as_tensor(query).float().flatten(), dim=0)
            score("content", vector)
            score("captions", vector)
        found = int((scores > -2.0).sum())
        if not found:
            return []
        top = torch.topk(scores, min(k, found))
        return [
            Hit(name=table.order[i], score=round(float(v), 6))
            for v, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        ]

    # -- resolving [base] / [sub] ------------------------------------------------------------------
    def resolve(
        self,
        ref: str,
        modality: AssetModality | None = "image",
        margin: float = 0.05,
        min_score: float = 0.2,
    ) -> Resolution:
        """Resolve a reference to one asset name, or raise (see the module docstring)."""
        text = ref.strip().strip("[]").strip()
        if text in self.assets:
            return Resolution(ref=ref, name=text, how="name")
        recency = _recency(text)
        if recency is not None:
            ordinal, kind = recency
            pool = self.names(kind or modality)
            if -len(pool) <= ordinal < len(pool):
                return Resolution(ref=ref, name=pool[ordinal], how="recency")
            raise UnknownAssetError(text, self.names())
        hits = self.search(text, modality, k=3)
        if not hits or hits[0].score < min_score:
            raise UnknownAssetError(text, self.names())
        close = [h for h in hits if hits[0].score - h.score < margin]
        if len(close) > 1:
            raise AmbiguousReferenceError(ref, close)
        return Resolution(
            ref=ref, name=hits[0].name, how="retrieval", score=hits[0].score, candidates=hits
        )


def _recency(text: str) -> tuple[int, AssetModality | None] | None:
    """(position, kind) for phrases made only of an ordinal and a kind word: "the last picture",
    "the first sound", "my most recent photo". None when the phrase describes content."""
    words = re.findall(r"[a-z]+", text.lower())
    ordinals = [_ORDINALS[w] for w in words if w in _ORDINALS]
    kinds = [_KIND_WORDS[w.rstrip("s")] for w in words if w.rstrip("s") in _KIND_WORDS]
    rest = [
        w
        for w in words
        if w not in _ORDINALS and w.rstrip("s") not in _KIND_WORDS and w not in _FILLER
    ]
    if len(ordinals) != 1 or rest:
        return None
    return ordinals[0], kinds[0] if kinds else None


class RetrieveResult(BaseModel):
    hits: list[Hit]


def retrieve(
    query: str | list[float],
    modality: Literal["image", "audio", "any"] = "image",
    k: int = 5,
    _index: SessionIndex | None = None,
) -> RetrieveResult:
    """Find the session's assets that best match a description or an embedding, best first.

    Args:
        query: a description ("the photo with the red car") or an embedding vector.
        modality: which assets to search: image, audio or any.
        k: how many matches to return.
    """
    if _index is None:
        raise UserError("retrieve needs a session", "run it inside a session (anypix edit/chat)")
    if k < 1:
        raise UserError(f"k must be at least 1, not {k}", "ask for k=1 or more")
    import torch

    target = query if isinstance(query, str) else torch.tensor(query, dtype=torch.float32)
    hits = _index.search(target, None if modality == "any" else modality, k)
    return RetrieveResult(hits=hits)
