"""Layout reasoning: scene graphs from descriptions and blobs that keep counts and relations."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from anypix.agent.layout import place_blob, scene_blobs, scene_graph, singular
from anypix.agent.llm import FakeLLM
from anypix.agent.planner import Planner
from anypix.errors import LayoutError
from anypix.plan import Blob


def by_noun(blobs: list[Blob], noun: str) -> list[Blob]:
    return [b for b in blobs if b.label.rstrip("0123456789") == noun]


def test_scene_graph_reads_counts_and_relations() -> None:
    graph = scene_graph("three balloons over a boy, and a dog to the left of a cat")
    assert {(o.noun, o.count) for o in graph.objects} == {
        ("balloon", 3),
        ("boy", 1),
        ("dog", 1),
        ("cat", 1),
    }
    assert ("balloon", "above", "boy", None) in graph.relations
    assert ("dog", "left_of", "cat", None) in graph.relations


@pytest.mark.parametrize(
    ("text", "a", "axis", "b"),
    [
        ("a fish below a boat", "fish", "cy", "boat"),  # a below b: larger cy
        ("a chair to the right of a table", "chair", "cx", "table"),
        ("a kite flying above a tree", "tree", "cy", "kite"),
        ("a rocket on the right and a planet on the left", "rocket", "cx", "planet"),
    ],
)
def test_relations_hold_for_every_pair(text: str, a: str, axis: str, b: str) -> None:
    blobs = scene_blobs(text)
    assert all(
        getattr(p, axis) > getattr(q, axis) for p in by_noun(blobs, a) for q in by_noun(blobs, b)
    )


def test_between_and_counts() -> None:
    blobs = scene_blobs("a lamp between a sofa and a plant")
    lamp, sofa, plant = (by_noun(blobs, n)[0] for n in ("lamp", "sofa", "plant"))
    assert sofa.cx < lamp.cx < plant.cx
    flank = scene_blobs("a tower between two houses")
    houses, tower = by_noun(flank, "house"), by_noun(flank, "tower")[0]
    assert len(houses) == 2 and min(h.cx for h in houses) < tower.cx < max(h.cx for h in houses)
    row = scene_blobs("five apples in a row")
    assert len(row) == 5 and [b.cx for b in row] == sorted(b.cx for b in row)
    assert len({round(b.cy, 3) for b in row}) == 1


def test_blobs_stay_inside_their_share_and_are_large() -> None:
    for blob in scene_blobs("two cats and a dog on the left"):
        box = blob.bbox()
        assert 0 <= box.x0 < box.x1 <= 1 and 0 <= box.y0 < box.y1 <= 1
        assert blob.a >= 0.1  # "prefer objects to be large"


def test_settings_are_not_objects_and_plurals_are_singular() -> None:
    assert [o.noun for o in scene_graph("a bird in the sky").objects] == ["bird"]
    assert [singular(w) for w in ("wolves", "puppies", "boxes", "glass", "people")] == [
        "wolf", "puppy", "box", "glass", "person"]  # fmt: skip


def test_place_blob_for_a_canvas_region() -> None:
    blob = place_blob("dog", "in the top right corner")
    assert blob is not None and blob.cx > 0.5 and blob.cy < 0.5
    assert place_blob("dog", "next to the tree") is None  # a relation to an unseen object


# -- shapes, relations and counts as people write them ----------------------------------------------


def test_shapes_are_objects_and_keep_their_blobs() -> None:
    blobs = scene_blobs("a red circle on the left and a blue square on the right")
    circle, square = by_noun(blobs, "circle"), by_noun(blobs, "square")
    assert len(circle) == 1 and len(square) == 1 and circle[0].cx < square[0].cx
    ring = scene_blobs("five stars in a circle")  # "in a circle" is an arrangement, not a shape
    assert len(by_noun(ring, "star")) == 5 and by_noun(ring, "circle") == []


@pytest.mark.parametrize(
    ("text", "a", "test", "b"),
    [
        ("a ball above a box", "ball", lambda p, q: p.cy < q.cy, "box"),
        ("a blue ball on top of a red box", "ball", lambda p, q: p.cy < q.cy, "box"),
        ("a triangle underneath a circle", "triangle", lambda p, q: p.cy > q.cy, "circle"),
        ("a ring beside a heart", "ring", lambda p, q: abs(p.cx - q.cx) > abs(p.cy - q.cy), "heart"),
        ("a rectangle on the right-hand side and a circle on the left-hand side",
         "circle", lambda p, q: p.cx < q.cx, "rectangle"),
        ("a moon at the top and a box at the bottom", "moon", lambda p, q: p.cy < q.cy, "box"),
    ],
)  # fmt: skip
def test_relation_words_give_a_layout_that_keeps_them(
    text: str, a: str, test: Callable[[Blob, Blob], bool], b: str
) -> None:
    blobs = scene_blobs(text)
    pairs = [(p, q) for p in by_noun(blobs, a) for q in by_noun(blobs, b)]
    assert pairs and all(test(p, q) for p, q in pairs)


def test_between_two_of_a_kind_and_inside() -> None:
    blobs = scene_blobs("a star between two rings")
    rings, star = by_noun(blobs, "ring"), by_noun(blobs, "star")[0]
    assert len(rings) == 2 and min(r.cx for r in rings) < star.cx < max(r.cx for r in rings)
    nested = scene_blobs("a small ball inside a big box")
    ball, box = by_noun(nested, "ball")[0], by_noun(nested, "box")[0]
    assert (ball.cx, ball.cy) == (box.cx, box.cy) and ball.a < box.a and ball.b < box.b


@pytest.mark.parametrize(
    ("text", "noun", "count"),
    [("3 stars", "star", 3), ("five red balls", "ball", 5), ("twenty-one dots", "dot", 21),
     ("a dozen dots", "dot", 12), ("half a dozen stars", "star", 6), ("a pair of hearts", "heart", 2)],
)  # fmt: skip
def test_counts_in_digits_words_and_phrases(text: str, noun: str, count: int) -> None:
    assert len(by_noun(scene_blobs(text), noun)) == count


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a star above a moon and the moon above the star", "both above and below"),
        ("a box left of a ball and the ball left of the box", "both left and right"),
        ("a circle to the left of itself", "itself"),
        ("a star between a moon", "'between' needs two"),
        ("300 squares", "too many"),
        ("a thousand tiny circles in a grid", "too many"),
    ],
)
def test_impossible_layouts_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(LayoutError, match=reason):
        scene_blobs(text)


def test_the_fast_path_refuses_instead_of_handing_a_contradiction_to_the_llm() -> None:
    fake = FakeLLM([])  # any LLM call would raise
    with pytest.raises(LayoutError):
        Planner(fake, use_minilm=False).plan("draw a ring above itself", {})
    assert fake.requests == []
    drawn = Planner(None).plan("there should be a box under a ring", {}).plan
    assert by_noun(drawn.blobs, "box")[0].cy > by_noun(drawn.blobs, "ring")[0].cy


def test_each_blob_of_a_counted_object_describes_one_of_them() -> None:
    """A blob holds one object: "two red circles" gives two blobs saying "red circle" (a model
    reads the shape from its words; "circles" named none, and the miniworld drew blobs)."""
    blobs = scene_blobs("two red circles at the top and a triangle below them")
    assert [b.description for b in blobs] == ["red circle", "red circle", "triangle"]
