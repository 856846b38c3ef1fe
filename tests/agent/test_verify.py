"""The verify step's postconditions, one op at a time, with a perception that sees exactly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from anypix.agent.verify import Verifier
from anypix.models.perception import Detection
from anypix.plan import Blob, EditPlan, Op
from tests.agent.fake_perception import GREY, SquarePerception, canvas

LEFT = Blob(description="a red square", cx=0.25, cy=0.5, a=0.2, b=0.2)
RIGHT = Blob(description="a blue square", cx=0.75, cy=0.5, a=0.2, b=0.2)


def verify(plan: EditPlan, output: np.ndarray, base: np.ndarray | None = None) -> list[str]:
    verdict = Verifier(SquarePerception())(plan, output, base)
    return [check.line() for check in verdict.checks]


def edit(op: str, target: str, blobs: list[Blob] | None = None) -> EditPlan:
    return EditPlan(base="scene", ops=[Op(op=op, target=target)], blobs=blobs or [])  # type: ignore[arg-type]


def test_add_is_verified_only_when_the_blob_holds_the_object_in_its_colour() -> None:
    base = canvas(("green", 0.75, 0.5, 0.1))
    plan = edit("add", "a red square", [LEFT])
    assert verify(plan, canvas(("green", 0.75, 0.5, 0.1), ("red", 0.25, 0.5, 0.1)), base) == [
        "add a red square: verified"
    ]
    wrong_colour = canvas(("green", 0.75, 0.5, 0.1), ("blue", 0.25, 0.5, 0.1))
    [line] = verify(plan, wrong_colour, base)
    assert line.startswith("add a red square: failed") and "blue square" in line
    [line] = verify(plan, base, base)  # nothing drawn
    assert "a red square not seen in its blob" in line


class _ReadsOtherOnTheRight(SquarePerception):
    """Names a red square on the right half as a blue one (as a perception may read an object
    cut by the canvas's edge, or half hidden, as another shape once it stands alone)."""

    def detect(self, image: np.ndarray, queries: Sequence[str]) -> list[Detection]:
        seen = []
        for found in super().detect(image, queries):
            xs = np.nonzero(found.mask)[1]
            if found.label == "a red square" and xs.mean() > image.shape[1] / 2:
                found = Detection("a blue square", found.mask, 1.0, {"a blue square": 1.0})
            seen.append(found)
        return seen


def test_a_moved_object_whose_own_pixels_arrived_is_verified_however_it_reads() -> None:
    base = canvas(("red", 0.25, 0.5, 0.1))
    plan = edit("move", "the red square to the right", [RIGHT])
    check = Verifier(_ReadsOtherOnTheRight())
    assert check(plan, canvas(("red", 0.75, 0.5, 0.1)), base).passed
    stayed = check(plan, base, base)
    assert not stayed.passed and "not seen at its new place" in stayed.summary()


class _NoColourlessReading(SquarePerception):
    """Sees nothing for words without a colour ("a square"), as an encoder may not (a ring
    is too little like the word alone); its whole vocabulary still names every object."""

    def alternatives(self, phrase: str) -> list[str]:
        return [] if phrase == "a square" else super().alternatives(phrase)


def test_an_object_named_by_its_shape_alone_is_found_through_the_whole_vocabulary() -> None:
    base = canvas(("red", 0.25, 0.5, 0.1), ("blue", 0.75, 0.5, 0.1))
    plan = edit("remove", "the square", [LEFT])
    check = Verifier(_NoColourlessReading())
    assert check(plan, canvas(("blue", 0.75, 0.5, 0.1)), base).passed
    kept = check(plan, base, base)
    assert not kept.passed and "a red square is there, where it was" in kept.summary()


def test_an_edit_that_changes_pixels_outside_its_place_fails() -> None:
    base = canvas(("green", 0.75, 0.5, 0.1))
    plan = edit("add", "a red square", [LEFT])
    output = canvas(("green", 0.75, 0.5, 0.1), ("red", 0.25, 0.5, 0.1))
    output[:4] = 0  # a black band across the top, far from the blob
    [line] = verify(plan, output, base)
    assert "changed outside the edit" in line


def test_remove_fails_while_anything_stands_where_the_object_was() -> None:
    base = canvas(("red", 0.25, 0.5, 0.1), ("blue", 0.75, 0.5, 0.1))
    plan = edit("remove", "the red square")
    assert verify(plan, canvas(("blue", 0.75, 0.5, 0.1)), base) == [
        "remove the red square: verified"
    ]
    # a new object painted in its place is not a removal
    [line] = verify(plan, canvas(("green", 0.25, 0.5, 0.1), ("blue", 0.75, 0.5, 0.1)), base)
    assert line == "remove the red square: failed, a green square is there, where it was"


def test_recolor_needs_the_new_colour_and_the_old_outline() -> None:
    base = canvas(("red", 0.3, 0.5, 0.15))
    plan = edit("recolor", "the red square blue")
    assert verify(plan, canvas(("blue", 0.3, 0.5, 0.15)), base) == [
        "recolor the red square blue: verified"
    ]
    [line] = verify(plan, canvas(("blue", 0.3, 0.5, 0.06)), base)  # right colour, shrunk
    assert "outline changed" in line
    [line] = verify(plan, canvas(("green", 0.3, 0.5, 0.15)), base)
    assert "a blue square not seen in its place" in line


def test_move_needs_the_object_at_its_new_place_and_nothing_at_the_old_one() -> None:
    base = canvas(("red", 0.25, 0.5, 0.1))
    plan = edit("move", "the red square to the right", [RIGHT])
    assert verify(plan, canvas(("red", 0.75, 0.5, 0.1)), base) == [
        "move the red square to the right: verified"
    ]
    [line] = verify(plan, canvas(("red", 0.25, 0.5, 0.1), ("red", 0.75, 0.5, 0.1)), base)
    assert "at its old place" in line  # copied, not moved
    [line] = verify(plan, base, base)
    assert "not seen at its new place" in line


def test_replace_needs_the_old_object_gone_and_the_new_one_in_its_place() -> None:
    base = canvas(("red", 0.3, 0.5, 0.12))
    plan = edit("replace", "the red square with a blue square")
    assert verify(plan, canvas(("blue", 0.3, 0.5, 0.12)), base)[0].endswith("verified")
    [line] = verify(plan, base, base)
    assert "a red square is still there" in line


def test_restyle_and_variation_keep_every_object_in_place() -> None:
    base = canvas(("red", 0.25, 0.5, 0.1), ("blue", 0.75, 0.5, 0.1))
    restyled = base.copy()
    restyled[np.all(base == 128, axis=-1)] = (30, 30, 40)  # a new background, objects kept
    assert verify(edit("restyle", "night"), restyled, base) == ["restyle night: verified"]
    lost = canvas(("red", 0.25, 0.5, 0.1))
    [line] = verify(edit("restyle", "night"), lost, base)
    assert "a blue square at (0.75, 0.50) in the [base] is gone" in line
    [line] = verify(edit("variation", ""), base, base)
    assert "the output is the [base] again" in line
    assert verify(edit("variation", ""), restyled, base) == ["variation: verified"]


def test_a_restyle_that_draws_a_new_object_fails() -> None:
    """"make it brighter" on a default-model picture redrew the background full of coloured
    shapes, and the restyle was verified: its objects were still there. A restyle draws
    background around them, nothing else; a variation is not held to it (its objects drift)."""
    base = canvas(("red", 0.25, 0.5, 0.1))
    crowded = canvas(("red", 0.25, 0.5, 0.1), ("green", 0.75, 0.25, 0.1))
    [line] = verify(edit("restyle", "brighter"), crowded, base)
    assert "a green square at (0.75, 0.25) appeared" in line
    speck = canvas(("red", 0.25, 0.5, 0.1), ("green", 0.75, 0.25, 0.04))  # under 1% of it
    assert verify(edit("restyle", "brighter"), speck, base) == ["restyle brighter: verified"]
    assert verify(edit("variation", ""), crowded, base) == ["variation: verified"]


class StyledSquares(SquarePerception):
    """Squares as before, and a background read by its colour: "grey" or "night"."""

    def background_style(self, image: np.ndarray) -> str | None:
        colours, counts = np.unique(image.reshape(-1, 3), axis=0, return_counts=True)
        return "grey" if tuple(colours[counts.argmax()]) == GREY else "night"


def test_a_restyle_after_a_picture_must_take_its_look() -> None:
    base = canvas(("red", 0.25, 0.5, 0.1))
    night = base.copy()
    night[np.all(base == GREY, axis=-1)] = (30, 30, 40)
    plan = EditPlan(base="scene", style_ref="style", ops=[Op(op="restyle", ref="style")])
    check = Verifier(StyledSquares())
    assert check(plan, night, base, {"style": np.full_like(base, 30)}).passed
    verdict = check(plan, base, base, {"style": np.full_like(base, 30)})  # the look unchanged
    assert verdict.failure() == "restyle: failed, the background reads grey, [style] reads night"
    # in words, the look is not read; a perception that cannot read looks checks content only
    assert check(edit("restyle", "night"), base, base).passed
    assert Verifier(SquarePerception())(plan, base, base, {"style": np.full_like(base, 30)}).passed


class SeesOnGreyOnly(StyledSquares):
    """Sees squares on a grey background only, as a perception may misread an object on a
    background it rarely saw."""

    def detect(self, image: np.ndarray, queries: Sequence[str]) -> list[Detection]:
        return super().detect(image, queries) if self.background_style(image) == "grey" else []


def test_an_object_left_pixel_for_pixel_is_kept_however_it_reads() -> None:
    base = canvas(("red", 0.25, 0.5, 0.1), ("blue", 0.75, 0.5, 0.1))
    night = base.copy()
    night[np.all(base == GREY, axis=-1)] = (30, 30, 40)
    check = Verifier(SeesOnGreyOnly())
    assert check(edit("restyle", "night"), night, base).passed
    lost = night.copy()
    lost[np.all(base == (40, 70, 220), axis=-1)] = (30, 30, 40)  # the blue square painted over
    assert "a blue square at (0.75, 0.50) in the [base] is gone" in (
        check(edit("restyle", "night"), lost, base).failure() or ""
    )


class ShapeWords(SquarePerception):
    """Squares as before, and "a square" (no colour) fits every one of them as well as its
    colour does, as a shape word fits any object of that shape."""

    def detect(self, image: np.ndarray, queries: Sequence[str]) -> list[Detection]:
        return [Detection(d.label, d.mask, d.score, {**d.fits, "a square": 1.0})
                for d in super().detect(image, queries)]  # fmt: skip


def test_replace_names_the_old_object_as_the_base_shows_it() -> None:
    base = canvas(("red", 0.3, 0.5, 0.12))
    plan = edit("replace", "the square with a blue square")  # only its shape word
    check = Verifier(ShapeWords())
    # the new square has the old one's shape word: it is not the old one still there
    assert check(plan, canvas(("blue", 0.3, 0.5, 0.12)), base).passed
    assert "a red square is still there" in (check(plan, base, base).failure() or "")


def test_generate_checks_every_blob_and_the_count() -> None:
    plan = EditPlan(gen="a red square and a blue square", ops=[Op(op="generate")],
                    blobs=[LEFT, RIGHT])  # fmt: skip
    drawn = canvas(("red", 0.25, 0.5, 0.1), ("blue", 0.75, 0.5, 0.1))
    assert verify(plan, drawn) == ["generate: verified"]
    extra = canvas(("red", 0.25, 0.5, 0.1), ("blue", 0.75, 0.5, 0.1), ("green", 0.5, 0.15, 0.08))
    [line] = verify(plan, extra)
    assert "3 objects drawn, 2 asked for" in line
    fleck = canvas(("red", 0.25, 0.5, 0.1), ("blue", 0.75, 0.5, 0.1), ("green", 0.5, 0.15, 0.03))
    assert verify(plan, fleck) == ["generate: verified"]  # a 2x2 px fleck of texture is no object
    # one object in two pieces (a model's ring with a gap) is one object; a piece of another
    # colour in its blob is another object
    pieces = Verifier(PiecesPerception())
    broken = canvas(("red", 0.16, 0.5, 0.07), ("red", 0.34, 0.5, 0.07), ("blue", 0.75, 0.5, 0.1))
    assert pieces(plan, broken, None).passed
    mixed = canvas(("red", 0.25, 0.45, 0.1), ("green", 0.25, 0.64, 0.05), ("blue", 0.75, 0.5, 0.1))
    assert "3 objects drawn, 2 asked for" in (pieces(plan, mixed, None).failure() or "")


class PiecesPerception(SquarePerception):
    """Sees each connected piece of a colour as an object of its own, as a perception that
    segments regions does."""

    def detect(self, image: np.ndarray, queries: Sequence[str]) -> list[Detection]:
        from anypix.models.masks import label_regions

        found = []
        for whole in super().detect(image, queries):
            labels = label_regions(np.where(whole.mask[..., None], 255, 0).astype(np.uint8).repeat(3, -1))
            for label in np.unique(labels[whole.mask]):
                found.append(Detection(whole.label, labels == label, whole.score, whole.fits))
        return found


def test_each_op_of_a_plan_gets_its_own_verdict_and_the_summary_names_the_failure() -> None:
    base = canvas(("red", 0.25, 0.5, 0.1), ("green", 0.75, 0.5, 0.1))
    plan = EditPlan(base="scene", ops=[Op(op="remove", target="the red square"),
                                       Op(op="recolor", target="the green square blue")])  # fmt: skip
    output = canvas(("blue", 0.75, 0.5, 0.1))
    verdict = Verifier(SquarePerception())(plan, output, base)
    assert verdict.passed
    assert verdict.summary() == (
        "remove the red square: verified; recolor the green square blue: verified"
    )
    verdict = Verifier(SquarePerception())(plan, canvas(("red", 0.25, 0.5, 0.1),
                                                        ("blue", 0.75, 0.5, 0.1)), base)  # fmt: skip
    assert not verdict.passed
    assert verdict.failure() == "remove the red square: failed, a red square is still there, where it was"


def test_an_added_reference_must_look_like_what_its_picture_shows() -> None:
    base = canvas(("blue", 0.75, 0.5, 0.1))
    plan = EditPlan(base="scene", subs=["ref", "tone"], blobs=[LEFT],
                    ops=[Op(op="add", target="ref", ref="ref")])  # fmt: skip
    refs = {"ref": canvas(("red", 0.5, 0.5, 0.2))}
    drawn = canvas(("blue", 0.75, 0.5, 0.1), ("red", 0.25, 0.5, 0.1))
    check = Verifier(SquarePerception())
    assert check(plan, drawn, base, refs).passed
    wrong = canvas(("blue", 0.75, 0.5, 0.1), ("green", 0.25, 0.5, 0.1))
    assert "as [ref] shows" in (check(plan, wrong, base, refs).failure() or "")
    # a sound cannot be looked at: something must be drawn in its blob, whatever its colour
    heard = plan.model_copy(update={"ops": [Op(op="add", target="tone", ref="tone")]})
    assert check(heard, wrong, base, refs).passed
    assert "nothing drawn for [tone]" in (check(heard, base, base, refs).failure() or "")


def test_a_speck_in_the_blob_is_not_the_object_asked_for() -> None:
    base = canvas(("green", 0.75, 0.5, 0.1))
    speck = canvas(("green", 0.75, 0.5, 0.1), ("red", 0.25, 0.5, 0.04))
    [line] = verify(edit("add", "a red square", [LEFT]), speck, base)
    assert "a red square fills only" in line and "of its blob" in line


def test_a_remnant_under_a_tenth_of_a_removed_object_is_not_the_object() -> None:
    """A removal that leaves a pale fringe where a ring's edge was (24 px of a 340 px ring, seen
    with "remove the ring on the left") failed three times; the ops judge allows a tenth."""
    base = canvas(("red", 0.25, 0.5, 0.15), ("blue", 0.75, 0.5, 0.1))
    plan = edit("remove", "the red square")
    fringe = canvas(("red", 0.25, 0.5, 0.03), ("blue", 0.75, 0.5, 0.1))  # 4 px of its 100
    assert verify(plan, fringe, base) == ["remove the red square: verified"]
    half = canvas(("red", 0.25, 0.5, 0.06), ("blue", 0.75, 0.5, 0.1))  # 16 px: still there
    [line] = verify(plan, half, base)
    assert line.startswith("remove the red square: failed")


def test_a_fringe_of_another_colour_on_an_object_is_no_object_of_its_own() -> None:
    """The default model draws a cyan fleck in an orange ring's hole, a pink tip on a purple
    triangle: "4 objects drawn, 3 asked for" failed two of four dev scenes that showed what was
    asked. A region of another colour touching an object and under FRINGE of its size is part
    of it; the same region apart from every object is one more object."""
    plan = EditPlan(gen="a red square and a blue square", ops=[Op(op="generate")],
                    blobs=[LEFT, RIGHT])  # fmt: skip
    fringe = canvas(("red", 0.25, 0.5, 0.15), ("green", 0.43, 0.5, 0.05), ("blue", 0.75, 0.5, 0.1))
    assert verify(plan, fringe) == ["generate: verified"]  # 12 px touching 96: a fringe
    apart = canvas(("red", 0.25, 0.5, 0.15), ("green", 0.25, 0.85, 0.05), ("blue", 0.75, 0.5, 0.1))
    [line] = verify(plan, apart)
    assert "3 objects drawn, 2 asked for" in line
