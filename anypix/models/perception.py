"""What a model family sees in an image: the objects there, each named by the phrase that fits it.

The agent's verify step (:mod:`anypix.agent.verify`) checks each op's postcondition with it (is
the object there, in its place, in its colour and shape?), and a family registers the one that
knows its world in ``Capabilities.verifier``:

* a family trained on a world of its own: its binding encoder naming the regions of an image;
* photo presets: an open-vocabulary detector, OWLv2 through transformers
  (:mod:`anypix.models.detector`).

A check asks for a phrase together with the phrases the perception could confuse it with
(:meth:`Perception.alternatives`: the same object in another colour or shape), so "a green ring"
counts as seen only where it fits better than "a green ellipse" and "a red ring".

Nothing here imports torch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from anypix.config import Settings


@dataclass(frozen=True)
class Detection:
    """One object seen in an image: the query that fits it best, where it is and how sure."""

    label: str  # one of the queries asked
    mask: np.ndarray  # (H, W) bool at the image's size; a ring's hole is filled
    score: float  # how far it beats the empty background (or the detector's confidence)
    fits: Mapping[str, float] = field(default_factory=dict)  # every query's score for it

    def names(self, phrase: str, slack: float = 0.0) -> bool:
        """Whether ``phrase`` fits this object as well as its label does, give or take
        ``slack`` (a near tie between two shapes is not a wrong shape)."""
        if phrase == self.label:
            return True
        return phrase in self.fits and self.fits[phrase] >= self.score - slack

    def overlap(self, place: np.ndarray) -> float:
        """The fraction of this object inside ``place`` (a bool mask of the same size)."""
        area = int(self.mask.sum())
        return 0.0 if area == 0 else float((self.mask & place).sum() / area)


class Perception(ABC):
    """Finds and names the objects of an image; one per model family (its registry entry)."""

    @abstractmethod
    def detect(self, image: np.ndarray, queries: Sequence[str]) -> list[Detection]:
        """The objects of ``image`` ((H, W, 3) uint8), each labelled with the query that fits
        it best; what fits no query better than the empty background is left out."""

    @abstractmethod
    def canonical(self, phrase: str) -> str:
        """``phrase`` in this perception's own words ("the big ball" -> "a large ellipse")."""

    @abstractmethod
    def alternatives(self, phrase: str) -> list[str]:
        """Phrases to ask alongside ``phrase`` (already canonical): the same object in the
        other colours and shapes this perception tells apart."""

    @abstractmethod
    def vocabulary(self) -> list[str]:
        """Every object phrase this perception names (to list what an image holds)."""

    def warm(self) -> None:
        """Load now what the first check would load (a warm worker does, before any edit);
        nothing by default."""
        return None

    def background_style(self, image: np.ndarray) -> str | None:
        """The style of ``image``'s background (around its objects) in this perception's words,
        such as "night dots"; None when this perception cannot read styles (then a restyle is checked
        for its content only)."""
        return None


PerceptionFactory = Callable[["Settings | None"], Perception]  # loads on first call


def describe_place(mask: np.ndarray) -> str:
    """Where a mask's centre is, in words a person reads ("at (0.31, 0.72)")."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return "nowhere"
    height, width = mask.shape
    return f"at ({(xs.mean() + 0.5) / width:.2f}, {(ys.mean() + 0.5) / height:.2f})"
