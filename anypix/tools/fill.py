"""Background continuation without a model: fill a hole in an image with what is around it.

Remove and move empty a region of the [base]. Before any model redraws it, the hole is filled
with the background that continues around it, so whatever the model does there starts from (and
falls back to) a plausible background rather than from the object:

1. **shift fill** (one global offset, as in shift-map inpainting): the hole is copied from the
   same image shifted by the offset ``d`` whose shifted copy matches a band of pixels round the
   hole best. The copy must come from pixels outside the hole, and from colours the band itself
   shows (an offset that would copy another object is penalised). On the textures a scene's
   background has -- flat, gradients, stripes, checks, dots, smooth noise -- some shift along the
   texture's period or its level lines continues it exactly.
2. **period fill** when no one offset fits (a hole as tall as the picture, or wider than any
   stretch of background beside it): the offsets under which the background repeats itself --
   its periods, found as offsets whose copy of the background differs from it little more than
   the best one's (``PERIOD_SLACK``; a masked autocorrelation, not the band) -- and each hole
   pixel is copied through the best of them whose source is background. A dotted or striped
   background continues dot for dot, as the statistics of patch offsets suggest (He and Sun,
   2012: the few dominant offsets of an image complete it), with a per-pixel choice in place of
   their graph cut;
3. **harmonic fill** for what is left (a background with no period, or pixels every period
   leads into the hole or another object): each hole pixel becomes the mean of its neighbours,
   solved by Jacobi iterations from the band's median.

All sums over offsets are cross-correlations, computed with FFTs, so a 64x64 image takes a few
milliseconds. Pure numpy; images are (H, W, 3) uint8, masks (H, W) bool.
"""

from __future__ import annotations

import numpy as np

from anypix.models.masks import objects_mask

BAND = 3  # px round the hole that the shifted copy must match
FOREIGN_WEIGHT = 4.0  # how much copying colours the band does not show costs, per pixel
FOREIGN_COLOURS = 96  # band pixels kept as the palette a copy may use
DISTANCE_WEIGHT = 1e-3  # prefers the nearest of equally good offsets
JACOBI_ITERATIONS = 300
SEAM = 48  # 0-255: a copy's mismatch with the rim up to this is a seam, smoothed away
# A period: an offset of at least MIN_PERIOD px whose copy of the background differs from it by no
# more than PERIOD_SLACK times the best such offset's mean squared difference, or PERIOD_CAP,
# whichever is more (shorter offsets match any smooth texture, and say nothing of its period).
# The cap (over the three channels, 0-1 each: about 25/255 a channel) admits a sharp texture's
# near periods, a pixel off its true, fractional one: a texture drawn exactly may repeat exactly
# one way only (down), where a hole as tall as the picture cannot copy from.
MIN_PERIOD = 3
PERIOD_SLACK = 2.0
PERIOD_CAP = 0.04
MAX_PERIODS = 64  # the best periods tried, per pixel in order
MULTIPLES = 3  # ... then twice and three times each
RIM = 2  # px round the hole and the other objects that a period fill neither reads nor copies


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` grown by a disk of ``radius`` pixels."""
    grown = mask.copy()
    height, width = mask.shape
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            if dx * dx + dy * dy > radius * radius:
                continue
            grown[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] |= mask[
                max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
            ]
    return grown


def shift(array: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``array`` moved by (dy, dx) pixels; what comes in from outside is zero."""
    moved = np.zeros_like(array)
    height, width = array.shape[:2]
    if abs(dy) >= height or abs(dx) >= width:
        return moved
    moved[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = array[
        max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
    ]
    return moved


def continue_background(
    image: np.ndarray, hole: np.ndarray, objects: np.ndarray | None = None
) -> np.ndarray:
    """``image`` with the pixels of ``hole`` filled by the background around them; ``objects``
    is the image's :func:`~anypix.models.masks.objects_mask` when the caller has it already."""
    if not hole.any():
        return image.copy()
    if hole.all():
        raise ValueError("the hole covers the whole image: there is no background to continue")
    objects = objects_mask(image) if objects is None else objects
    avoid = objects & ~hole  # the other objects: never matched nor copied
    offset = best_offset(image, hole, avoid)
    if offset is None:
        filled, left = period_fill(image, hole, avoid)
        return harmonic_fill(filled, left, avoid) if left.any() else filled
    pixels = image.astype(np.float64)
    height, width = hole.shape
    ys, xs = np.nonzero(hole)
    copied = pixels.copy()
    copied[ys, xs] = pixels[ys + offset[0], xs + offset[1]]
    # Poisson blending: the copy's mismatch with the background rim, spread smoothly over the
    # hole, is added back, so a copy of a smooth background meets its surroundings seamlessly.
    ry, rx = np.nonzero(dilate(hole, 1) & ~hole & ~avoid)
    ty, tx = ry + offset[0], rx + offset[1]
    partner = (ty >= 0) & (ty < height) & (tx >= 0) & (tx < width)
    ry, rx, ty, tx = ry[partner], rx[partner], ty[partner], tx[partner]
    difference = pixels[ry, rx] - pixels[ty, tx]
    small = np.abs(difference).max(-1) <= SEAM  # a larger one is an edge, not a seam
    mismatch = np.zeros_like(pixels)
    mismatch[ry[small], rx[small]] = difference[small]
    unknown = np.zeros_like(hole)
    unknown[ry[~small], rx[~small]] = True
    correction = _harmonic(mismatch, hole | (dilate(hole, 1) & avoid) | unknown)
    copied[hole] += correction[hole]
    return np.clip(copied.round(), 0, 255).astype(np.uint8)


def _correlate(f: np.ndarray, g: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``c[d] = sum_p f[p] g[p + d]`` for every offset d (linear, not circular), indexed
    ``c[dy % H2, dx % W2]`` on the doubled canvas ``shape``."""
    spectrum = np.conj(np.fft.rfft2(f, shape)) * np.fft.rfft2(g, shape)
    return np.fft.irfft2(spectrum, shape)


def _squared_differences(
    pixels: np.ndarray, first: np.ndarray, second: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """``s[d] = sum_p first[p] second[p + d] |pixels[p] - pixels[p + d]|^2`` for every offset d
    (indexed as :func:`_correlate`): the squares expanded into three correlations."""
    energy = (pixels**2).sum(-1)
    ssd = _correlate(first * energy, second, shape) + _correlate(first, second * energy, shape)
    for channel in range(3):
        ssd -= 2 * _correlate(first * pixels[..., channel], second * pixels[..., channel], shape)
    return ssd


def best_offset(
    image: np.ndarray, hole: np.ndarray, avoid: np.ndarray | None = None
) -> tuple[int, int] | None:
    """The (dy, dx) whose copy ``image[p + d]`` fills ``hole`` best, or None if none fits.
    Pixels of ``avoid`` (other objects) are neither matched nor copied."""
    pixels = image.astype(np.float64) / 255.0
    height, width = hole.shape
    shape = (2 * height, 2 * width)
    avoid = np.zeros_like(hole) if avoid is None else avoid
    band = dilate(hole, BAND) & ~hole & ~avoid
    if not band.any():
        return None
    valid = (~hole & ~avoid).astype(np.float64)  # where a copy may come from (off-canvas: 0)
    band_f, hole_f = band.astype(np.float64), hole.astype(np.float64)
    # Copies that reach into the hole, another object or off the canvas are refused.
    reaches_hole = _correlate(hole_f, 1.0 - valid, shape)
    inside = _correlate(hole_f, np.ones_like(valid), shape)
    # Mean squared difference over the band pixels whose shifted partner is valid.
    overlap = _correlate(band_f, valid, shape)
    ssd = _squared_differences(pixels, band_f, valid, shape)
    # Copying colours the band does not show (another object) costs per pixel copied.
    palette = pixels[band][:: max(1, int(band.sum()) // FOREIGN_COLOURS)]
    foreign = np.sqrt(((pixels[:, :, None] - palette[None, None]) ** 2).sum(-1)).min(-1)
    foreign_cost = _correlate(hole_f, foreign, shape) / hole_f.sum()
    dy = np.fft.fftfreq(shape[0], 1 / shape[0]).astype(int)[:, None]
    dx = np.fft.fftfreq(shape[1], 1 / shape[1]).astype(int)[None, :]
    score = ssd / np.maximum(overlap, 1e-9) + FOREIGN_WEIGHT * foreign_cost
    score += DISTANCE_WEIGHT * (dy**2 + dx**2)
    fits = (reaches_hole < 0.5) & (inside > hole_f.sum() - 0.5) & (overlap >= 0.5 * band.sum())
    fits &= (dy != 0) | (dx != 0)
    if not fits.any():
        return None
    best = np.unravel_index(np.argmin(np.where(fits, score, np.inf)), score.shape)
    return int(dy[best[0], 0]), int(dx[0, best[1]])


def periods(image: np.ndarray, background: np.ndarray) -> list[tuple[int, int]]:
    """The offsets (dy, dx) under which the ``background`` pixels of ``image`` repeat themselves
    (see ``PERIOD_SLACK``), best first, then twice and three times each (``MULTIPLES``); []
    when there is too little background to tell."""
    pixels = image.astype(np.float64) / 255.0
    height, width = background.shape
    shape = (2 * height, 2 * width)
    valid = background.astype(np.float64)
    overlap = _correlate(valid, valid, shape)
    ssd = _squared_differences(pixels, valid, valid, shape)
    dy = np.fft.fftfreq(shape[0], 1 / shape[0]).astype(int)[:, None]
    dx = np.fft.fftfreq(shape[1], 1 / shape[1]).astype(int)[None, :]
    apart = dy**2 + dx**2 >= MIN_PERIOD**2
    enough = apart & (overlap >= 0.25 * valid.sum())  # the copy overlaps a quarter of it at least
    if not enough.any():
        return []
    score = np.where(enough, ssd / np.maximum(overlap, 1e-9), np.inf)
    cut = max(PERIOD_SLACK * float(score.min()), PERIOD_CAP)
    rows, cols = np.nonzero(score <= cut)
    # best first; of equal ones the shortest (a copy from nearby shares its light)
    order = np.lexsort((dy[rows, 0] ** 2 + dx[0, cols] ** 2, score[rows, cols]))[:MAX_PERIODS]
    found = [(int(dy[rows[k], 0]), int(dx[0, cols[k]])) for k in order]
    # then twice and three times each: a hole wider than a period copies from further off
    return found + [(times * y, times * x) for times in range(2, MULTIPLES + 1) for y, x in found]


def period_fill(
    image: np.ndarray, hole: np.ndarray, avoid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(``image`` with the hole pixels it could fill copied through the background's periods,
    the hole pixels left): each pixel takes the first period (:func:`periods`, multiples last)
    whose source is background."""
    out = image.copy()
    left = hole.copy()
    source = ~dilate(hole | avoid, RIM)  # not the objects' rims either: their colours bleed
    height, width = hole.shape
    for dy, dx in periods(image, source):
        ys, xs = np.nonzero(left)
        if not len(ys):
            break
        ty, tx = ys + dy, xs + dx
        inside = (ty >= 0) & (ty < height) & (tx >= 0) & (tx < width)
        ok = np.zeros_like(inside)
        ok[inside] = source[ty[inside], tx[inside]]
        out[ys[ok], xs[ok]] = image[ty[ok], tx[ok]]
        left[ys[ok], xs[ok]] = False
    return out, left


def harmonic_fill(
    image: np.ndarray, hole: np.ndarray, avoid: np.ndarray | None = None
) -> np.ndarray:
    """The hole filled smoothly from its rim: each pixel the mean of its four neighbours. Pixels
    of ``avoid`` (other objects) are solved for too, not held, so the background alone is the
    rim: an object the hole's own object hid part of does not bleed into the fill."""
    free = hole if avoid is None or (hole | avoid).all() else hole | avoid
    filled = _harmonic(image.astype(np.float64), free)
    out = image.copy()
    out[hole] = np.clip(filled[hole].round(), 0, 255).astype(np.uint8)
    return out


def _harmonic(values: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """(H, W, C) ``values`` with the hole solved for a harmonic function (Jacobi iterations,
    started from the rim's median) that meets the values round it."""
    values = values.copy()
    band = dilate(hole, 1) & ~hole
    values[hole] = np.median(values[band], axis=0) if band.any() else values[~hole].mean(0)
    for _ in range(JACOBI_ITERATIONS):
        padded = np.pad(values, ((1, 1), (1, 1), (0, 0)), mode="edge")
        mean = (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]) / 4
        values[hole] = mean[hole]
    return values
