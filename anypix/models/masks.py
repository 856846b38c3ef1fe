"""Regions of small images (numpy): connected regions of similar colour, and hole filling.

The locator (:mod:`anypix.tools.locate`) finds objects with them; model families measure with
them (a ring's hole-filled mask is the region a blob for it should cover).
"""

from __future__ import annotations

from collections import deque

import numpy as np

TOLERANCE = 0.12  # neighbouring pixels closer than this (RGB in [0, 1], max channel) join a region


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


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every enclosed hole filled (a ring becomes a disc)."""
    outside = label_regions(np.where(mask, 255, 0).astype(np.uint8)[..., None].repeat(3, axis=2))
    border = set(
        np.unique(np.concatenate([outside[0], outside[-1], outside[:, 0], outside[:, -1]]))
    )
    reached = np.isin(outside, list(border)) & ~mask
    return ~reached


MIN_AREA, MAX_AREA = 12, 0.4  # a candidate object: pixels at least; fraction of the image at most


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
