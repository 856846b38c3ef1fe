"""The plan drawn over an image: each blob's ellipse and each box, in its own colour.

Pure PIL (no Textual), so it can be checked pixel by pixel. Geometry follows :mod:`anypix.plan`:
centres are fractions of the width and height, radii fractions of the shorter side, angles in
degrees from +x towards +y (clockwise on screen).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from anypix.plan import Blob, EditPlan

# Colours that stay apart on photos and on the grey placeholder canvas; the legend names them.
PALETTE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("red", (255, 64, 64)),
    ("cyan", (0, 220, 255)),
    ("yellow", (255, 220, 0)),
    ("magenta", (255, 0, 220)),
    ("green", (64, 255, 64)),
    ("orange", (255, 150, 0)),
)
MIN_SIDE = 256  # small renders (64 px) are enlarged first so the outlines stay thin
PLACEHOLDER_GREY = (48, 48, 48)
FILL_ALPHA = 96  # of 255: the image stays visible under a blob


def ellipse_points(
    blob: Blob, width: int, height: int, count: int = 96
) -> list[tuple[float, float]]:
    """``count`` points on the blob's tilted ellipse, in pixels of a ``width`` x ``height`` canvas."""
    side = min(width, height)
    cx, cy = blob.cx * width, blob.cy * height
    a, b, t = blob.a * side, blob.b * side, math.radians(blob.angle)
    points = []
    for k in range(count):
        s = 2 * math.pi * k / count
        u, v = a * math.cos(s), b * math.sin(s)
        points.append(
            (cx + u * math.cos(t) - v * math.sin(t), cy + u * math.sin(t) + v * math.cos(t))
        )
    return points


def colour_of(index: int) -> tuple[str, tuple[int, int, int]]:
    return PALETTE[index % len(PALETTE)]


def draw_plan(canvas: Image.Image | None, plan: EditPlan) -> Image.Image:
    """A copy of ``canvas`` (or a grey canvas of the plan's size) with the plan's blobs tinted
    and outlined in ``PALETTE`` order, then its boxes outlined in the colours that follow."""
    if canvas is None:
        width, height = plan.canvas((256, 256))
        image = Image.new("RGB", (width, height), PLACEHOLDER_GREY)
    else:
        image = canvas.convert("RGB")  # convert copies, so the caller's image is untouched
    scale = max(1, math.ceil(MIN_SIDE / max(1, min(image.size))))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    # Previews shrink the image to a few terminal cells, where a thin outline averages away
    # into the background; a translucent fill survives the shrinking, the outline sharpens it.
    # One layer per shape, so overlapping blobs both show.
    drawn = image.convert("RGBA")
    line = max(3, min(image.size) // 40)
    for index, blob in enumerate(plan.blobs):
        layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        points = ellipse_points(blob, image.width, image.height)
        colour = colour_of(index)[1]
        draw.polygon(points, fill=(*colour, FILL_ALPHA))
        draw.line([*points, points[0]], fill=(*colour, 255), width=line, joint="curve")
        drawn = Image.alpha_composite(drawn, layer)
    outlines = ImageDraw.Draw(drawn)
    for offset, box in enumerate(plan.boxes, start=len(plan.blobs)):
        corners = (box.x0 * image.width, box.y0 * image.height,
                   box.x1 * image.width, box.y1 * image.height)  # fmt: skip
        outlines.rectangle(corners, outline=(*colour_of(offset)[1], 255), width=line)
    return drawn.convert("RGB")


def legend(plan: EditPlan) -> list[tuple[str, str, tuple[int, int, int]]]:
    """(kind and label, description, colour) for every shape :func:`draw_plan` draws."""
    rows = [(f"blob {b.label}", b.description, colour_of(i)[1]) for i, b in enumerate(plan.blobs)]
    start = len(plan.blobs)
    rows += [("box", box.phrase, colour_of(start + i)[1]) for i, box in enumerate(plan.boxes)]
    return rows
