"""Held-out naming cases for the locator (shared by ``benchmarks/locate.py`` and its tests): a
miniworld scene, one of its objects, and the ways a person would name it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from anypix.models.masks import fill_holes

NAMINGS = ("colour and shape", "shape", "colour")
SIDE = 64  # the scenes' size: the binding encoder's input


@dataclass(frozen=True)
class NamedObject:
    """A held-out miniworld scene, one of its objects, and the ways a person would name it."""

    image: np.ndarray  # (64, 64, 3) uint8
    truth: np.ndarray  # the object's mask, holes filled
    phrases: dict[str, str]  # naming -> phrase; "shape" only when no other object shares it


def named_object(seed: int) -> NamedObject:
    """Scene ``seed`` (1-4 objects) and its object ``seed % count``, named by colour and shape
    ("the red ring"), by shape alone and by colour alone ("the red object")."""
    from anypix.models.miniworld.data import random_scene, render

    scene = random_scene(seed, min_objects=1, max_objects=4)
    image, index = render(scene, SIDE)
    k = seed % len(scene.objects)
    obj = scene.objects[k]
    phrases = {
        "colour and shape": f"the {obj.colour} {obj.shape}",
        "colour": f"the {obj.colour} object",
    }
    if [o.shape for o in scene.objects].count(obj.shape) == 1:
        phrases["shape"] = f"the {obj.shape}"
    return NamedObject(image, fill_holes(index == k), phrases)
