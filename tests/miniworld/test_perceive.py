"""The miniworld's perception (the verify step's eyes): its words, and what it sees in held-out
ground-truth scenes with the shipped binding encoder."""

from __future__ import annotations

import numpy as np
import pytest

from anypix.models.miniworld.data import COLOURS, SHAPES, Scene, Style, random_scene, render
from anypix.models.miniworld.perceive import MiniworldPerception, load_perception
from anypix.models.registry import capabilities


def _unloaded() -> MiniworldPerception:
    def refuse() -> None:
        raise AssertionError("words alone must not load the encoder")

    return MiniworldPerception(load_encoder=refuse)


def test_phrases_come_out_in_the_worlds_words() -> None:
    words = _unloaded()
    assert words.canonical("the big red ball") == "a large red ellipse"
    assert words.canonical("a yellow ring at the top") == "a yellow ring"
    assert words.canonical("the donut") == "a ring"
    assert words.canonical("the lamp") == "a lamp"


def test_alternatives_swap_the_colour_and_the_shape_one_at_a_time() -> None:
    others = _unloaded().alternatives("a red ring")
    assert len(others) == (len(COLOURS) - 1) + (len(SHAPES) - 1)
    assert "a green ring" in others and "a red ellipse" in others
    assert "a red ring" not in others and "a green ellipse" not in others
    assert len(_unloaded().vocabulary()) == len(COLOURS) * len(SHAPES)


def test_the_family_registers_it_as_its_verifier() -> None:
    load = capabilities("miniworld").verifier
    assert load is not None and isinstance(load(None), MiniworldPerception)


@pytest.mark.usefixtures("one_thread")
def test_it_names_every_object_of_held_out_scenes_in_its_colour_and_sees_no_extra() -> None:
    perception = load_perception()
    named = counted = objects = 0
    scenes = [random_scene(seed, min_objects=1, max_objects=3) for seed in range(300_000, 300_016)]
    for scene in scenes:
        image = render(scene)[0]
        seen = perception.detect(image, perception.vocabulary())
        counted += len(seen) == len(scene.objects)
        for obj in scene.objects:
            objects += 1
            there = [d for d in seen if d.overlap(obj.blob.mask(64, 64)) >= 0.5]
            named += any(d.label.split()[1] == obj.colour for d in there)
    assert named / objects >= 0.9
    assert counted / len(scenes) >= 0.8


@pytest.mark.usefixtures("one_thread")
def test_an_empty_background_holds_nothing_and_its_textures_are_not_objects() -> None:
    perception = load_perception()
    for texture in ("dots", "checker", "stripes"):
        empty = render(Scene(0, Style("night", texture, angle=30, period=0.2)))[0]
        assert perception.detect(empty, perception.vocabulary()) == [], texture
    assert perception.detect(np.zeros((64, 64, 3), dtype=np.uint8), ["a red ring"]) == []


def _rounded_rectangle(colour: str, cx: float, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """A rectangle of the world with its corners rounded off by 2 px (as a model draws one):
    the image and the object's mask."""
    from anypix.models.miniworld.data import MiniObject
    from anypix.plan import Blob

    blob = Blob(description="box", cx=cx, cy=0.5, a=a, b=b, angle=0)
    scene = Scene(1, Style("warm", "flat", angle=0, period=0.25),
                  (MiniObject(colour, "rectangle", "medium", blob),))  # fmt: skip
    image, index = render(scene)
    rect = index == 0
    ys, xs = np.nonzero(rect)
    yy, xx = np.mgrid[0:64, 0:64]
    dx = np.maximum(np.maximum(xs.min() + 2 - xx, xx - xs.max() + 2), 0)
    dy = np.maximum(np.maximum(ys.min() + 2 - yy, yy - ys.max() + 2), 0)
    cut = rect & (dx**2 + dy**2 > 4)
    image = image.copy()
    image[cut] = image[~rect][0]
    return image, rect & ~cut


@pytest.mark.usefixtures("one_thread")
def test_a_rectangle_whose_outline_reads_as_one_is_named_a_rectangle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The outline settles the shape where the encoder reads a slightly rounded rectangle as an
    ellipse; the encoder alone names fewer of them."""
    import anypix.models.miniworld.perceive as perceive
    from anypix.models.masks import read_shape

    perception = load_perception()
    cases = [_rounded_rectangle(colour, cx, a, b) for colour in COLOURS
             for cx, a, b in ((0.3, 0.2, 0.2), (0.7, 0.22, 0.16), (0.5, 0.18, 0.14))]  # fmt: skip
    readable = [(image, colour) for (image, mask), colour
                in zip(cases, [c for c in COLOURS for _ in range(3)], strict=True)
                if read_shape(mask) == "rectangle"]  # fmt: skip
    assert len(readable) >= len(cases) // 2

    def named(bonus: float) -> int:
        monkeypatch.setattr(perceive, "OUTLINE_BONUS", bonus)
        found = [perception.detect(image, [f"a {colour} rectangle", f"a {colour} ellipse"])
                 for image, colour in readable]  # fmt: skip
        return sum(bool(seen) and seen[0].label.endswith("rectangle") for seen in found)

    assert named(perceive.OUTLINE_BONUS) == len(readable)
    assert named(0.0) < len(readable)
