"""Fidelity metrics for images of the miniworld: pure numpy functions over uint8 RGB arrays.

Because every miniworld scene is exactly described (:mod:`anypix.models.miniworld.data`), a
generated image can be *measured* against what was asked for:

* **layout** — each requested object is segmented by its colour (:func:`~data.colour_mask`) and
  compared with its blob ellipse (:func:`blob_iou`); the dominant object colour inside a blob
  (:func:`dominant_colour`, background-like low-chroma pixels ignored) should be the requested
  one; and the number of object colours present (:func:`count_objects`) should be the number of
  objects asked for; each object's shape is named by :func:`classify_shape` (the shape whose
  template, fitted near the requested blob, overlaps the object's pixels best);
* **fidelity** — :func:`psnr`, optionally over a mask (edit locality: pixels outside the edited
  blob, grown by :func:`dilate`);
* **style** — :func:`classify_background` names a background's (palette, texture): the palette
  whose light-to-dark colour segment explains the background pixels best, the texture by the
  nearest of many ground-truth backgrounds (as drawn, softened and grainy) in a small feature
  space (tone statistics, how planar the shading is, how often and in which directions it crosses
  the middle tone); :func:`style_consistency` is the fraction of pairs of a group classified
  alike. It names every held-out clean render right (tests/miniworld/test_metrics.py).

Nothing here loads a model; the functions work on ground-truth renders and generated images
alike, which is how a benchmark reports the ground-truth ceiling next to a model's figure.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import combinations

import numpy as np

from anypix.models.miniworld.data import (
    COLOURS,
    PALETTES,
    SHAPES,
    TEXTURES,
    MiniObject,
    Scene,
    Style,
    colour_mask,
    random_scene,
    render,
    shape_mask,
)
from anypix.plan import Blob

# Every object colour has chroma (max - min channel) >= 130 and every background palette <= 55,
# so a pixel this far from grey is part of an object, not of the background.
OBJECT_CHROMA = 80
# A blob "holds" an object when at least this fraction of its pixels is object-coloured.
MIN_OBJECT_FRACTION = 0.1
# An object colour counts as present from this fraction of the canvas (16 px at 64x64; the
# smallest object the world draws covers about 48).
MIN_COUNT_FRACTION = 16 / 4096
# Below this IoU with its best-fitting template an object has no recognisable shape.
MIN_SHAPE_IOU = 0.3
# A requested object counts as shown by its scene when this fraction of its silhouette is not
# painted over by later objects: on dev scenes (seeds 500000 and 600000, 64 each) every object the
# ground truth got the colour of wrong was at most 0.42 shown but one (0.56).
MIN_SHOWN = 0.5
PSNR_CAP = 100.0  # identical images (MSE 0) report this instead of infinity
BLOB_MARGIN = 2  # px a blob is grown by before "outside the blob" or "the background" begins


# -- masks and layout ---------------------------------------------------------------------------


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks; two empty masks agree perfectly (1.0)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def blob_iou(image: np.ndarray, colour: str, blob: Blob) -> float:
    """IoU of the pixels of ``colour`` in ``image`` with ``blob``'s ellipse."""
    height, width = image.shape[:2]
    return mask_iou(colour_mask(image, colour), blob.mask(width, height))


def object_pixels(image: np.ndarray) -> np.ndarray:
    """Boolean mask of object-like pixels: saturated enough not to be any background palette."""
    channels = image.astype(np.int16)
    return np.asarray(channels.max(-1) - channels.min(-1) >= OBJECT_CHROMA)


def nearest_colours(pixels: np.ndarray) -> np.ndarray:
    """Index into ``list(COLOURS)`` of the nearest object colour of each (N, 3) pixel."""
    table = np.array(list(COLOURS.values()), dtype=np.float64)
    flat = pixels.reshape(-1, 3).astype(np.float64)
    return np.asarray(((flat[:, None, :] - table[None]) ** 2).sum(-1).argmin(1))


def dominant_colour(image: np.ndarray, region: np.ndarray) -> str | None:
    """The object colour most of the object-like pixels in ``region`` are nearest to; None when
    fewer than :data:`MIN_OBJECT_FRACTION` of the region is object-like (nothing is there)."""
    inside = np.asarray(region, dtype=bool)
    chosen = inside & object_pixels(image)
    if chosen.sum() == 0 or chosen.sum() < MIN_OBJECT_FRACTION * inside.sum():
        return None
    votes = np.bincount(nearest_colours(image[chosen]), minlength=len(COLOURS))
    return list(COLOURS)[int(votes.argmax())]


def largest_segment(mask: np.ndarray) -> int:
    """Pixels in the largest 4-connected region of ``mask`` (0 when it is empty)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return 0
    # Every pixel takes the smallest label among itself and its neighbours until nothing changes.
    outside = mask.size + 1
    labels = np.where(mask, np.arange(mask.size).reshape(mask.shape), outside)
    while True:
        padded = np.pad(labels, 1, constant_values=outside)
        neighbours = np.minimum.reduce([
            padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:], labels
        ])  # fmt: skip
        spread = np.where(mask, neighbours, outside)
        if np.array_equal(spread, labels):
            return int(np.bincount(labels[mask]).max())
        labels = spread


def count_objects(image: np.ndarray, min_pixels: int | None = None) -> int:
    """How many object colours have a connected segment of at least ``min_pixels`` (default:
    :data:`MIN_COUNT_FRACTION` of the canvas); scattered specks of a colour do not count.
    Colours are distinct within a scene, so this is the number of objects."""
    height, width = image.shape[:2]
    floor = max(4, round(MIN_COUNT_FRACTION * height * width)) if min_pixels is None else min_pixels
    return sum(int(largest_segment(colour_mask(image, c)) >= floor) for c in COLOURS)


# -- shape --------------------------------------------------------------------------------------------

# Coordinate-descent moves of a template's pose: centre by one pixel (of a 64 canvas), semi-axes
# by 10%, angle by 10 degrees; a few sweeps reach the best pose near the requested blob.
_POSE_STEPS = {"cx": 1 / 64, "cy": 1 / 64, "a": 0.1, "b": 0.1, "angle": 10.0}
_POSE_SWEEPS = 6


def _template_iou(obj: MiniObject, pose: dict[str, float], pixels: np.ndarray,
                  known: np.ndarray) -> float:  # fmt: skip
    posed = dataclasses.replace(obj, blob=obj.blob.model_copy(update=pose))
    template = shape_mask(posed, pixels.shape[0]) & known
    union = (template | pixels).sum()
    return float((template & pixels).sum() / union) if union else 0.0


def shape_fit(pixels: np.ndarray, known: np.ndarray, obj: MiniObject) -> float:
    """The best IoU of ``obj.shape``'s template (:func:`~data.shape_mask`) with ``pixels``, over
    poses near ``obj``'s blob (coordinate descent from it; a triangle also from its apex turned
    round). Pixels outside ``known`` (hidden by other objects) count for neither side."""
    blob = obj.blob
    starts = [blob.angle, blob.angle + 180] if obj.shape == "triangle" else [blob.angle]
    poses = [{"cx": blob.cx, "cy": blob.cy, "a": blob.a, "b": blob.b, "angle": angle}
             for angle in starts]  # fmt: skip
    scores = [_template_iou(obj, pose, pixels, known) for pose in poses]
    best, score = poses[int(np.argmax(scores))], max(scores)
    for _ in range(_POSE_SWEEPS):
        improved = False
        for name, step in _POSE_STEPS.items():
            for sign in (-1, 1):
                moved = best[name] * (1 + sign * step) if name in ("a", "b") else best[name] + sign * step
                pose = {**best, name: moved}
                candidate = _template_iou(obj, pose, pixels, known)
                if candidate > score:
                    best, score, improved = pose, candidate, True
        if not improved:
            break
    return score


def classify_shape(image: np.ndarray, obj: MiniObject) -> str | None:
    """The shape of the object of ``obj.colour`` in ``image``: whichever of :data:`SHAPES` fits
    its pixels best (:func:`shape_fit`) near ``obj``'s blob; None when none reaches
    :data:`MIN_SHAPE_IOU` (nothing shaped is there). Other objects' pixels may hide part of it,
    so they are left out of the fit. Names 99% of the objects of held-out ground-truth scenes,
    occluded ones included (tests/miniworld/test_metrics.py)."""
    if image.shape[0] != image.shape[1]:
        raise ValueError(f"shape classification needs a square image, got {image.shape[:2]}")
    pixels = colour_mask(image, obj.colour)
    known = ~(object_pixels(image) & ~pixels)
    fits = {shape: shape_fit(pixels, known, dataclasses.replace(obj, shape=shape))
            for shape in SHAPES}  # fmt: skip
    best = max(fits, key=lambda shape: fits[shape])
    return best if fits[best] >= MIN_SHAPE_IOU else None


def moment_blob(mask: np.ndarray) -> Blob | None:
    """The ellipse with the second moments of ``mask``'s pixels (a start for :func:`shape_fit`
    when no requested blob is known); None for fewer than :data:`MIN_COUNT_FRACTION` of them."""
    side = mask.shape[0]
    ys, xs = np.nonzero(mask)
    if len(xs) < max(4, MIN_COUNT_FRACTION * mask.size):
        return None
    points = np.stack([(xs + 0.5) / side, (ys + 0.5) / side])
    centre = points.mean(axis=1)
    spread, axes = np.linalg.eigh(np.cov(points) + 1e-6 * np.eye(2))  # ascending variances
    major = axes[:, 1]
    angle = math.degrees(math.atan2(major[1], major[0]))
    a, b = (float(2 * math.sqrt(v)) for v in spread[::-1])  # a uniform ellipse: var = r^2 / 4
    a = min(max(a, 1 / side), 2.0)
    return Blob(description="the pixels", cx=float(centre[0]), cy=float(centre[1]), a=a,
                b=min(max(b, 1 / side), a), angle=angle)  # fmt: skip


def shape_in_region(image: np.ndarray, colour: str, region: np.ndarray) -> str | None:
    """The shape drawn in ``colour`` inside ``region`` (boolean, the image's size), whatever
    blob it was drawn in: :func:`classify_shape` started from the pixels' moments; None when
    the colour is not there or has no recognisable shape."""
    blob = moment_blob(colour_mask(image, colour) & region)
    if blob is None:
        return None
    return classify_shape(image, MiniObject(colour=colour, shape=SHAPES[0], size="", blob=blob))


# -- scoring a layout ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayoutScore:
    """How one image matches a requested layout: per object, IoU, colour and shape; the count.

    ``shown`` says which requested objects the scene itself shows (:func:`shown_objects`): one
    that the world's own render hides under later objects has no colour or shape a picture could
    show, so colour and shape are scored on shown objects only, and the count on scenes whose
    objects are all shown. The IoU is scored on every object (its figure is read against the
    ground truth's)."""

    ious: tuple[float, ...]
    colours_right: tuple[bool, ...]
    shapes_right: tuple[bool, ...]
    counted: int
    requested: int
    shown: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        if not self.shown:
            object.__setattr__(self, "shown", (True,) * len(self.ious))

    @property
    def count_right(self) -> bool:
        return self.counted == self.requested

    @property
    def count_scored(self) -> bool:
        """Every requested object is shown, so the count a picture should have is known."""
        return all(self.shown)

    def scored(self, rights: tuple[bool, ...]) -> list[bool]:
        """``rights`` (colours or shapes) of the shown objects."""
        return [right for right, shown in zip(rights, self.shown, strict=True) if shown]


def shown_objects(scene: Scene, size: int = 64) -> tuple[bool, ...]:
    """Which of ``scene``'s objects its ground-truth render shows: at least :data:`MIN_SHOWN` of
    the object's own silhouette is not painted over by a later object."""
    _, index = render(scene, size)
    return tuple(
        bool((index == i).sum() >= MIN_SHOWN * max(1, shape_mask(obj, size).sum()))
        for i, obj in enumerate(scene.objects)
    )


def score_layout(
    image: np.ndarray, objects: Sequence[MiniObject], shown: tuple[bool, ...] = ()
) -> LayoutScore:
    """Score ``image`` against the objects (colour + blob) it was asked to show; ``shown`` (default:
    all) marks the objects a picture of the scene can show (:func:`shown_objects`)."""
    height, width = image.shape[:2]
    return LayoutScore(
        ious=tuple(blob_iou(image, o.colour, o.blob) for o in objects),
        colours_right=tuple(
            dominant_colour(image, o.blob.mask(width, height)) == o.colour for o in objects
        ),
        shapes_right=tuple(classify_shape(image, o) == o.shape for o in objects),
        counted=count_objects(image),
        requested=len(objects),
        shown=shown,
    )


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` grown by a disk of ``radius`` pixels."""
    grown = np.asarray(mask, dtype=bool).copy()
    if radius <= 0:
        return grown
    height, width = grown.shape
    padded = np.pad(grown, radius)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy <= radius * radius:
                grown |= padded[
                    radius + dy : radius + dy + height, radius + dx : radius + dx + width
                ]
    return grown


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images (peak 255), over ``mask`` if given.
    Identical pixels give :data:`PSNR_CAP`."""
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    error = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if mask is not None:
        if not np.any(mask):
            raise ValueError("the PSNR mask selects no pixels")
        error = error[np.asarray(mask, dtype=bool)]
    mse = float(error.mean())
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, 10 * math.log10(255.0**2 / mse))


# -- background style ---------------------------------------------------------------------------


def background_mask(
    image: np.ndarray, blobs: Iterable[Blob], margin: int = BLOB_MARGIN
) -> np.ndarray:
    """Pixels that belong to the background: outside every blob grown by ``margin`` px, and not
    object-coloured (a shape's corners may poke out of its blob)."""
    height, width = image.shape[:2]
    covered = np.zeros((height, width), dtype=bool)
    for blob in blobs:
        covered |= blob.mask(width, height)
    return ~dilate(covered, margin) & ~object_pixels(image)


def palette_position(image: np.ndarray, palette: str) -> tuple[np.ndarray, np.ndarray]:
    """(weight, residual) per pixel: where each pixel projects on ``palette``'s light-to-dark
    segment (0 light, 1 dark, clipped) and its RGB distance from that point."""
    light, dark = (np.array(c, dtype=np.float64) for c in PALETTES[palette])
    span = dark - light
    pixels = image.astype(np.float64)
    weight = np.clip(((pixels - light) @ span) / float(span @ span), 0.0, 1.0)
    residual = np.sqrt(((pixels - (light + weight[..., None] * span)) ** 2).sum(-1))
    return weight, residual


def classify_palette(image: np.ndarray, mask: np.ndarray) -> str:
    """The palette whose colour segment is nearest (median distance) to the masked pixels."""
    distances = {
        name: float(np.median(palette_position(image, name)[1][mask])) for name in PALETTES
    }
    return min(distances, key=lambda name: distances[name])


# Neighbour offsets (dy, dx) along 0, 45, 90 and 135 degrees.
_DIRECTIONS = ((0, 1), (1, 1), (1, 0), (1, -1))


def _jump_rates(weight: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per direction, the fraction of background neighbour pairs on opposite sides of the middle
    tone (a soft edge still crosses it exactly once)."""
    dark = weight > 0.5
    height, width = weight.shape
    rates = []
    for dy, dx in _DIRECTIONS:
        x0, x1 = max(0, -dx), width - max(0, dx)
        here = (slice(0, height - dy), slice(x0, x1))
        there = (slice(dy, height), slice(x0 + dx, x1 + dx))
        valid = mask[here] & mask[there]
        rates.append(float(((dark[here] != dark[there]) & valid).sum() / max(1, valid.sum())))
    return np.array(rates)


def texture_features(weight: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Seven numbers that tell the textures apart, from the palette weights of the background:
    tone mean and spread, share of mid tones (smooth shading vs two-tone patterns), how well a
    plane fits (gradient vs noise), how often the tone crosses the middle, and the shape of those
    crossing rates over four directions (stripes cross along few directions; checkers more along
    the diagonals than the axes; dots nearly alike in all)."""
    values = weight[mask]
    ys, xs = np.nonzero(mask)
    design = np.stack([np.ones_like(xs), xs, ys], axis=1).astype(np.float64)
    coefficients, *_ = np.linalg.lstsq(design, values, rcond=None)
    spread = float(values.std())
    residual = float((values - design @ coefficients).std())
    planar = 1.0 - residual**2 / spread**2 if spread > 0.02 else 0.0
    rates = _jump_rates(weight, mask)
    peak = float(rates.max())
    evenness = float(rates.min()) / peak if peak > 0.01 else 0.0
    diagonal = (rates[1] + rates[3]) / max(rates[0] + rates[2], 1e-9) / 2 if peak > 0.01 else 0.0
    middle = float(((values > 0.2) & (values < 0.8)).mean())
    return np.array([values.mean(), spread, middle, planar, rates.mean(), evenness, diagonal])


def soften(image: np.ndarray, passes: int = 1) -> np.ndarray:
    """``image`` blurred ``passes`` times by a separable [1, 2, 1] / 4 filter (edges repeated):
    the soft edges a generator draws instead of the world's hard ones."""
    pixels = image.astype(np.float64)
    for _ in range(passes):
        for axis in (0, 1):
            padded = np.pad(pixels, [(1, 1) if a == axis else (0, 0) for a in range(3)], "edge")
            size = pixels.shape[axis]
            pixels = (
                padded.take(range(0, size), axis)
                + 2 * padded.take(range(1, size + 1), axis)
                + padded.take(range(2, size + 2), axis)
            ) / 4
    return np.clip(pixels, 0, 255).round().astype(np.uint8)


@dataclass(frozen=True)
class _TextureBank:
    features: np.ndarray  # (prototypes, features), already divided by scale
    textures: tuple[str, ...]
    scale: np.ndarray


BANK_SEED = 7_000_000  # ground-truth prototypes use seeds from here; keep evaluations elsewhere
BANK_PER_CLASS = 8  # renders per (palette, texture)
BANK_GRAIN = 4.0  # std of the pixel noise of the grainy prototypes


def _bank_variants(image: np.ndarray, seed: int) -> list[np.ndarray]:
    """A render as drawn, softened, and softened with grain: generated images are never crisp."""
    grain = np.random.default_rng(seed).normal(0, BANK_GRAIN, image.shape)
    soft = soften(image)
    return [image, soft, np.clip(soft + grain, 0, 255).round().astype(np.uint8)]


@cache
def _texture_bank() -> _TextureBank:
    """Texture features of BANK_PER_CLASS ground-truth renders of every (palette, texture), each
    in the variants of :func:`_bank_variants`."""
    rows, labels = [], []
    seed = BANK_SEED
    for palette in PALETTES:
        for texture in TEXTURES:
            for _ in range(BANK_PER_CLASS):
                rng = np.random.default_rng(seed)
                style = Style(palette, texture, angle=float(rng.uniform(0, 180)),
                              period=float(rng.uniform(0.15, 0.35)))  # fmt: skip
                scene = Scene(seed, style, random_scene(seed, max_objects=3).objects)
                blobs = [o.blob for o in scene.objects]
                for image in _bank_variants(render(scene)[0], seed):
                    mask = background_mask(image, blobs)
                    rows.append(texture_features(palette_position(image, palette)[0], mask))
                    labels.append(texture)
                seed += 1
    features = np.array(rows)
    scale = features.std(axis=0) + 1e-6
    return _TextureBank(features / scale, tuple(labels), scale)


def classify_background(image: np.ndarray, mask: np.ndarray | None = None) -> tuple[str, str]:
    """(palette, texture) of the background of ``image`` over ``mask`` (default: object-like
    pixels excluded). Falls back to the whole image when the mask leaves under 32 pixels."""
    mask = ~object_pixels(image) if mask is None else np.asarray(mask, dtype=bool)
    if mask.sum() < 32:
        mask = np.ones(image.shape[:2], dtype=bool)
    palette = classify_palette(image, mask)
    bank = _texture_bank()
    query = texture_features(palette_position(image, palette)[0], mask) / bank.scale
    nearest = int(((bank.features - query) ** 2).sum(axis=1).argmin())
    return palette, bank.textures[nearest]


def style_consistency(styles: Sequence[tuple[str, str]]) -> float:
    """Fraction of pairs in a group with the same classified (palette, texture)."""
    pairs = list(combinations(styles, 2))
    if not pairs:
        raise ValueError("style consistency needs a group of at least two images")
    return sum(a == b for a, b in pairs) / len(pairs)
