"""The procedural world: deterministic, exactly described, measurable."""

from __future__ import annotations

import numpy as np
import pytest

from anypix.models.miniworld.data import (
    COLOURS,
    PITCH_HZ,
    SAMPLE_RATE,
    SHAPES,
    MiniObject,
    classify_colour,
    colour_mask,
    random_scene,
    render,
    shape_mask,
    tone,
)
from anypix.plan import Blob


def test_same_seed_same_scene_and_pixels() -> None:
    a, b = random_scene(7), random_scene(7)
    assert a == b
    assert np.array_equal(render(a)[0], render(b)[0])
    assert random_scene(8) != a


def test_scene_description_matches_its_pixels() -> None:
    for seed in range(40):
        scene = random_scene(seed, min_objects=1)
        image, index = render(scene, 64)
        assert len({o.colour for o in scene.objects}) == len(scene.objects)
        for i, obj in enumerate(scene.objects):
            visible = index == i
            if visible.sum() < 4:  # fully hidden behind later objects
                continue
            assert classify_colour(image[visible]) == obj.colour
            assert obj.sentence() in scene.caption()
            assert obj.blob.description == obj.sentence()
        assert scene.style.describe() in scene.caption()


def test_ellipse_objects_are_exactly_their_blob() -> None:
    blob = Blob(description="a large red ellipse", cx=0.4, cy=0.6, a=0.3, b=0.2, angle=30)
    obj = MiniObject(colour="red", shape="ellipse", size="large", blob=blob)
    assert np.array_equal(shape_mask(obj, 64), blob.mask(64, 64))


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_lies_mostly_inside_its_blob(shape: str) -> None:
    blob = Blob(description="x", cx=0.5, cy=0.5, a=0.35, b=0.2, angle=60)
    mask = shape_mask(MiniObject("blue", shape, "large", blob), 128)
    inside = (mask & blob.mask(128, 128)).sum() / mask.sum()
    assert mask.sum() > 0.3 * blob.mask(128, 128).sum()
    assert inside > 0.85


def test_colour_mask_segments_an_object_from_any_background() -> None:
    for seed in range(30):
        scene = random_scene(seed, min_objects=1, max_objects=1)
        image, index = render(scene, 64)
        obj = scene.objects[0]
        found = colour_mask(image, obj.colour)
        truth = index == 0
        iou = (found & truth).sum() / max((found | truth).sum(), 1)
        assert iou > 0.95, (seed, obj, scene.style)


@pytest.mark.parametrize("colour", list(COLOURS))
def test_tone_pitch_encodes_colour(colour: str) -> None:
    samples = tone(colour, "triangle", seconds=0.5, seed=3)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
    peak = freqs[np.argmax(spectrum)]
    assert abs(peak - PITCH_HZ[colour]) < 6
    assert samples.dtype == np.float32 and np.abs(samples).max() <= 1.0


def test_tone_timbre_encodes_shape() -> None:
    def harmonic_ratio(shape: str) -> float:
        samples = tone("blue", shape, seconds=0.5, seed=1)
        spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
        freqs = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)
        at = lambda hz: spectrum[np.abs(freqs - hz) < 8].max()  # noqa: E731
        return at(2 * PITCH_HZ["blue"]) / at(PITCH_HZ["blue"])

    assert harmonic_ratio("ellipse") < 0.05  # pure sine
    assert harmonic_ratio("rectangle") < 0.05  # odd harmonics only
    assert harmonic_ratio("triangle") > 0.3  # every harmonic
