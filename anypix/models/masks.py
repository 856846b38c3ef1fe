"""Regions of small images (numpy): connected regions of similar colour, hole filling, the
regions that could be objects, and the shape of a region's outline.

The locator (:mod:`anypix.tools.locate`) finds objects with them; model families measure with
them (a ring's hole-filled mask is the region a blob for it should cover).
"""

from __future__ import annotations

from collections import deque

import numpy as np

TOLERANCE = 0.12  # neighbouring pixels closer than this (RGB in [0, 1], max channel) join a region
# ... and a pixel joins only while it is this close to the region's mean colour so far: on a
# noisy picture (a model's output) a chain of small steps leads from an object into the
# background, and a region that follows it swallows both.
REGION_TOLERANCE = 0.3


def label_regions(image: np.ndarray, tolerance: float = TOLERANCE) -> np.ndarray:
    """(H, W) int labels of 4-connected regions grown from seeds: a pixel joins a neighbour's
    region when the two differ by less than ``tolerance`` in every channel and the pixel by less
    than ``REGION_TOLERANCE`` from the region's mean colour (``image`` in uint8)."""
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
            total, size = colours[y0, x0].astype(np.float64), 1
            queue = deque([(y0, x0)])
            while queue:
                y, x = queue.popleft()
                for ny, nx, joined in (
                    (y, x + 1, x + 1 < width and close_right[y, x]),
                    (y, x - 1, x > 0 and close_right[y, x - 1]),
                    (y + 1, x, y + 1 < height and close_down[y, x]),
                    (y - 1, x, y > 0 and close_down[y - 1, x]),
                ):
                    if not joined or labels[ny, nx] >= 0:
                        continue
                    if np.abs(colours[ny, nx] - total / size).max() >= REGION_TOLERANCE:
                        continue
                    labels[ny, nx] = count
                    total, size = total + colours[ny, nx], size + 1
                    queue.append((ny, nx))
            count += 1
    return labels


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every enclosed hole filled (a ring becomes a disc)."""
    outside = label_regions(np.where(mask, 255, 0).astype(np.uint8)[..., None].repeat(3, axis=2))
    border = set(
        np.unique(np.concatenate([outside[0], outside[-1], outside[:, 0], outside[:, -1]]))
    )
    reached = np.isin(outside, list(border)) & ~mask
    return ~reached


MIN_AREA = 12  # px: a smaller region is a speck or an edge, not an object
MAX_AREA = 0.4  # share of the image the regions of one colour cover at most (more: background)
MAX_PIECES = 2  # regions of one colour an object may show as (another object cuts it in two)


def candidate_regions(image: np.ndarray) -> list[np.ndarray]:
    """Boolean masks of the regions of ``image`` that could be objects: the one object finder.
    The locator and a family's perception name them; remove, move, restyle and variation keep
    or avoid them (:func:`objects_mask`). A region is a connected region of one colour
    (:func:`label_regions`) that is

    * not a speck: ``MIN_AREA`` pixels at least;
    * not background: the regions of its colour cover at most ``MAX_AREA`` of the image together
      (a background is large, even where objects cut it in pieces, and a ring's hole shows its
      colour), and it does not span the image from one side to the other (a stripe);
    * not texture: its colour shows as at most ``MAX_PIECES`` regions (stripes, checks and dots
      repeat theirs many times; an object that another one cuts in two shows as two).
    """
    labels = label_regions(image)
    count = int(labels.max()) + 1
    areas = np.bincount(labels.ravel(), minlength=count)
    colours = np.stack([np.median(image[labels == k], axis=0) for k in range(count)]) / 255.0
    same = (np.abs(colours[:, None] - colours[None]).max(-1) < TOLERANCE) & (
        areas[None] >= MIN_AREA
    )
    height, width = labels.shape
    few = same.sum(1) <= MAX_PIECES
    small = (same * areas[None]).sum(1) <= MAX_AREA * height * width
    masks = []
    for label in np.flatnonzero(few & small & (areas >= MIN_AREA)):
        mask = labels == label
        rows, cols = mask.any(axis=1), mask.any(axis=0)
        if (rows[0] and rows[-1]) or (cols[0] and cols[-1]):
            continue
        masks.append(mask)
    return masks


def objects_mask(image: np.ndarray) -> np.ndarray:
    """(H, W) bool: every pixel of the :func:`candidate_regions` of ``image``."""
    regions = candidate_regions(image)
    if not regions:
        return np.zeros(image.shape[:2], dtype=bool)
    return np.any(np.stack(regions), axis=0)


# -- shapes ------------------------------------------------------------------------------------------
# The affine moment invariant I1 = (mu20 mu02 - mu11^2) / mu00^4 (Rosin, "Measuring shape:
# ellipticity, rectangularity, and triangularity", 2003) is the same for every ellipse, 1/(16 pi^2),
# every rectangle (and parallelogram), 1/144, and every triangle, 1/108, whatever its size, angle
# or stretch. Bounds measured on whole shapes drawn at 64 px (pixelation spreads them a little);
# between them a shape is not read.
SHAPE_BOUNDS = {"ellipse": (0.0060, 0.0067), "rectangle": (0.0067, 0.0076),
                "triangle": (0.0078, 0.0110)}  # fmt: skip
RING_HOLE = 0.12  # share of its hole-filled outline a ring's hole covers at least (a disc: none)
RING_I1 = 0.013  # above this a region is spread round its centre as a ring is, even one cut open
SHAPE_NAMES = ("ellipse", "rectangle", "triangle", "ring")


def moment_invariant(mask: np.ndarray) -> float:
    """I1 of a region (pixels counted as unit squares, so a small region's value is not biased
    low by its pixels' own extent)."""
    ys, xs = np.nonzero(mask)
    n = len(xs)
    if n == 0:
        return 0.0
    x, y = xs - xs.mean(), ys - ys.mean()
    mu20, mu02 = (x * x).mean() + 1 / 12, (y * y).mean() + 1 / 12
    mu11 = (x * y).mean()
    return float((mu20 * mu02 - mu11 * mu11) / (n * n))


def read_shape(mask: np.ndarray) -> str | None:
    """The shape a region's outline has, one of :data:`SHAPE_NAMES`, or None when it reads as
    none of them (an object half hidden behind another often does). A ring has a hole, or is
    spread round its centre as one even when another object cuts it open."""
    filled = fill_holes(mask)
    if filled.sum() - mask.sum() >= RING_HOLE * filled.sum():
        return "ring"
    value = moment_invariant(mask)
    if value >= RING_I1:
        return "ring"
    return next((name for name, (low, high) in SHAPE_BOUNDS.items() if low <= value < high), None)
