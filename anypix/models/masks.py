"""Regions of small images (numpy): connected regions of similar colour, hole filling, the
regions that could be objects, and the shape of a region's outline.

The locator (:mod:`anypix.tools.locate`) finds objects with them; model families measure with
them (a ring's hole-filled mask is the region a blob for it should cover).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence

import numpy as np

TOLERANCE = 0.12  # neighbouring pixels closer than this (RGB in [0, 1], max channel) join a region
# ... and a pixel joins only while it is this close to the region's mean colour so far: on a
# noisy picture (a model's output) a chain of small steps leads from an object into the
# background, and a region that follows it swallows both.
REGION_TOLERANCE = 0.3


def label_regions(image: np.ndarray, tolerance: float = TOLERANCE) -> np.ndarray:
    """(H, W) int labels of 4-connected regions grown from seeds: a pixel joins a neighbour's
    region when the two differ by less than ``tolerance`` in every channel and the pixel by less
    than ``REGION_TOLERANCE`` from the region's mean colour (``image`` in uint8, RGB).

    The growth is sequential (a region's mean moves as it grows), so it runs on Python lists:
    numpy indexing one pixel at a time cost four times as much."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"label_regions needs an (H, W, 3) RGB image, got shape {image.shape}")
    colours = image.astype(np.float32) / 255.0
    height, width = colours.shape[:2]
    right = (np.abs(colours[:, 1:] - colours[:, :-1]).max(axis=2) < tolerance).tolist()
    down = (np.abs(colours[1:] - colours[:-1]).max(axis=2) < tolerance).tolist()
    pixels = colours.astype(np.float64).reshape(-1, 3).tolist()
    labels = [-1] * (height * width)
    count = 0
    for seed in range(height * width):
        if labels[seed] >= 0:
            continue
        labels[seed] = count
        (red, green, blue), size = pixels[seed], 1  # the region's colour sums
        queue = deque([seed])
        while queue:
            i = queue.popleft()
            y, x = divmod(i, width)
            for n, joined in (
                (i + 1, x + 1 < width and right[y][x]),
                (i - 1, x > 0 and right[y][x - 1]),
                (i + width, y + 1 < height and down[y][x]),
                (i - width, y > 0 and down[y - 1][x]),
            ):
                if not joined or labels[n] >= 0:
                    continue
                r, g, b = pixels[n]
                if (
                    abs(r - red / size) >= REGION_TOLERANCE
                    or abs(g - green / size) >= REGION_TOLERANCE
                    or abs(b - blue / size) >= REGION_TOLERANCE
                ):
                    continue
                labels[n] = count
                red, green, blue, size = red + r, green + g, blue + b, size + 1
                queue.append(n)
        count += 1
    return np.asarray(labels, dtype=np.int32).reshape(height, width)


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
# ... or several objects of one colour ("three yellow triangles"), none touching the border: a
# texture's repeats run off the picture's edge.
MAX_REPEATS = 8
REPEATED_AREA = 3 * MIN_AREA  # px each of them has at least (a dotted background's dots: less)
# An object stands out from what surrounds it: across at least ``EDGE_SHARE`` of its outline the
# colour changes by ``TOLERANCE`` or more from ``EDGE_BACK`` pixels inside to ``EDGE_OUT`` outside.
# A piece of a smooth gradient, cut off only because it drifted from its region's mean colour,
# changes little across its outline; a soft edge still changes a lot over a few pixels. Where a
# piece touches an object whose own outline is an edge nearly all round (``EDGE_CLEAR``), that
# stretch of its outline is the object's edge, not its own, and is not counted.
EDGE_SHARE = 0.5
EDGE_CLEAR = 0.9
PIECE_COLOUR = 60.0  # RGB distance under which two touching regions are pieces of one object
# A model draws an object's edge darker at times (a blue triangle's left side a dark blue, 110
# apart in RGB): a touching region of the object's hue (within RIM_HUE degrees, both at least
# RIM_CHROMA saturated) and at most RIM_SHARE of its size is its rim. The world's palette is 22
# degrees apart at the closest (orange, yellow).
RIM_HUE = 10.0
RIM_CHROMA = 60
RIM_SHARE = 0.25
EDGE_BACK, EDGE_OUT = 1, 3
_DIRECTIONS = ((0, 1), (0, -1), (1, 0), (-1, 0))


def edge_share(image: np.ndarray, mask: np.ndarray, ignore: np.ndarray | None = None) -> float:
    """The share of ``mask``'s outline pairs (a pixel inside, its 4-neighbour outside and not in
    ``ignore``) across which ``image`` (uint8) changes by ``TOLERANCE`` or more in some channel,
    from ``EDGE_BACK`` pixels inside to ``EDGE_OUT`` outside (clipped to the image); 1.0 when no
    pair is left."""
    colours = image.astype(np.float32) / 255.0
    height, width = mask.shape
    outside = ~mask if ignore is None else ~mask & ~ignore
    edges = pairs = 0
    inside_ys, inside_xs = np.nonzero(mask)
    for dy, dx in _DIRECTIONS:
        ny, nx = inside_ys + dy, inside_xs + dx
        kept = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        kept[kept] &= outside[ny[kept], nx[kept]]
        ys, xs = inside_ys[kept], inside_xs[kept]
        near = colours[np.clip(ys - dy * EDGE_BACK, 0, height - 1),
                       np.clip(xs - dx * EDGE_BACK, 0, width - 1)]  # fmt: skip
        far = colours[np.clip(ys + dy * EDGE_OUT, 0, height - 1),
                      np.clip(xs + dx * EDGE_OUT, 0, width - 1)]  # fmt: skip
        edges += int((np.abs(far - near).max(-1) >= TOLERANCE).sum())
        pairs += len(ys)
    return edges / pairs if pairs else 1.0


def candidate_regions(image: np.ndarray) -> list[np.ndarray]:
    """Boolean masks of the regions of ``image`` that could be objects: the one object finder.
    The locator and a family's perception name them; remove, move, restyle and variation keep
    or avoid them (:func:`objects_mask`). A region is a connected region of one colour
    (:func:`label_regions`, touching pieces of one colour joined) that is

    * not a speck: ``MIN_AREA`` pixels at least;
    * not background: the regions of its colour cover at most ``MAX_AREA`` of the image together
      (a background is large, even where objects cut it in pieces, and a ring's hole shows its
      colour) unless none of them reaches the image's border (a background does; one object
      drawn large in the middle does not), and it does not span the image from one side to the
      other (a stripe);
    * not texture: its colour shows as at most ``MAX_PIECES`` regions (stripes, checks and dots
      repeat theirs many times; an object that another one cuts in two shows as two), or at most
      ``MAX_REPEATS`` of ``REPEATED_AREA`` px or more of which none reaches the image's border
      (several objects of one colour; a texture's repeats run off the edge, or are specks);
    * bounded by an edge: :func:`edge_share` at least ``EDGE_SHARE`` (a smooth gradient's pieces
      are not objects).
    """
    labels = _joined(image, label_regions(image))
    count = int(labels.max()) + 1
    areas = np.bincount(labels.ravel(), minlength=count)
    # Only regions of MIN_AREA px or more can be objects, or count as pieces of one's colour: a
    # noisy photo has tens of thousands of specks, and a table over all of them would not fit.
    big = np.flatnonzero(areas >= MIN_AREA)
    if not len(big):
        return []
    colours = region_medians(image, labels, count)[big] / 255.0
    same = np.ones((len(big), len(big)), dtype=bool)
    for channel in range(3):
        same &= np.abs(colours[:, None, channel] - colours[None, :, channel]) < TOLERANCE
    height, width = labels.shape
    border = np.zeros(count, dtype=bool)
    border[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = True
    pieces, bordering = same.sum(1), (same & border[big]).any(1)
    smallest = np.where(same, areas[big][None], areas.max()).min(1)
    repeated = (pieces <= MAX_REPEATS) & ~bordering & (smallest >= REPEATED_AREA)
    few = (pieces <= MAX_PIECES) | repeated
    small = (same @ areas[big] <= MAX_AREA * height * width) | ~bordering
    masks = []
    for label in big[few & small]:
        mask = labels == label
        rows, cols = mask.any(axis=1), mask.any(axis=0)
        if (rows[0] and rows[-1]) or (cols[0] and cols[-1]):
            continue
        masks.append(mask)
    return _bounded_by_edges(image, masks)


def region_medians(image: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """(count, 3) float: each label's median colour, as ``np.median(image[labels == k], 0)``
    gives it, in one sort per channel instead of a pass over the image per label."""
    flat = labels.ravel()
    sizes = np.bincount(flat, minlength=count)
    if (sizes == 0).any():
        raise ValueError("region_medians needs every label from 0 to count - 1 present")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    low, high = starts + (sizes - 1) // 2, starts + sizes // 2
    medians = np.empty((count, 3))
    for channel in range(3):
        values = image[..., channel].ravel().astype(np.float64)
        ordered = values[np.lexsort((values, flat))]
        medians[:, channel] = (ordered[low] + ordered[high]) / 2
    return medians


def _joined(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``labels`` with touching regions of one colour (medians within ``TOLERANCE``) made one:
    the grower stops where a pixel drifts from its region's mean colour, which can cut a model's
    shaded ring into arcs that touch; texture repeats its colour in pieces that do not touch."""
    count = int(labels.max()) + 1
    colours = region_medians(image, labels, count) / 255.0
    parent = np.arange(count)

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = int(parent[k])
        return k

    pairs = np.concatenate([
        np.stack([labels[:, 1:].ravel(), labels[:, :-1].ravel()], 1),
        np.stack([labels[1:].ravel(), labels[:-1].ravel()], 1),
    ])  # fmt: skip
    pairs = np.unique(pairs[pairs[:, 0] != pairs[:, 1]], axis=0)
    close = np.abs(colours[pairs[:, 0]] - colours[pairs[:, 1]]).max(-1) < TOLERANCE
    for a, b in pairs[close].tolist():
        parent[root(a)] = root(b)
    roots = np.array([root(k) for k in range(count)])
    return np.unique(roots, return_inverse=True)[1].reshape(-1)[labels]


def _bounded_by_edges(image: np.ndarray, masks: list[np.ndarray]) -> list[np.ndarray]:
    """The ``masks`` whose outline is an edge (:func:`edge_share`), not counting the stretches
    where they touch a region whose outline is an edge nearly all round."""
    shares = [edge_share(image, mask) for mask in masks]
    clear = [mask for mask, share in zip(masks, shares, strict=True) if share >= EDGE_CLEAR]
    cleared = np.any(np.stack(clear), axis=0) if clear else None
    return [
        mask
        for mask, share in zip(masks, shares, strict=True)
        if share >= EDGE_CLEAR or edge_share(image, mask, cleared) >= EDGE_SHARE
    ]


def objects_mask(image: np.ndarray) -> np.ndarray:
    """(H, W) bool: every pixel of the :func:`candidate_regions` of ``image``."""
    regions = candidate_regions(image)
    if not regions:
        return np.zeros(image.shape[:2], dtype=bool)
    return np.any(np.stack(regions), axis=0)


def touching(mask: np.ndarray, other: np.ndarray) -> bool:
    """Whether a pixel of ``mask`` is a 4-neighbour of (or one of) ``other``'s."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return bool((grown & other).any())


def piece_of(image: np.ndarray, mask: np.ndarray, other: np.ndarray) -> bool:
    """Whether region ``mask`` is a piece of the object ``other`` belongs to: they touch (4-way)
    and their mean colours lie within ``PIECE_COLOUR`` of each other. A model draws an object in
    two shades at times (two regions of one object); two objects of a scene differ in colour."""
    if not touching(mask, other):
        return False
    apart = np.linalg.norm(image[mask].mean(axis=0) - image[other].mean(axis=0))
    return bool(apart < PIECE_COLOUR)


def _hue(colour: np.ndarray) -> float | None:
    """Hue in degrees of an RGB colour (0-255); None when it is too grey to have one."""
    r, g, b = (float(c) for c in colour)
    high, low = max(r, g, b), min(r, g, b)
    if high - low < RIM_CHROMA:
        return None
    span = high - low
    if high == r:
        hue = (g - b) / span % 6
    elif high == g:
        hue = (b - r) / span + 2
    else:
        hue = (r - g) / span + 4
    return 60.0 * hue


def rim_of(image: np.ndarray, region: np.ndarray, mask: np.ndarray) -> bool:
    """Whether ``region`` is the rim of the object ``mask`` shows, drawn in another shade of its
    colour: it touches the object, is small beside it and has its hue (``RIM_*``)."""
    if region.sum() > RIM_SHARE * mask.sum() or (region & mask).any():
        return False
    if not touching(region, mask):
        return False
    hues = _hue(image[region].mean(axis=0)), _hue(image[mask].mean(axis=0))
    if hues[0] is None or hues[1] is None:
        return False
    apart = abs(hues[0] - hues[1]) % 360
    return min(apart, 360 - apart) <= RIM_HUE


def with_pieces(image: np.ndarray, mask: np.ndarray, regions: Sequence[np.ndarray]) -> np.ndarray:
    """``mask`` with every one of ``regions`` that is a :func:`piece_of` it."""
    found = mask.copy()
    for region in regions:
        if piece_of(image, region, mask):
            found |= region
    return found


# -- shapes ------------------------------------------------------------------------------------------
# The affine moment invariant I1 = (mu20 mu02 - mu11^2) / mu00^4 (Rosin, "Measuring shape:
# ellipticity, rectangularity, and triangularity", 2003) is the same for every ellipse, 1/(16 pi^2),
# every rectangle (and parallelogram), 1/144, and every triangle, 1/108, whatever its size, angle
# or stretch. Bounds measured on whole shapes drawn at 64 px (pixelation spreads them a little);
# between them a shape is not read.
SHAPE_BOUNDS = {"ellipse": (0.0060, 0.0067), "rectangle": (0.0067, 0.0076),
                "triangle": (0.0078, 0.0110)}  # fmt: skip
# Under this many pixels an outline misleads: of the world's objects showing 10-39 px (dev scenes
# 710000-712999, 64 px), it read the wrong shape as often as the right one or more (9/16, 11/19,
# 14/31 wrong); at 40-49 px 20 right to 10 wrong, from 60 px 87% right or more.
MIN_SHAPE_AREA = 40
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


def shape_agreement(
    regions: Sequence[np.ndarray], phrase: str, bonus: float,
    readings: Sequence[str | None] | None = None,
) -> np.ndarray:  # fmt: skip
    """Per region: ``bonus`` when its outline reads (:func:`read_shape`, or ``readings`` already
    made) as the shape ``phrase`` names, else 0; all 0 when it names none. One that reads as
    another shape loses nothing: an object half hidden behind another often does."""
    named = [word for word in re.findall(r"[a-z]+", phrase.lower()) if word in SHAPE_NAMES]
    if not named:
        return np.zeros(len(regions))
    if readings is None:
        readings = [read_shape(region) for region in regions]
    return np.array([bonus * (reading == named[-1]) for reading in readings])


def read_shape(mask: np.ndarray) -> str | None:
    """The shape a region's outline has, one of :data:`SHAPE_NAMES`, or None when it reads as
    none of them (an object half hidden behind another often does). A ring has a hole, or is
    spread round its centre as one even when another object cuts it open. A region under
    ``MIN_SHAPE_AREA`` px reads as none: so few pixels have no outline to speak of."""
    if mask.sum() < MIN_SHAPE_AREA:
        return None
    filled = fill_holes(mask)
    if filled.sum() - mask.sum() >= RING_HOLE * filled.sum():
        return "ring"
    value = moment_invariant(mask)
    if value >= RING_I1:
        return "ring"
    return next((name for name, (low, high) in SHAPE_BOUNDS.items() if low <= value < high), None)
