"""A perception that sees flat-coloured squares exactly: a fake behind the real interface.

Images are grey canvases with squares of pure :data:`COLOURS`; every pixel of a colour is one
object, named "a <colour> square". It lets the verify step's logic be tested without a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from anypix.models.perception import Detection, Perception

COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 220)}
GREY = (128, 128, 128)
SIDE = 32


class SquarePerception(Perception):
    def __init__(self) -> None:
        self.calls = 0

    def canonical(self, phrase: str) -> str:
        colour = next((w for w in re.findall(r"[a-z]+", phrase.lower()) if w in COLOURS), "")
        return f"a {colour} square".replace("  ", " ")

    def alternatives(self, phrase: str) -> list[str]:
        return [f"a {c} square" for c in COLOURS if f"a {c} square" != phrase]

    def vocabulary(self) -> list[str]:
        return [f"a {c} square" for c in COLOURS]

    def detect(self, image: np.ndarray, queries: Sequence[str]) -> list[Detection]:
        self.calls += 1
        found = []
        for colour, rgb in COLOURS.items():
            mask = np.all(image == np.array(rgb, dtype=np.uint8), axis=-1)
            label = f"a {colour} square"
            if mask.sum() >= 4 and label in queries:
                fits = {q: 1.0 if q == label else 0.0 for q in queries}
                found.append(Detection(label, mask, 1.0, fits))
        return found


def canvas(*squares: tuple[str, float, float, float]) -> np.ndarray:
    """A grey SIDExSIDE image with squares (colour, cx, cy, half side), as fractions."""
    image = np.full((SIDE, SIDE, 3), GREY, dtype=np.uint8)
    ys, xs = np.mgrid[0:SIDE, 0:SIDE] + 0.5
    for colour, cx, cy, half in squares:
        inside = (np.abs(xs / SIDE - cx) <= half) & (np.abs(ys / SIDE - cy) <= half)
        image[inside] = COLOURS[colour]
    return image
