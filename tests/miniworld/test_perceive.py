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
