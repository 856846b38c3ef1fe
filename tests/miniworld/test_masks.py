"""The one object finder and the shape of a region's outline (anypix.models.masks): what the
locator, the perception and the ops take for objects, measured on the miniworld's drawings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from anypix.models.masks import (
    MAX_PIECES,
    MIN_SHAPE_AREA,
    candidate_regions,
    label_regions,
    moment_invariant,
    objects_mask,
    read_shape,
    region_medians,
    rim_of,
    with_pieces,
)
from anypix.models.miniworld.data import (
    SHAPES,
    MiniObject,
    Scene,
    Style,
    random_object,
    random_scene,
    render,
    shape_mask,
)
from anypix.plan import Blob


def _object(colour: str, shape: str, cx: float, cy: float, a: float, angle: float = 30) -> MiniObject:
    blob = Blob(description="x", label=shape, cx=cx, cy=cy, a=a, b=a * 0.7, angle=angle)
    return MiniObject(colour, shape, "medium", blob)


@pytest.mark.parametrize("texture", ["stripes", "checker", "dots", "gradient", "noise", "flat"])
def test_objects_are_found_and_no_texture_or_hole_is(texture: str) -> None:
    ring = _object("purple", "ring", 0.3, 0.35, 0.2)
    square = _object("yellow", "rectangle", 0.72, 0.7, 0.16)
    image, index = render(Scene(1, Style("cool", texture, angle=30, period=0.25), (ring, square)))
    found = objects_mask(image)
    assert found[index >= 0].all()
    assert not found[index == -1].any()
    assert len(candidate_regions(image)) == 2


@pytest.mark.parametrize("texture", ["stripes", "checker", "dots", "gradient", "noise", "flat"])
def test_several_objects_of_one_colour_are_each_an_object(texture: str) -> None:
    """ "three yellow triangles": before, a colour in more than two pieces was texture, so the
    verifier found none of them."""
    shape = "triangle" if texture != "dots" else "ellipse"
    row = tuple(_object("yellow", shape, cx, 0.5, 0.11, angle=90) for cx in (0.22, 0.5, 0.78))
    image, index = render(Scene(1, Style("cool", texture, angle=30, period=0.25), row))
    regions = candidate_regions(image)
    assert len(regions) == 3
    assert objects_mask(image)[index >= 0].all() and not objects_mask(image)[index == -1].any()


def test_an_object_cut_in_two_by_another_is_still_an_object() -> None:
    ellipse = _object("red", "ellipse", 0.55, 0.55, 0.3)
    bar = MiniObject("orange", "rectangle", "large",
                     Blob(description="x", cx=0.55, cy=0.55, a=0.45, b=0.05, angle=90))  # fmt: skip
    image, index = render(Scene(1, Style("warm", "flat"), (ellipse, bar)))
    regions = candidate_regions(image)
    assert len(regions) == 3  # both halves of the ellipse, and the bar
    assert objects_mask(image)[index >= 0].all()


@pytest.mark.parametrize("texture", ["flat", "dots"])
def test_one_object_drawn_large_in_the_middle_is_an_object(texture: str) -> None:
    """What 'draw a green rectangle' draws: one blob over most of the canvas, its object covering
    more of it than a background piece may; the background reaches the border, the object does
    not."""
    square = MiniObject("green", "rectangle", "large",
                        Blob(description="x", cx=0.5, cy=0.5, a=0.42, b=0.4))  # fmt: skip
    image, index = render(Scene(1, Style("warm", texture, period=0.25), (square,)))
    assert (index == 0).mean() > 0.4
    regions = candidate_regions(image)
    assert len(regions) == 1
    assert (regions[0] == (index == 0)).mean() > 0.98


def test_a_noisy_object_does_not_leak_into_a_noisy_background() -> None:
    """A model's output: object and background both noisy, so a chain of small steps joins them;
    the region's mean colour stops it."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:64, 0:64]
    edge = np.hypot(xs - 32, ys - 32)
    disc = edge < 14
    blend = np.clip((edge - 12) / 5, 0, 1)[..., None]  # a soft edge: steps of a few levels
    image = (1 - blend) * np.array((140, 50, 200)) + blend * np.array((120, 118, 110))
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    labels = label_regions(image)
    centre = labels == labels[32, 32]
    assert centre.sum() < 0.25 * 64 * 64  # the disc, not the disc and the background
    assert centre[disc & (edge < 11)].mean() > 0.9


def test_a_noisy_ring_cut_into_touching_arcs_is_one_ring() -> None:
    """A model's noisy ring: the grower stops at pixels far from its region's mean, cutting the
    ring into arcs of one colour that touch; they are one object, not texture."""
    rng = np.random.default_rng(1)
    ys, xs = np.mgrid[0:64, 0:64]
    radius = np.hypot(xs - 30, ys - 34)
    ring = (radius > 9) & (radius < 16)
    image = np.where(ring[..., None], np.array((30, 65, 232.0)), np.array((190, 160, 135.0)))
    image = np.clip(image + rng.normal(0, 18, image.shape), 0, 255).astype(np.uint8)
    labels = label_regions(image)
    assert sum((labels == k).sum() > 20 for k in np.unique(labels[ring])) > MAX_PIECES
    regions = candidate_regions(image)
    assert len(regions) == 1 and read_shape(regions[0]) == "ring"
    assert (regions[0] & ring).sum() > 0.85 * ring.sum() and not (regions[0] & ~ring).any()


def test_a_steep_gradient_is_background_and_its_disc_an_object() -> None:
    """A photo's sky: the colour drifts across the picture, so the region grower cuts it into
    patches (each drifts from its mean colour), but no patch stands out from its surroundings."""
    ys, xs = np.mgrid[0:64, 0:64]
    disc = (xs - 40) ** 2 + (ys - 24) ** 2 < 150
    image = np.stack([xs * 4, ys * 4, np.where(disc, 230, 40)], -1).astype(np.uint8)
    assert int(label_regions(image).max()) + 1 > 4  # the gradient is cut into patches
    regions = candidate_regions(image)
    assert len(regions) == 1
    assert (regions[0] == disc).mean() > 0.98


def test_region_medians_are_each_regions_median() -> None:
    rng = np.random.default_rng(3)
    image = render(random_scene(7))[0]
    image = np.clip(image.astype(int) + rng.integers(-30, 31, image.shape), 0, 255).astype(np.uint8)
    labels = label_regions(image)
    count = int(labels.max()) + 1
    assert count > 50  # noise cuts the scene into many regions, of odd and even sizes
    expected = np.stack([np.median(image[labels == k], axis=0) for k in range(count)])
    assert np.array_equal(region_medians(image, labels, count), expected)


def test_a_noisy_photo_sized_picture_is_searched_in_bounded_memory() -> None:
    # Tens of thousands of one-pixel regions: a table of every pair of them took 92 GiB.
    rng = np.random.default_rng(0)
    image = (rng.random((256, 256, 3)) * 255).astype(np.uint8)
    assert int(label_regions(image).max()) > 50_000
    assert not objects_mask(image).any()
    image[100:160, 60:140] = (220, 30, 30)  # one flat red object on the noise
    (region,) = candidate_regions(image)
    # the block, and a few noise pixels next to it that happen to be near red
    assert region[100:160, 60:140].all() and region.sum() <= 60 * 80 * 1.01


def test_ideal_shapes_have_their_moment_invariant() -> None:
    """I1 is 1/(16 pi^2) for an ellipse, 1/144 for a rectangle, 1/108 for a triangle, whatever
    their size, angle or stretch (measured on large drawings, where pixels hardly matter)."""
    canvas = 512
    for angle in (0, 35, 80):
        drawn = {shape: shape_mask(_object("red", shape, 0.5, 0.5, 0.3, angle), canvas)
                 for shape in ("ellipse", "rectangle", "triangle")}  # fmt: skip
        assert moment_invariant(drawn["ellipse"]) == pytest.approx(1 / (16 * math.pi**2), rel=0.01)
        assert moment_invariant(drawn["rectangle"]) == pytest.approx(1 / 144, rel=0.01)
        assert moment_invariant(drawn["triangle"]) == pytest.approx(1 / 108, rel=0.01)


def test_whole_shapes_read_as_what_they_are() -> None:
    rng = np.random.default_rng(5)
    right = wrong = 0
    for shape in SHAPES:
        for _ in range(40):
            mask = shape_mask(random_object(rng, shape=shape), 64)
            read = read_shape(mask)
            right += read == shape
            wrong += read is not None and read != shape
    assert right >= 0.95 * 4 * 40 and wrong <= 2


def test_a_ring_cut_open_by_another_object_still_reads_as_a_ring() -> None:
    hits = []
    for seed in range(100_000, 100_400):
        scene = random_scene(seed, min_objects=2, max_objects=3)
        _, index = render(scene)
        for k, obj in enumerate(scene.objects):
            visible = index == k
            whole = shape_mask(obj, 64)
            if obj.shape == "ring" and MIN_SHAPE_AREA <= visible.sum() < 0.9 * whole.sum():
                hits.append(read_shape(visible) == "ring")
    assert len(hits) >= 5 and np.mean(hits) >= 0.9, (len(hits), np.mean(hits))


def test_a_touching_region_of_a_near_colour_is_a_piece_of_the_object() -> None:
    """A model draws an object in two shades at times: the darker half joins it, a touching
    object of another colour and a far-off region of the same colour do not."""
    image = np.zeros((16, 16, 3), dtype=np.uint8)
    light, dark, other, apart = (np.zeros((16, 16), dtype=bool) for _ in range(4))
    light[2:8, 2:6], dark[2:8, 6:9], other[8:12, 2:6], apart[13:15, 12:15] = True, True, True, True
    image[light], image[dark] = (40, 170, 60), (45, 135, 90)  # 46 apart in RGB
    image[other], image[apart] = (150, 60, 200), (40, 170, 60)
    found = with_pieces(image, light, [light, dark, other, apart])
    assert np.array_equal(found, light | dark)


def test_a_small_touching_region_of_the_objects_hue_is_its_rim() -> None:
    """A darker edge of the object's own hue (110 apart in RGB, too far for a piece) is its rim;
    a touching region of the nearest other hue of the palette, a large one of its hue and a
    grey one are not."""
    image = np.full((16, 16, 3), 240, dtype=np.uint8)
    body, edge, orange, big, grey = (np.zeros((16, 16), dtype=bool) for _ in range(5))
    body[2:12, 4:12], edge[2:12, 2:4], orange[12:14, 4:8] = True, True, True
    big[2:12, 12:16], grey[12:14, 8:12] = True, True
    image[body], image[edge] = (13, 50, 254), (62, 68, 154)
    image[orange], image[grey], image[big] = (245, 140, 20), (120, 120, 130), (30, 60, 200)
    assert rim_of(image, edge, body)
    assert not rim_of(image, orange, body) and not rim_of(image, grey, body)
    assert not rim_of(image, big, body)  # half its size: an object of its own
    yellow = image.copy()
    yellow[body], yellow[orange] = (240, 220, 40), (245, 140, 20)  # 22 degrees apart
    assert not rim_of(yellow, orange, body)


def test_a_region_too_small_for_an_outline_reads_as_no_shape() -> None:
    """A 15-px sliver of a ring's inner rim read as a triangle, and the locator asked which
    triangle was meant, the sliver or the real one beside it."""
    sliver = np.zeros((64, 64), dtype=bool)
    sliver[30:35, 19:22] = True  # 15 px
    assert read_shape(sliver) is None
    whole = shape_mask(_object("red", "triangle", 0.5, 0.5, 0.12, 0), 64)
    assert whole.sum() >= MIN_SHAPE_AREA and read_shape(whole) == "triangle"
