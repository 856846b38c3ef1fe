"""The plan overlay draws each blob's tilted ellipse and each box where the plan puts them."""

from __future__ import annotations

import math

from PIL import Image

from anypix.plan import Blob, Box, EditPlan, Op
from anypix.tui.overlay import PALETTE, PLACEHOLDER_GREY, draw_plan, ellipse_points, legend

RED, CYAN = PALETTE[0][1], PALETTE[1][1]


def plan_with(blobs: list[Blob], boxes: list[Box] | None = None) -> EditPlan:
    return EditPlan(gen="shapes", ops=[Op(op="generate")], blobs=blobs, boxes=boxes or [])


def test_ellipse_points_follow_centre_radii_and_angle() -> None:
    blob = Blob(description="a log", cx=0.5, cy=0.5, a=0.25, b=0.125, angle=90)
    points = ellipse_points(blob, 200, 100, count=4)
    # the shorter side is 100 px: a = 25 px, b = 12.5 px; at 90 degrees the major axis is vertical
    expected = [(100, 75), (87.5, 50), (100, 25), (112.5, 50)]
    for (x, y), (ex, ey) in zip(points, expected, strict=True):
        assert math.isclose(x, ex, abs_tol=1e-9) and math.isclose(y, ey, abs_tol=1e-9)


def test_blobs_are_tinted_and_outlined_and_boxes_outlined_on_an_enlarged_copy() -> None:
    base = Image.new("RGB", (64, 64), (10, 10, 10))
    blob = Blob(description="a red ball", cx=0.25, cy=0.5, a=0.125, b=0.125)
    box = Box(phrase="a blue box", x0=0.5, y0=0.25, x1=0.875, y1=0.75)
    drawn = draw_plan(base, plan_with([blob], [box]))

    assert base.getpixel((16, 32)) == (10, 10, 10)  # the caller's image is untouched
    assert drawn.size == (256, 256)  # small renders are enlarged so outlines stay thin
    assert drawn.getpixel((96, 128)) == RED  # the circle's right edge: 64 + 0.125 * 256
    centre = drawn.getpixel((64, 128))  # inside: the image tinted with the blob's colour
    assert centre != (10, 10, 10) and centre[0] > centre[1] and centre[0] < RED[0]
    assert drawn.getpixel((64, 20)) == (10, 10, 10)  # outside the blob: the image as it was
    assert drawn.getpixel((128, 128)) == CYAN  # the box's left edge
    assert drawn.getpixel((180, 128)) == (10, 10, 10)  # the box's inside
    assert [(kind, colour) for kind, _, colour in legend(plan_with([blob], [box]))] == [
        ("blob red_ball", RED),
        ("box", CYAN),
    ]


def test_without_an_image_the_plan_is_drawn_on_a_grey_canvas_of_its_size() -> None:
    plan = plan_with([Blob(description="a moon", cx=0.5, cy=0.5, a=0.25, b=0.25)])
    drawn = draw_plan(None, plan)
    assert drawn.size == (256, 256) and drawn.getpixel((5, 5)) == PLACEHOLDER_GREY
    assert drawn.getpixel((128 + 64, 128)) == RED


def test_overlapping_blobs_both_show() -> None:
    left = Blob(description="a cat", cx=0.4, cy=0.5, a=0.25, b=0.25)
    right = Blob(description="a dog", cx=0.6, cy=0.5, a=0.25, b=0.25)
    drawn = draw_plan(Image.new("RGB", (256, 256), (0, 0, 0)), plan_with([left, right]))
    only_left, both, only_right = (drawn.getpixel((x, 128)) for x in (60, 128, 180))
    assert only_left[0] > only_left[1] and only_left[0] > only_left[2]  # the red tint
    assert only_right[0] == 0 and only_right[2] > 0  # the cyan tint, which has no red
    assert both[0] > 0 and both[2] > only_left[2]  # red still shows under the cyan
