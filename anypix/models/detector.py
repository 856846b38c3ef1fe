"""An open-vocabulary detector as the perception of photo presets: OWLv2 through transformers.

OWLv2 (Minderer et al., "Scaling Open-Vocabulary Object Detection") scores every image patch's
box against every text query, so a check can ask "a green car" next to "a red car" and "a green
truck" and see which wins where. :class:`DetectorPerception` loads it like any preset
(``owlv2``: a Hub id or ``model_paths.owlv2``, never downloading unless allowed) on first use::

    perception = DetectorPerception.from_pretrained("/models/owlv2-base-patch16-ensemble")
    perception.detect(pixels, ["a red car", "a green car"])

A box becomes a rectangular mask; boxes of one query that overlap more than ``NMS_IOU`` keep the
stronger. OWLv2 pads an image to a square at the bottom and right before it looks, so boxes are
fractions of that square.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from anypix.models.perception import Detection, Perception

if TYPE_CHECKING:
    from anypix.config import Settings

PRESET = "owlv2"
THRESHOLD = 0.1  # OWLv2's own suggested score threshold for detections
NMS_IOU = 0.5  # boxes of one label overlapping more than this are one object
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black",
           "white", "grey")  # fmt: skip
# What an image holds when nothing names it (restyle and variation check these are kept).
VOCABULARY = ("a person", "a dog", "a cat", "a car", "a bird", "a tree", "a house", "a chair",
              "a cup", "a bottle", "a flower", "a boat")  # fmt: skip
_ARTICLES = re.compile(r"^(?:the|a|an|this|that)\s+", re.IGNORECASE)


class DetectorPerception(Perception):
    """Perception with an OWLv2 model and its processor (given, or loaded on first use)."""

    def __init__(
        self, model: Any = None, processor: Any = None, *,
        source: str | Callable[[], str] | None = None, threshold: float = THRESHOLD,
        device: str = "cpu",
    ) -> None:  # fmt: skip
        """``source`` is where to load from, or a function that says where (called on first
        use, so a preset that is not on this machine fails only when something is checked)."""
        if model is None and source is None:
            raise ValueError("DetectorPerception needs a model or a source to load one from")
        self._model, self._processor, self.source = model, processor, source
        self.threshold, self.device = threshold, device

    @classmethod
    def from_pretrained(cls, source: str, **options: Any) -> DetectorPerception:
        """A perception that loads OWLv2 from ``source`` (a Hub id or a local directory)."""
        return cls(source=source, **options)

    def _load(self) -> tuple[Any, Any]:
        if self._model is None:
            from transformers import Owlv2ForObjectDetection, Owlv2Processor

            assert self.source is not None
            where = self.source if isinstance(self.source, str) else self.source()
            self._processor = Owlv2Processor.from_pretrained(where)
            self._model = Owlv2ForObjectDetection.from_pretrained(where)
            self._model.to(self.device).eval()
        return self._model, self._processor

    # -- words -------------------------------------------------------------------------------------
    def canonical(self, phrase: str) -> str:
        return "a " + _ARTICLES.sub("", phrase.strip()).lower()

    def alternatives(self, phrase: str) -> list[str]:
        """The phrase with each other colour in place of the one it names (none: nothing to
        tell it apart from but the other objects' queries)."""
        words = phrase.split()
        named = [w for w in words if w in COLOURS]
        if not named:
            return []
        return [" ".join(c if w == named[0] else w for w in words)
                for c in COLOURS if c != named[0]]  # fmt: skip

    def vocabulary(self) -> list[str]:
        return list(VOCABULARY)

    # -- seeing ------------------------------------------------------------------------------------
    def detect(self, image: np.ndarray, queries: Sequence[str]) -> list[Detection]:
        import torch
        from PIL import Image

        if not queries:
            return []
        model, processor = self._load()
        inputs = processor(text=[list(queries)], images=Image.fromarray(image),
                           return_tensors="pt", padding=True)  # fmt: skip
        with torch.no_grad():
            outputs = model(**{k: v.to(self.device) for k, v in inputs.items()})
        probs = outputs.logits[0].sigmoid().float().cpu().numpy()  # (patches, queries)
        boxes = outputs.pred_boxes[0].float().cpu().numpy()  # (patches, 4) cx cy w h
        best = probs.argmax(axis=1)
        height, width = image.shape[:2]
        side = max(height, width)
        found: list[Detection] = []
        for patch in np.argsort(-probs.max(axis=1)):
            score = float(probs[patch, best[patch]])
            if score < self.threshold:
                break
            mask = _box_mask(boxes[patch], side, (height, width))
            label = queries[int(best[patch])]
            if any(d.label == label and _iou(d.mask, mask) > NMS_IOU for d in found):
                continue
            fits = {query: float(p) for query, p in zip(queries, probs[patch], strict=True)}
            found.append(Detection(label, mask, score, fits))
        return found


def _box_mask(box: np.ndarray, side: int, shape: tuple[int, int]) -> np.ndarray:
    cx, cy, w, h = (float(v) * side for v in box)
    ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5
    return (np.abs(xs - cx) <= w / 2) & (np.abs(ys - cy) <= h / 2)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return 0.0 if union == 0 else float((a & b).sum() / union)


def load_detector(settings: Settings, resolve: Callable[[str, Settings], str]) -> DetectorPerception:
    """The photo presets' verifier: OWLv2 from where ``resolve`` (the registry's
    ``resolve_source``) finds the ``owlv2`` preset (a local directory, the Hub cache, or the Hub
    when downloads are allowed), loaded on first use."""
    from anypix.models.device import pick_device

    return DetectorPerception(source=lambda: resolve(PRESET, settings),
                              device=str(pick_device(settings.device)))  # fmt: skip
