"""The ops benchmark's judge (anypix/models/miniworld/op_cases.py) on outputs made by hand from a
case's ground truth: a right edit is judged right, and leaving the [base] as it was is not."""

from __future__ import annotations

import numpy as np

from anypix.models.miniworld.data import MiniObject, Scene, render
from anypix.models.miniworld.op_cases import (
    _place_away,
    _scene,
    _unique_shape,
    destination,
    op_case,
)
from anypix.plan import Blob
from anypix.tools.fill import shift
from anypix.tools.locate import free_spot
from anypix.tools.ops import inside_canvas


def _ideal_move(seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(base, the move done right, how far the object travelled in px) for the case of seed."""
    case = op_case("move", seed)
    scene = _scene(seed)
    target = _unique_shape(scene, np.random.default_rng(seed))
    base, index = render(scene)
    obj = scene.objects[target]
    rest = Scene(scene.seed, scene.style, tuple(o for o in scene.objects if o is not obj))
    emptied, _ = render(rest)
    mask = index == target
    ys, xs = np.nonzero(mask)
    cx, cy = destination(obj.blob, _place_away(obj.blob))
    offset = (round(cy * 64 - ys.mean()), round(cx * 64 - xs.mean()))
    dy, dx = inside_canvas(mask, offset)
    moved = shift(mask, dy, dx)
    output = emptied.copy()
    output[moved] = shift(base, dy, dx)[moved]
    assert np.array_equal(case.assets["scene"], base)
    return base, output, max(abs(dy), abs(dx))


def test_a_move_done_right_is_judged_right_however_far_the_object_travels() -> None:
    travels = []
    for seed in range(50_000, 50_040):  # dev seeds, never the benchmark's held-out ones
        base, output, travelled = _ideal_move(seed)
        judge = op_case("move", seed).judge
        assert judge(output)[0], (seed, judge(output)[1])
        assert not judge(base)[0], seed  # the object left where it was
        travels.append(travelled)
    assert max(travels) > 40  # an object at one edge taken across the canvas (the old limit)


def test_a_moved_object_is_kept_whole_inside_the_canvas() -> None:
    mask = np.zeros((64, 64), dtype=bool)
    mask[5:30, 10:40] = True  # 25 x 30 px
    assert inside_canvas(mask, (50, 0)) == (34, 0)  # its bottom row lands on row 63
    assert inside_canvas(mask, (-20, 30)) == (-5, 24)
    assert inside_canvas(mask, (10, -5)) == (10, -5)  # already inside: unchanged


def _with_added(scene: Scene, colour: str, shape: str, blob: Blob) -> np.ndarray:
    new = MiniObject(colour=colour, shape=shape, size="medium", blob=blob)
    return render(Scene(scene.seed, scene.style, (*scene.objects, new)))[0]


def test_an_add_with_no_place_is_right_in_free_room_and_wrong_over_an_old_object() -> None:
    for seed in range(50_000, 50_012):  # dev seeds
        case = op_case("add_anywhere", seed)
        scene, base = _scene(seed), case.assets["scene"]
        colour, shape = str(case.notes["colour"]), str(case.notes["shape"])

        def drawn_in(blob: Blob) -> np.ndarray:
            return _with_added(scene, colour, shape, blob)  # noqa: B023 (called in this loop)

        assert case.instruction == f"add a {colour} {shape} to [scene]"
        room = free_spot(base, f"a {colour} {shape}")
        assert case.judge(drawn_in(room))[0], (seed, case.judge(drawn_in(room))[1])
        assert not case.judge(base)[0], seed  # nothing drawn
        over = scene.objects[0].blob  # drawn on top of an old object, hiding it
        assert not case.judge(drawn_in(over))[0], (seed, case.judge(drawn_in(over))[1])
