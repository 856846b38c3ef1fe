"""Find the object an edit names in its [base], so "make the ring in [scene] green" changes the
ring and nothing else.

A recolour, removal or replacement that says no place has no blob, and without one the edit
redraws the whole image. :func:`locate` gives such a plan one blob per op, fitted around the
region of the [base] that best matches the op's object phrase:

1. candidates: connected regions of similar colour on a 64x64 copy of the base (region growing),
   neither specks nor background-sized;
2. each candidate, alone on the image's background colour, goes through the binding encoder's
   image tower, and the object phrase ("the red ring") through its text tower;
3. the best candidate wins if it beats the empty background by ``MARGIN``; its holes are filled
   and the ellipse with the same second moments, grown by ``GROW``, becomes the blob.

The blob says what the region holds afterwards ("a green ring"; for a removal, the background).
A plan that already has blobs or boxes, or no [base], comes back unchanged. An object that is not
there raises :class:`NotFoundError`, which tells the person to say where it is.

The grounding model is the miniworld binding encoder, so it knows that world's colours and
shapes; photos need a preset with a real open-vocabulary detector.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anypix.errors import AnypixError
from anypix.plan import Blob, EditPlan, Op

SIDE = 64  # the grounding copy's size (the binding encoder's input)
TOLERANCE = 0.12  # neighbouring pixels closer than this (RGB in [0, 1], max channel) join a region
MIN_AREA, MAX_AREA = 12, 0.4  # pixels; fraction of the image
MARGIN = 0.1  # cosine the winner must gain over the empty background
GROW = 1.15  # the blob is this much larger than the region's moment ellipse
LOCATED_OPS = ("recolor", "remove", "replace")
_ARTICLES = re.compile(r"^(?:the|a|an|this|that)\s+", re.IGNORECASE)


class NotFoundError(AnypixError):
    """The edit names an object the [base] does not seem to hold."""

    def __init__(self, phrase: str, base: str) -> None:
        super().__init__(
            f"found no {phrase!r} in [{base}]",
            'say where it is ("... on the left", "... at the top") or name its colour and shape',
        )


@dataclass(frozen=True)
class Found:
    """Where an op's object was found: the blob, and how sure (cosine gain over background)."""

    op: Op
    phrase: str
    blob: Blob | None
    gain: float


def needs_location(plan: EditPlan) -> bool:
    """A local edit of a [base] that names an object but no place."""
    return (
        plan.base is not None
        and not (plan.blobs or plan.boxes)
        and any(op.op in LOCATED_OPS and object_phrase(op) for op in plan.ops)
    )


def object_phrase(op: Op) -> str:
    """What the op points at: "the ring" of "the ring green" (recolour) or "the ring with a
    star" (replace); "" when it names the whole image."""
    target = op.target.strip()
    if op.op == "recolor":
        from anypix.agent.phrases import color_split

        split = color_split(target)
        target = split[0] if split else target
    elif op.op == "replace":
        target = re.split(r"\s+with\s+", target, maxsplit=1)[0]
    return "" if target.lower() in ("", "everything", "the image", "it") else target


def outcome(op: Op, phrase: str) -> str:
    """The sentence the found blob carries: what the region holds after the edit."""
    noun = _ARTICLES.sub("", phrase)
    if op.op == "remove":
        return "background"
    if op.op == "replace":
        parts = re.split(r"\s+with\s+", op.target, maxsplit=1)
        return parts[1] if len(parts) == 2 else op.target
    from anypix.agent.phrases import color_split, lexicon

    split = color_split(op.target)
    colours = set(lexicon()["colors"])
    kept = [w for w in noun.split() if w.lower() not in colours]  # the old colour goes
    return f"a {split[1]} {' '.join(kept)}" if split else op.target


class Locator:
    """Grounds plans in their [base] with a binding encoder (the shipped miniworld one by
    default, loaded on first use)."""

    def __init__(self, encoder: Any = None) -> None:
        self._encoder = encoder

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            from anypix.models.miniworld.binding import load_encoder

            self._encoder = load_encoder()
        return self._encoder

    def __call__(self, plan: EditPlan, assets: Mapping[str, Any]) -> EditPlan:
        """``plan`` with a blob for every op's object, found in the [base]; raises
        :class:`NotFoundError` for an object that is not there."""
        if not needs_location(plan):
            return plan
        assert plan.base is not None
        found = self.find_all(plan, _image(assets[plan.base]))
        for missing in (f for f in found if f.blob is None):
            raise NotFoundError(missing.phrase, plan.base)
        return plan.model_copy(update={"blobs": [f.blob for f in found]})

    def find_all(self, plan: EditPlan, image: np.ndarray) -> list[Found]:
        ops = [op for op in plan.ops if op.op in LOCATED_OPS and object_phrase(op)]
        return [self.find(op, image) for op in ops]

    def find(self, op: Op, image: np.ndarray) -> Found:
        """The region of ``image`` ((H, W, 3) uint8) that best matches the op's object."""
        phrase = object_phrase(op)
        small = _resize(image, SIDE)
        regions = candidate_regions(small)
        if not regions:
            return Found(op, phrase, None, 0.0)
        background = _background_colour(small, regions)
        views = [_alone(small, mask, background) for mask in regions]
        views.append(np.broadcast_to(background, small.shape))  # the empty background
        import torch

        pixels = torch.from_numpy(np.stack(views)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        with torch.no_grad():
            images = self.encoder.embed_pixels(pixels)
            text = self.encoder.embed_texts([_canonical(phrase)])
        scores = (images @ text.T).squeeze(1).cpu().numpy()
        best = int(np.argmax(scores[:-1]))
        gain = float(scores[best] - scores[-1])
        if gain < MARGIN:
            return Found(op, phrase, None, gain)
        blob = ellipse_of(fill_holes(regions[best]), outcome(op, phrase), image.shape[:2])
        return Found(op, phrase, blob, gain)


# -- regions ---------------------------------------------------------------------------------------
def label_regions(image: np.ndarray, tolerance: float = TOLERANCE) -> np.ndarray:
    """(H, W) int labels of 4-connected regions whose neighbouring pixels differ by less than
    ``tolerance`` in every channel (``image`` in uint8)."""
    colours = image.astype(np.float32) / 255.0
    height, width = colours.shape[:2]
    close_right = np.abs(colours[:, 1:] - colours[:, :-1]).max(axis=2) < tolerance
    close_down = np.abs(colours[1:] - colours[:-1]).max(axis=2) < tolerance
    labels = np.full((height, width), -1, dtype=np.int32)
    count = 0
    for y0 in range(height):
        for x0 in range(width):
            if labels[y0, x0] >= 0:
                continue
            labels[y0, x0] = count
            queue = deque([(y0, x0)])
            while queue:
                y, x = queue.popleft()
                for ny, nx, joined in (
                    (y, x + 1, x + 1 < width and close_right[y, x]),
                    (y, x - 1, x > 0 and close_right[y, x - 1]),
                    (y + 1, x, y + 1 < height and close_down[y, x]),
                    (y - 1, x, y > 0 and close_down[y - 1, x]),
                ):
                    if joined and labels[ny, nx] < 0:
                        labels[ny, nx] = count
                        queue.append((ny, nx))
            count += 1
    return labels


def candidate_regions(image: np.ndarray) -> list[np.ndarray]:
    """Boolean masks of the regions that could be objects: not specks, not background-sized, not
    spanning the image from one side to the other (a stripe)."""
    labels = label_regions(image)
    height, width = labels.shape
    masks = []
    for label in range(int(labels.max()) + 1):
        mask = labels == label
        area = int(mask.sum())
        if area < MIN_AREA or area > MAX_AREA * height * width:
            continue
        rows, cols = mask.any(axis=1), mask.any(axis=0)
        if (rows[0] and rows[-1]) or (cols[0] and cols[-1]):
            continue
        masks.append(mask)
    return masks


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every enclosed hole filled (a ring becomes a disc)."""
    outside = label_regions(np.where(mask, 255, 0).astype(np.uint8)[..., None].repeat(3, axis=2))
    border = set(
        np.unique(np.concatenate([outside[0], outside[-1], outside[:, 0], outside[:, -1]]))
    )
    reached = np.isin(outside, list(border)) & ~mask
    return ~reached


def ellipse_of(
    mask: np.ndarray, description: str, canvas: tuple[int, int] | None = None, grow: float = GROW
) -> Blob:
    """The blob with the region's centre and second moments (a filled ellipse of semi-axes a, b
    has variances a²/4 and b²/4 along them), grown by ``grow``, on a ``canvas`` of (height,
    width) pixels that ``mask`` was shrunk from (default: the mask's own)."""
    height, width = canvas or mask.shape
    side = min(height, width)
    ys, xs = np.nonzero(mask)
    x = (xs + 0.5) * width / mask.shape[1]
    y = (ys + 0.5) * height / mask.shape[0]
    cx, cy = float(x.mean()), float(y.mean())
    covariance = np.cov(np.stack([x - cx, y - cy])) if len(x) > 1 else np.eye(2) * 0.25
    pixel = np.diag([width / mask.shape[1], height / mask.shape[0]]) ** 2 / 12  # a pixel's extent
    values, vectors = np.linalg.eigh(covariance + pixel)
    a, b = (2 * math.sqrt(max(v, 1e-6)) * grow / side for v in values[::-1])
    angle = math.degrees(math.atan2(vectors[1, 1], vectors[0, 1]))  # the major axis
    return Blob(description=description, cx=cx / width, cy=cy / height,
                a=min(a, 2.0), b=min(b, 2.0), angle=angle % 180.0)  # fmt: skip


# -- measuring it -----------------------------------------------------------------------------------
NAMINGS = ("colour and shape", "shape", "colour")


@dataclass(frozen=True)
class NamedObject:
    """A held-out miniworld scene, one of its objects, and the ways a person would name it."""

    image: np.ndarray  # (64, 64, 3) uint8
    truth: np.ndarray  # the object's mask, holes filled
    phrases: dict[str, str]  # naming -> phrase; "shape" only when no other object shares it


def named_object(seed: int) -> NamedObject:
    """Scene ``seed`` (1-4 objects) and its object ``seed % count``, named by colour and shape
    ("the red ring"), by shape alone and by colour alone ("the red object")."""
    from anypix.models.miniworld.data import random_scene, render

    scene = random_scene(seed, min_objects=1, max_objects=4)
    image, index = render(scene, SIDE)
    k = seed % len(scene.objects)
    obj = scene.objects[k]
    phrases = {
        "colour and shape": f"the {obj.colour} {obj.shape}",
        "colour": f"the {obj.colour} object",
    }
    if [o.shape for o in scene.objects].count(obj.shape) == 1:
        phrases["shape"] = f"the {obj.shape}"
    return NamedObject(image, fill_holes(index == k), phrases)


def found_iou(found: Found, truth: np.ndarray) -> float:
    """IoU of the found blob with the true mask (0 when nothing was found)."""
    if found.blob is None:
        return 0.0
    mask = found.blob.mask(truth.shape[1], truth.shape[0])
    return float((mask & truth).sum() / max(1, (mask | truth).sum()))


# -- helpers ---------------------------------------------------------------------------------------
def _canonical(phrase: str) -> str:
    """The phrase in the binding encoder's words: synonyms back to its shapes, one article."""
    from anypix.models.miniworld.model import SYNONYMS

    canonical = {alt: word for word, alts in SYNONYMS.items() for alt in alts}
    words = [canonical.get(w.lower(), w.lower()) for w in _ARTICLES.sub("", phrase).split()]
    return "a " + " ".join(words)


def _background_colour(image: np.ndarray, regions: list[np.ndarray]) -> np.ndarray:
    """The median colour of the pixels no candidate covers."""
    rest = ~np.any(np.stack(regions), axis=0)
    pixels = image[rest] if rest.any() else image.reshape(-1, 3)
    return np.median(pixels, axis=0).astype(np.uint8)


def _alone(image: np.ndarray, mask: np.ndarray, background: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None], image, background).astype(np.uint8)


def _resize(image: np.ndarray, side: int) -> np.ndarray:
    if image.shape[:2] == (side, side):
        return image
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BOX))


def _image(asset: Any) -> np.ndarray:
    from PIL import Image

    picture = asset if isinstance(asset, Image.Image) else Image.open(Path(asset))
    return np.asarray(picture.convert("RGB"))
