"""Layout reasoning: scene graphs from descriptions and blobs that keep counts and relations."""

from __future__ import annotations

import pytest

from anypix.agent.layout import place_blob, scene_blobs, scene_graph, singular
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
