"""The miniworld's perception: its binding encoder looking at the colour regions of an image.

The family's verifier (``Capabilities.verifier``); the agent's verify step asks it what an edit's
output holds. It works as the locator does, with the same encoder, but names every region:

1. candidates: connected regions of similar colour (:func:`anypix.models.masks.label_regions`)
   on a 64x64 copy, neither specks nor background-sized nor spanning the canvas, and coloured
   (the world's backgrounds are grey-ish, its objects saturated);
2. each candidate, alone on the image's background colour, goes through the encoder's image
   tower, and so does the empty background; the queries go through its text tower;
3. a region is an object when its best query fits it at least ``MARGIN`` (cosine) better than
   it fits the empty background. Its label is that query, unless its outline
   (:func:`~anypix.models.masks.read_shape`: a hole, the moment invariant) reads as another
   shape: then the queries naming the outline's shape in the encoder's colour gain
   ``OUTLINE_BONUS``, as the locator's do. The encoder alone reads a model's slightly rounded
   rectangle as an ellipse.

It measures nothing against a scene's ground truth (the benchmark's judge does that,
:mod:`anypix.models.miniworld.metrics`): what it knows comes from the encoder alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from anypix.models.masks import (
    candidate_regions,
    fill_holes,
    read_shape,
    shape_agreement,
    with_pieces,
)
from anypix.models.miniworld.data import COLOURS, SHAPES, SIZES
from anypix.models.perception import Detection, Perception

if TYPE_CHECKING:
    from anypix.config import Settings

SIDE = 64  # the encoder's input size
MARGIN = 0.05  # cosine a region's best query must gain over the empty background
OUTLINE_BONUS = 0.3  # cosine added to the queries naming the shape a region's outline reads as
# The world paints objects in saturated colours (chroma >= 130) on desaturated backgrounds
# (<= 55): a region greyer than this is part of the background (a dot, a stripe), not a thing.
MIN_CHROMA = 60
STYLE_MARGIN = 2  # px round the objects left out of a background's reading (their soft edges)
_ARTICLES = {"a", "an", "the", "this", "that"}


@cache
def _canonical() -> dict[str, str]:
    """Synonyms back to the world's words. Read on first use: the model module imports torch
    and diffusers, and a turn builds its verifier before it plans (the plan shows first)."""
    from anypix.models.miniworld.words import SYNONYMS

    return {alt: word for word, alts in SYNONYMS.items() for alt in alts}


class MiniworldPerception(Perception):
    """Perception with a miniworld binding encoder: ``encoder``, or the one ``load_encoder()``
    gives on first use."""

    def __init__(
        self, encoder: Any = None, *, load_encoder: Callable[[], Any] | None = None
    ) -> None:
        if encoder is None and load_encoder is None:
            raise ValueError("MiniworldPerception needs an encoder or a function that loads one")
        self._encoder, self._load_encoder = encoder, load_encoder

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            assert self._load_encoder is not None
            self._encoder = self._load_encoder()
        return self._encoder

    def warm(self) -> None:
        self.encoder  # noqa: B018 - loads it

    # -- words -------------------------------------------------------------------------------------
    def canonical(self, phrase: str) -> str:
        """Size, colour and shape words in the world's order ("the big red ball" -> "a large
        red ellipse"); a phrase without any of them goes as it is, with one article."""
        words = [_canonical().get(w, w) for w in re.findall(r"[a-z]+", phrase.lower())]
        size = [w for w in words if w in SIZES][:1]
        colour = [w for w in words if w in COLOURS][:1]
        shape = [w for w in words if w in SHAPES][:1]
        known = size + colour + shape
        if not known:
            return "a " + " ".join(w for w in words if w not in _ARTICLES)
        return "a " + " ".join(known)

    def alternatives(self, phrase: str) -> list[str]:
        words = phrase.split()
        swaps = [(word, choices) for word in words
                 for choices in (list(COLOURS), list(SHAPES)) if word in choices]  # fmt: skip
        found = [
            " ".join(other if w == word else w for w in words)
            for word, choices in swaps
            for other in choices
            if other != word
        ]
        return [p for p in dict.fromkeys(found) if p != phrase]

    def vocabulary(self) -> list[str]:
        return [f"a {colour} {shape}" for colour in COLOURS for shape in SHAPES]

    def background_style(self, image: np.ndarray) -> str | None:
        """The world's style words for the background: the pixels
        round no coloured region (grown by ``STYLE_MARGIN``), read by the world's background
        classifier, as "<palette> <texture>" ("night dots"). It reads the image alone, never a
        scene's ground truth."""
        from anypix.models.miniworld.metrics import classify_background, dilate

        small = _resize(image, SIDE)
        regions = coloured_regions(small)
        objects = np.any(np.stack(regions), axis=0) if regions else np.zeros((SIDE, SIDE), bool)
        return " ".join(classify_background(small, ~dilate(objects, STYLE_MARGIN)))

    # -- seeing ------------------------------------------------------------------------------------
    def detect(self, image: np.ndarray, queries: Sequence[str]) -> list[Detection]:
        import torch

        if not queries:
            return []
        small = _resize(image, SIDE)
        regions = coloured_regions(small)
        if not regions:
            return []
        rest = ~np.any(np.stack(regions), axis=0)  # what no candidate covers
        background = np.median(small[rest] if rest.any() else small.reshape(-1, 3), axis=0)
        background = background.astype(np.uint8)
        views = [np.where(mask[..., None], small, background) for mask in regions]
        views.append(np.broadcast_to(background, small.shape))
        pixels = torch.from_numpy(np.stack(views).astype(np.uint8)).permute(0, 3, 1, 2)
        with torch.no_grad():
            seen = self.encoder.embed_pixels(pixels.float() / 127.5 - 1.0)
            asked = self.encoder.embed_texts(list(queries))
        scores = (seen @ asked.T).cpu().numpy()  # (regions + 1, queries)
        gains = scores[:-1] - scores[-1:]
        # the outline's own reading of the shape, as the locator does (the encoder alone reads a
        # model's slightly rounded rectangle as an ellipse)
        readings = [read_shape(region) for region in regions]  # once a region, not a query
        outlines = np.stack([shape_agreement(regions, query, OUTLINE_BONUS, readings)
                             for query in queries], 1)  # fmt: skip
        found = []
        for index, mask in enumerate(regions):
            read = int(np.argmax(scores[index]))  # the encoder's reading
            if gains[index, read] < MARGIN:  # the encoder alone says whether it is a thing
                continue
            # the outline may change the shape of the encoder's reading, never its colour; where
            # the two agree nothing changes (a near tie stays one)
            same = np.array([_unshaped(q) == _unshaped(queries[read]) for q in queries])
            bonus = outlines[index] * same * (outlines[index, read] == 0)
            best = int(np.argmax(scores[index] + bonus))
            fitted = gains[index] + bonus
            # its pieces too (an object drawn in two shades): what an edit of it changes
            whole = _upscale(fill_holes(with_pieces(small, mask, regions)), image.shape[:2])
            fits = {query: float(fit) for query, fit in zip(queries, fitted, strict=True)}
            found.append(Detection(queries[best], whole, float(fitted[best]), fits))
        return found


def _unshaped(query: str) -> tuple[str, ...]:
    """A query's words but its shape ("a red ring" -> ("a", "red"))."""
    return tuple(word for word in query.split() if word not in SHAPES)


def coloured_regions(image: np.ndarray) -> list[np.ndarray]:
    """The candidate object regions (:func:`~anypix.models.masks.candidate_regions`) of a 64x64
    image whose pixels are coloured, not grey (objects are saturated; textures may not be)."""
    masks = []
    for mask in candidate_regions(image):
        channels = image[mask].astype(np.int16)
        if np.median(channels.max(-1) - channels.min(-1)) >= MIN_CHROMA:
            masks.append(mask)
    return masks


def _resize(image: np.ndarray, side: int) -> np.ndarray:
    if image.shape[:2] == (side, side):
        return image
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BOX))


def _upscale(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A 64x64 mask at the image's (height, width), nearest neighbour."""
    if mask.shape == shape:
        return mask
    rows = (np.arange(shape[0]) * mask.shape[0] // shape[0]).clip(0, mask.shape[0] - 1)
    cols = (np.arange(shape[1]) * mask.shape[1] // shape[1]).clip(0, mask.shape[1] - 1)
    return mask[rows][:, cols]


def load_perception(settings: Settings | None = None) -> MiniworldPerception:
    """The family's verifier: the shipped binding encoder, loaded on first use."""

    def load() -> Any:  # the binding module imports torch: a turn plans (and shows it) first
        from anypix.models.miniworld.binding import load_encoder

        return load_encoder(settings)

    return MiniworldPerception(load_encoder=load)
