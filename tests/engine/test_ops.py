"""Each op is an operation on the [base] (anypix.tools.ops, docs/ops.md): the background
continuation that remove and move empty regions with, what each op does to the [base] before the
model sees it, and renders with the miniworld model (its shipped v1 weights, which never learnt
an empty region) and the tiny random preset."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from anypix.models.masks import objects_mask
from anypix.models.miniworld.data import MiniObject, Scene, Style, colour_mask, render
from anypix.models.miniworld.metrics import object_pixels
from anypix.plan import Blob, EditPlan, Knobs, Op
from anypix.tools.choose import techniques_for
from anypix.tools.fill import best_offset, continue_background, dilate, harmonic_fill, shift
from anypix.tools.locate import ellipse_of, fill_holes
from anypix.tools.ops import (
    HOLE_GROW,
    KeepEdited,
    PrepareBase,
    edit_base,
    object_mask,
    paired_regions,
    recolour,
    recolour_rim,
)
from anypix.tools.render import render as render_plan
from anypix.tools.techniques import Grounding, InvertBase


def _object(colour: str, shape: str, cx: float, cy: float, a: float = 0.16) -> MiniObject:
    blob = Blob(description=f"a {colour} {shape}", label=shape, cx=cx, cy=cy, a=a, b=a * 0.7,
                angle=30)  # fmt: skip
    return MiniObject(colour, shape, "medium", blob)


RING = _object("purple", "ring", 0.3, 0.35, a=0.2)
SQUARE = _object("yellow", "rectangle", 0.72, 0.7)
SCENE = Scene(7, Style("cool", "stripes", angle=30, period=0.25), (RING, SQUARE))


def _scene(*objects: MiniObject, style: Style = SCENE.style) -> np.ndarray:
    return render(Scene(7, style, objects))[0]


def _located(colour: str, description: str, label: str) -> Blob:
    """The blob the locator fits round an object of SCENE (its moment ellipse, grown)."""
    _, index = render(SCENE)
    obj = next(i for i, o in enumerate(SCENE.objects) if o.colour == colour)
    return ellipse_of(index == obj, description).model_copy(update={"label": label})


def _plan(op: str, target: str, *blobs: Blob, seed: int = 1) -> EditPlan:
    return EditPlan(base="scene", gen=target, ops=[Op(op=op, target=target)], blobs=list(blobs),
                    knobs=Knobs(seed=seed))  # fmt: skip


# -- background continuation ----------------------------------------------------------------------


@pytest.mark.parametrize("texture", ["flat", "gradient", "stripes", "checker", "dots", "noise"])
def test_a_removed_object_leaves_the_background_that_continues_round_it(texture: str) -> None:
    style = Style("earth", texture, angle=60, period=0.22)
    image, index = render(Scene(1, style, (RING, SQUARE)))
    truth = _scene(SQUARE, style=style)
    hole = dilate(index == 0, 1)
    filled = continue_background(image, hole)
    assert np.array_equal(filled[~hole], image[~hole])  # only the hole changes
    assert not object_pixels(filled)[hole].any()  # no object colour copied in, not even yellow
    error = np.abs(filled[hole].astype(int) - truth[hole]).mean()
    assert error < 12, f"{texture}: {error:.1f} from the true background"


@pytest.mark.parametrize("texture", ["stripes", "checker", "dots"])
def test_a_hole_as_tall_as_the_picture_continues_the_texture_through_its_periods(
    texture: str,
) -> None:
    """No one offset copies a hole that spans the picture's height beside another object: the
    background's periods fill it pixel by pixel, where the harmonic fill smooths it to grey."""
    tall = MiniObject("yellow", "rectangle", "large",
                      Blob(description="x", cx=0.62, cy=0.5, a=0.56, b=0.16, angle=90))  # fmt: skip
    ring = MiniObject(
        "purple", "ring", "large", Blob(description="r", cx=0.2, cy=0.5, a=0.2, b=0.2)
    )
    errors, smooth = [], []
    for period in (0.15, 0.22):
        style = Style("earth", texture, angle=60, period=period)
        image, index = render(Scene(1, style, (ring, tall)))
        truth = render(Scene(1, style, (ring,)))[0]
        hole = dilate(index == 1, 1)
        others = objects_mask(image) & ~hole
        assert best_offset(image, hole, others) is None  # the case this fill is for
        filled = continue_background(image, hole)
        assert np.array_equal(filled[~hole], image[~hole])
        assert not object_pixels(filled)[hole].any()  # neither the ring nor the rectangle's rim
        errors.append(np.abs(filled[hole].astype(int) - truth[hole]).mean())
        smooth.append(
            np.abs(harmonic_fill(image, hole, others)[hole].astype(int) - truth[hole]).mean()
        )
    assert all(e < 0.5 * s for e, s in zip(errors, smooth, strict=True)), (errors, smooth)
    assert np.mean(errors) < 12, errors


def test_objects_are_told_from_texture_by_their_colour_not_repeating() -> None:
    image, index = render(Scene(1, Style("mono", "checker", period=0.3), (RING, SQUARE)))
    found = objects_mask(image)
    assert found[index >= 0].all()  # the ring and the square, and not the ring's hole
    assert not found[index == -1].any()  # the checks repeat: background


# -- what each op does to the [base] --------------------------------------------------------------


def test_blobs_pair_with_ops_in_order_or_not_at_all() -> None:
    ring, square = _located("purple", "background", "ring"), _located("yellow", "x", "square")
    two = EditPlan(base="scene", ops=[Op(op="remove", target="the ring"),
                                      Op(op="add", target="a cat")], blobs=[ring, square])  # fmt: skip
    assert paired_regions(two) == [(two.ops[0], (ring,)), (two.ops[1], (square,))]
    assert paired_regions(_plan("move", "the ring left", ring, square)) is not None
    assert paired_regions(_plan("move", "the ring left", ring)) is None  # not located yet
    assert paired_regions(two.model_copy(update={"blobs": [ring]})) is None
    # unpaired plans keep the plain keep-outside edit, and a lone unpaired removal draws nothing
    assert [type(t) for t in techniques_for(two)] == [PrepareBase, InvertBase, KeepEdited,
                                                      Grounding]  # fmt: skip


def test_an_added_shape_is_redrawn_where_the_model_paints_it_corners_and_all() -> None:
    """A model that conditions a blob on its shape's silhouette draws a rectangle's corners past
    the ellipse: those pixels are redrawn too, else they stay the [base]'s and round it off."""
    from anypix.models.miniworld.data import shape_in_blob
    from anypix.models.miniworld.model import silhouettes

    base = _scene(RING)
    blob = Blob(description="a cyan rectangle", label="box", cx=0.7, cy=0.7, a=0.2, b=0.2)
    plan = _plan("add", "a cyan rectangle", blob)
    ellipse, square = blob.mask(64, 64), shape_in_blob("rectangle", blob, 64, 64)
    corners = square & ~ellipse
    assert corners.sum() > 20
    plain = edit_base(plan, base)
    assert plain is not None and np.array_equal(plain.region, ellipse)

    def painted(b: Blob, width: int, height: int) -> np.ndarray:
        return silhouettes([b], height, width)[0].numpy()

    shaped = edit_base(plan, base, painted)
    assert shaped is not None and shaped.fresh[corners].all()
    assert np.array_equal(shaped.region, ellipse | square)


def test_remove_fills_the_object_with_background_and_redraws_only_there() -> None:
    base, index = render(SCENE)
    edit = edit_base(_plan("remove", "the ring", _located("purple", "background", "ring")), base)
    assert edit is not None
    ring = index == 0
    # the ring and its soft rim, not its hole: the hole's middle shows the background already
    assert edit.region[ring].all() and not (edit.region & ~dilate(ring, HOLE_GROW)).any()
    middle = fill_holes(ring) & ~dilate(ring, HOLE_GROW)
    assert middle.sum() > 20 and not edit.region[middle].any()
    assert not colour_mask(edit.image, "purple").any()
    assert np.array_equal(edit.image[~edit.region], base[~edit.region])
    assert not edit.fresh.any()  # nothing new: the empty region starts from the fill


def test_recolor_segments_the_object_and_keeps_its_hole() -> None:
    base, index = render(SCENE)
    blob = _located("purple", "a green ring", "ring")
    assert np.array_equal(object_mask(base, blob), index == 0)  # the ring's pixels, hole open
    edit = edit_base(_plan("recolor", "the ring green", blob), base)
    assert edit is not None and len(edit.recolored) == 1
    shape, inside = edit.recolored[0]
    assert np.array_equal(shape, index == 0) and inside[shape].all()


@pytest.mark.parametrize("texture", ["flat", "stripes", "dots", "noise"])
def test_a_recoloured_soft_edge_takes_the_new_colour_and_keeps_the_background(
    texture: str,
) -> None:
    """Drawn at 256 px and box-shrunk to 64, a red ring's edge mixes red and background; its
    recolour to green must mix green and background the same way (the ring drawn green, shrunk
    alike), not keep a red fringe."""

    def soft(*objects: MiniObject) -> np.ndarray:
        big = render(Scene(1, style, objects), 256)[0]
        return np.asarray(Image.fromarray(big).resize((64, 64), Image.Resampling.BOX))

    style = Style("earth", texture, angle=60, period=0.22)
    red = _object("red", "ring", 0.35, 0.45, a=0.25)
    base, truth = soft(red, SQUARE), soft(MiniObject("green", "ring", "large", red.blob), SQUARE)
    blob = ellipse_of(render(Scene(1, style, (red, SQUARE)))[1] == 0, "a green ring")
    shape, inside = object_mask(base, blob), blob.mask(64, 64)
    green = np.median(truth[shape].astype(float), axis=0)
    out = base.copy()
    out[shape] = recolour(base, shape, green)
    before = out.copy()
    rim, pixels = recolour_rim(base, shape, green, inside)
    out[rim] = pixels
    edge = dilate(shape, 2) & ~shape & inside
    kept, fixed = (np.abs(o[edge].astype(int) - truth[edge]).mean() for o in (before, out))
    assert rim.sum() > 30 and fixed < 6 and fixed < 0.5 * kept, (rim.sum(), kept, fixed)
    assert np.array_equal(out[~rim & ~shape], base[~rim & ~shape])  # nothing else moves


def test_move_pastes_the_object_itself_and_empties_its_old_place() -> None:
    base, index = render(SCENE)
    was = _located("purple", "background", "was")
    goes = was.model_copy(update={"cx": was.cx + 0.3125, "description": "a ring", "label": "goes"})
    edit = edit_base(_plan("move", "the ring to the right", was, goes), base)
    assert edit is not None
    ring = index == 0
    moved = shift(ring, 0, 20)  # 0.3125 of 64 px
    assert np.array_equal(edit.image[moved], shift(base, 0, 20)[moved])  # its own pixels
    assert not (edit.region & moved).any()  # the pasted object is not redrawn
    assert not colour_mask(edit.image, "purple")[ring & ~moved].any()


def test_the_objects_a_restyle_keeps_include_one_cut_in_two_and_no_texture() -> None:
    ellipse = _object("red", "ellipse", 0.55, 0.55, a=0.3)
    bar = MiniObject("orange", "rectangle", "large",
                     Blob(description="x", cx=0.38, cy=0.55, a=0.4, b=0.05, angle=90))  # fmt: skip
    image, index = render(Scene(1, Style("warm", "flat"), (ellipse, bar)))
    kept = objects_mask(image)  # the bar cuts a sliver off the ellipse: two red regions
    assert kept[index >= 0].all() and not kept[index == -1].any()
    image, index = render(SCENE)  # stripes repeat their colours: background
    kept = objects_mask(image)
    assert kept[index >= 0].all() and not kept[index == -1].any()


def test_restyle_redraws_the_background_and_variation_holds_the_objects() -> None:
    base, index = render(SCENE)
    restyle = EditPlan(base="scene", style_ref="style", ops=[Op(op="restyle", ref="style")])
    edit = edit_base(restyle, base)
    assert edit is not None and edit.restyled is not None
    assert np.array_equal(edit.region, index == -1) and np.array_equal(edit.restyled, index == -1)
    variation = EditPlan(base="scene", ops=[Op(op="variation")])
    edit = edit_base(variation, base)
    assert edit is not None and edit.region.all() and not edit.fresh.any()
    assert edit.held is not None and np.array_equal(edit.held, index >= 0)


# -- renders with the miniworld model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def miniworld(one_thread: None) -> Any:
    from anypix.models.diffusion import load_components

    return load_components("miniworld", device="cpu")


def _render(plan: EditPlan, base: np.ndarray, components: Any) -> tuple[np.ndarray, dict]:
    result = render_plan(plan, {"scene": Image.fromarray(base)}, components)
    return np.asarray(result.images[0].convert("RGB")), result.provenance.knobs


def test_miniworld_remove_leaves_background_and_nothing_new(miniworld: Any) -> None:
    base, index = render(SCENE)
    plan = _plan("remove", "the ring", _located("purple", "background", "ring"))
    out, knobs = _render(plan, base, miniworld)
    ring, truth = index == 0, _scene(SQUARE)
    assert not object_pixels(out)[ring].any()  # no purple, and no other object's colour
    assert np.abs(out[ring].astype(int) - truth[ring]).mean() < 12  # the stripes continue
    away = ~dilate(ring, HOLE_GROW)
    assert np.array_equal(out[away], base[away])
    assert knobs["op_edits"][0].startswith("remove:")


def test_miniworld_recolor_changes_the_colour_and_keeps_the_shape(miniworld: Any) -> None:
    base, index = render(SCENE)
    plan = _plan("recolor", "the ring green", _located("purple", "a green ring", "ring"), seed=3)
    out, _ = _render(plan, base, miniworld)
    ring = index == 0
    changed = (out != base).any(-1)
    assert np.array_equal(changed, ring)  # every ring pixel, and nothing else, not its hole
    assert colour_mask(out, "green")[ring].mean() > 0.9  # the model drew it green


def test_miniworld_move_carries_the_object_and_empties_its_place(miniworld: Any) -> None:
    base, index = render(SCENE)
    was = _located("purple", "background", "was")
    goes = was.model_copy(update={"cx": was.cx + 0.3125, "description": "a ring", "label": "goes"})
    out, _ = _render(_plan("move", "the ring to the right", was, goes), base, miniworld)
    ring = index == 0
    moved = shift(ring, 0, 20)
    assert np.array_equal(colour_mask(out, "purple"), moved)  # its own shape, at the new place
    assert not object_pixels(out)[ring & ~moved].any()
    away = ~dilate(ring, HOLE_GROW) & ~moved
    assert np.array_equal(out[away], base[away])


def test_miniworld_restyle_takes_the_references_texture_and_keeps_every_object(
    miniworld: Any,
) -> None:
    from anypix.models.miniworld.metrics import classify_background

    scene = Scene(7, Style("warm", "flat"), SCENE.objects)
    base, index = render(scene)
    reference = render(Scene(0, Style("night", "dots", angle=45, period=0.2)))[0]
    plan = EditPlan(base="scene", gen="in the style of style", style_ref="style",
                    ops=[Op(op="restyle", ref="style")], knobs=Knobs(seed=1))  # fmt: skip
    result = render_plan(plan, {"scene": Image.fromarray(base), "style": Image.fromarray(reference)},
                         miniworld)  # fmt: skip
    out = np.asarray(result.images[0].convert("RGB"))
    assert np.array_equal(out[index >= 0], base[index >= 0])  # the objects, pixel for pixel
    assert classify_background(out, ~dilate(index >= 0, 2)) == ("night", "dots")
    assert result.provenance.knobs["prompt"] == ""  # drawn as the reference was inverted


def test_miniworld_variation_keeps_the_objects_and_changes_the_image(miniworld: Any) -> None:
    from anypix.models.miniworld.metrics import dominant_colour

    base, index = render(SCENE)
    plan = EditPlan(base="scene", gen="a variation", ops=[Op(op="variation")], knobs=Knobs(seed=2))
    out, _ = _render(plan, base, miniworld)
    for number, obj in enumerate(SCENE.objects):
        assert dominant_colour(out, index == number) == obj.colour
    assert np.abs(out.astype(int) - base).mean() >= 2.0  # not the [base] again


# -- plumbing on the tiny random preset -------------------------------------------------------------


def test_op_edits_compose_on_a_random_sd_model(engine: Any, base_image: Any) -> None:
    base = np.asarray(base_image)
    remove = Blob(description="background", label="disc", cx=0.62, cy=0.38, a=0.2, b=0.2)
    add = Blob(description="a cat", label="cat", cx=0.25, cy=0.75, a=0.15, b=0.1)
    plan = EditPlan(base="photo", gen="a cat", blobs=[remove, add],
                    ops=[Op(op="remove", target="the disc"), Op(op="add", target="a cat")],
                    knobs=Knobs(seed=2, steps=2, size=(64, 64)))  # fmt: skip
    result = render_plan(plan, {"photo": base_image}, engine)
    out = np.asarray(result.images[0].convert("RGB"))
    edit = edit_base(plan, base)
    assert edit is not None
    # outside what the ops redraw, every pixel is the [base]'s, through a random VAE
    assert np.array_equal(out[~edit.region], base[~edit.region])
    assert [line.split(":")[0] for line in result.provenance.knobs["op_edits"]] == ["remove", "add"]
