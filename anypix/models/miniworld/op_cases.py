"""One held-out test case per (op, seed) on the miniworld, judged against its ground truth.

:func:`op_case` draws a scene from ``seed`` (use seeds >= 100000: training draws from other
seeds), writes the instruction a person would type for the op, and gives ``judge(output)``,
which says whether the output did what the op must (docs/ops.md) by measuring it against the
scene's ground truth -- never by the agent's own verifier:

* generate: each named colour fills at least ``MIN_FILL`` of its half of the canvas, in the
  shape named (:func:`~metrics.shape_in_region`);
* add: the new colour fills at least ``MIN_FILL`` of the place it was put, in the shape named;
  nothing else changed;
* add_anywhere (an add that names no place: the locator finds it room): the new colour shows
  somewhere as an object of ``MIN_PIXELS`` or more, in the shape named, over none of the old
  objects; every old object keeps its colour; nothing else changed;
* remove: no object colour is left where the object showed the background behind it;
* recolor: the new colour covers the object's pixels with IoU >= ``MIN_SHAPE_IOU`` (its shape,
  holes included), the old colour is gone;
* replace: the old colour is gone from the old object's pixels, the new one fills its blob;
* move: the colour lies at the new place (:func:`destination`: "to the left" keeps the
  object's height) with IoU >= ``MIN_SHAPE_IOU`` against the object's own shape moved there, and
  is gone from the old place;
* restyle: the background's texture is the reference's, every object keeps its colour in place;
* variation: every object keeps its colour in place and the image differs from the [base].

Edits must also leave the pixels away from the edited objects alone (``UNCHANGED``). Nothing
here loads a model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from anypix.models.miniworld.data import (
    COLOURS,
    SHAPES,
    MiniObject,
    Scene,
    Style,
    colour_mask,
    random_scene,
    render,
)
from anypix.models.miniworld.metrics import (
    classify_background,
    dilate,
    dominant_colour,
    mask_iou,
    object_pixels,
    shape_in_region,
)
from anypix.plan import Blob

OPS_MEASURED = (
    "generate",
    "add",
    "add_anywhere",
    "remove",
    "replace",
    "recolor",
    "move",
    "restyle",
    "variation",
)
MIN_PIXELS = 60  # an added object put where there is room: the smallest blob's disc is ~185 px
MIN_FILL = 0.25  # share of a place an object put there covers (the smallest is ~30% of a blob)
MIN_SHAPE_IOU = 0.7
MAX_LEFT = 0.1  # share of an object's old pixels its old colour may still cover
UNCHANGED = 0.98  # share of the pixels away from the edit that must be exactly the [base]'s
PLACES = {"left": (0.25, 0.55), "right": (0.75, 0.55), "top": (0.5, 0.25), "bottom": (0.5, 0.75)}
TEXTURE_WORDS = {"stripes": "striped", "dots": "dotted", "checker": "checked"}


@dataclass
class OpCase:
    op: str
    seed: int
    instruction: str
    assets: dict[str, np.ndarray]  # name -> (64, 64, 3) uint8
    judge: Callable[[np.ndarray], tuple[bool, str]]  # output -> (success, why)
    notes: dict[str, object] = field(default_factory=dict)

    def save_assets(self, folder: Path) -> dict[str, Path]:
        from PIL import Image

        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, pixels in self.assets.items():
            paths[name] = folder / f"{name}.png"
            Image.fromarray(pixels).save(paths[name])
        return paths


def _unique_shape(scene: Scene, rng: np.random.Generator) -> int:
    """An object whose shape no other object of the scene has (so "the ring" is one thing)."""
    shapes = [o.shape for o in scene.objects]
    unique = [i for i, s in enumerate(shapes) if shapes.count(s) == 1]
    return int(rng.choice(unique)) if unique else 0


def _scene(seed: int) -> Scene:
    """A scene with 2-3 objects of distinct shapes from ``seed`` (later seeds if needed)."""
    for offset in range(1000):
        scene = random_scene(seed + offset * 7919, min_objects=2, max_objects=3)
        if len({o.shape for o in scene.objects}) == len(scene.objects):
            return scene
    raise RuntimeError(f"no scene with distinct shapes near seed {seed}")


def _unchanged(output: np.ndarray, base: np.ndarray, edited: np.ndarray) -> float:
    away = ~dilate(edited, 2)
    return float((output[away] == base[away]).all(-1).mean()) if away.any() else 1.0


def op_case(op: str, seed: int) -> OpCase:
    """The test case for ``op`` on the scene of ``seed``."""
    if op not in OPS_MEASURED:
        raise ValueError(f"unknown op {op!r}: use one of {', '.join(OPS_MEASURED)}")
    rng = np.random.default_rng(seed)
    scene = _scene(seed)
    base, index = render(scene)
    target = _unique_shape(scene, rng)
    obj = scene.objects[target]
    shape = index == target
    unused = [c for c in COLOURS if c not in {o.colour for o in scene.objects}]
    colour = str(rng.choice(unused))
    return _CASES[op](op, seed, scene, base, obj, shape, colour, rng)


def _generate(
    op: str, seed: int, scene: Scene, base: np.ndarray, obj: MiniObject, shape: np.ndarray,
    colour: str, rng: np.random.Generator,
) -> OpCase:  # fmt: skip
    left, right = (str(c) for c in rng.permutation(list(COLOURS))[:2])
    s1, s2 = (str(s) for s in rng.choice(list(SHAPES), 2))
    halves = np.zeros((64, 64), dtype=bool)
    halves[:, :32] = True

    def judge(out: np.ndarray) -> tuple[bool, str]:
        fills = [colour_mask(out, left)[halves].mean(), colour_mask(out, right)[~halves].mean()]
        fills = [f * 2.5 for f in fills]  # a blob covers about 40% of its half
        drawn = [shape_in_region(out, left, halves), shape_in_region(out, right, ~halves)]
        ok = min(fills) >= MIN_FILL and drawn == [s1, s2]
        return ok, (f"{left} on the left {fills[0]:.2f} ({drawn[0]}), "
                    f"{right} on the right {fills[1]:.2f} ({drawn[1]})")  # fmt: skip

    text = f"a {left} {s1} on the left and a {right} {s2} on the right"
    return OpCase(op, seed, text, {}, judge)


def _place_away(obj_blob: Blob) -> str:
    far = sorted(PLACES, key=lambda p: -np.hypot(PLACES[p][0] - obj_blob.cx,
                                                 PLACES[p][1] - obj_blob.cy))  # fmt: skip
    return far[0]


def destination(obj_blob: Blob, place: str) -> tuple[float, float]:
    """Where an object moved "to the <place>" goes: "left" and "right" say across only (it
    keeps its height), "top" and "bottom" up or down only."""
    px, py = PLACES[place]
    return (px, obj_blob.cy) if place in ("left", "right") else (obj_blob.cx, py)


def _add(
    op: str, seed: int, scene: Scene, base: np.ndarray, obj: MiniObject, shape: np.ndarray,
    colour: str, rng: np.random.Generator,
) -> OpCase:  # fmt: skip
    new_shape = str(rng.choice(SHAPES))
    place = str(rng.choice(list(PLACES)))
    cx, cy = PLACES[place]
    yy, xx = np.mgrid[0:64, 0:64]
    spot = np.hypot((xx + 0.5) / 64 - cx, (yy + 0.5) / 64 - cy) < 0.2

    def judge(out: np.ndarray) -> tuple[bool, str]:
        fill = colour_mask(out, colour)[spot].mean() * 2  # an object fills ~half the spot
        kept = _unchanged(out, base, spot)
        drawn = shape_in_region(out, colour, dilate(spot, 8))  # a large one spills out
        ok = fill >= MIN_FILL and drawn == new_shape and kept >= UNCHANGED
        return ok, f"{colour} fills {fill:.2f} of the {place} ({drawn}); {kept:.3f} unchanged"

    text = f"add a {colour} {new_shape} to [scene] at the {place}"
    return OpCase(op, seed, text, {"scene": base}, judge)


def _add_anywhere(
    op: str, seed: int, scene: Scene, base: np.ndarray, obj: MiniObject, shape: np.ndarray,
    colour: str, rng: np.random.Generator,
) -> OpCase:  # fmt: skip
    new_shape = str(rng.choice(SHAPES))
    _, index = render(scene)
    everywhere = np.ones(index.shape, dtype=bool)

    def judge(out: np.ndarray) -> tuple[bool, str]:
        new = colour_mask(out, colour)
        drawn = shape_in_region(out, colour, everywhere)
        over = float(new[index >= 0].mean())  # the old objects' pixels it covers
        kept, why = _objects_kept(out, scene, index)
        unchanged = _unchanged(out, base, dilate(new, 3))
        ok = (new.sum() >= MIN_PIXELS and drawn == new_shape and over <= MAX_LEFT and kept
              and unchanged >= UNCHANGED)  # fmt: skip
        return ok, (f"{colour} {int(new.sum())} px ({drawn}), over the old objects {over:.2f}; "
                    f"{why}; {unchanged:.3f} unchanged")  # fmt: skip

    text = f"add a {colour} {new_shape} to [scene]"
    return OpCase(op, seed, text, {"scene": base}, judge, {"colour": colour, "shape": new_shape})


def _remove(
    op: str, seed: int, scene: Scene, base: np.ndarray, obj: MiniObject, shape: np.ndarray,
    colour: str, rng: np.random.Generator,
) -> OpCase:  # fmt: skip
    rest = Scene(scene.seed, scene.style, tuple(o for o in scene.objects if o is not obj))
    truth, truth_index = render(rest)
    behind = shape & (truth_index == -1)

    def judge(out: np.ndarray) -> tuple[bool, str]:
        left = float(object_pixels(out)[behind].mean()) if behind.any() else 0.0
        kept = _unchanged(out, base, shape)
        ok = left <= MAX_LEFT and kept >= UNCHANGED
        return ok, f"object pixels left {left:.2f}; {kept:.3f} unchanged"

    text = f"remove the {obj.shape} from [scene]"
    return OpCase(op, seed, text, {"scene": base}, judge, {"truth": truth})


def _recolor(
    op: str, seed: int, scene: Scene, base: np.ndarray, obj: MiniObject, shape: np.ndarray,
    colour: str, rng: np.random.Generator,
) -> OpCase:  # fmt: skip
    def judge(out: np.ndarray) -> tuple[bool, str]:
        iou = mask_iou(colour_mask(out, colour) & dilate(shape, 3), shape)
        old = float(colour_mask(out, obj.colour)[shape].mean())
        kept = _unchanged(out, base, shape)
        ok = iou >= MIN_SHAPE_IOU and old <= MAX_LEFT and kept >= UNCHANGED
        return ok, f"{colour} IoU with the {obj.shape} {iou:.2f}; {obj.colour} left {old:.2f}"

    text = f"make the {obj.shape} in [scene] {colour}"
    return OpCase(op, seed, text, {"scene": base}, judge)


def _replace(
    op: str, seed: int, scene: Scene, base: np.ndarray, obj: MiniObject, shape: np.ndarray,
    colour: str, rng: np.random.Generator,
) -> OpCase:  # fmt: skip
    new_shape = str(rng.choice([s for s in SHAPES if s != obj.shape]))
    blob = obj.blob.mask(64, 64)

    def judge(out: np.ndarray) -> tuple[bool, str]:
        old = float(colour_mask(out, obj.colour)[shape].mean())
        fill = float(colour_mask(out, colour)[blob].mean())
        kept = _unchanged(out, base, dilate(blob, 3))
        ok = old <= MAX_LEFT and fill >= MIN_FILL and kept >= UNCHANGED
        return ok, f"{obj.colour} left {old:.2f}; {colour} fills {fill:.2f} of the blob"

    text = f"replace the {obj.shape} in [scene] with a {colour} {new_shape}"
    return OpCase(op, seed, text, {"scene": base}, judge)


def _move(
    op: str, seed: int, scene: Scene, base: np.ndarray, obj: MiniObject, shape: np.ndarray,
    colour: str, rng: np.random.Generator,
) -> OpCase:  # fmt: skip
    place = _place_away(obj.blob)
    cx, cy = destination(obj.blob, place)

    def judge(out: np.ndarray) -> tuple[bool, str]:
        found = colour_mask(out, obj.colour)
        old = shape & ~found  # where it was and is not now: best shift of its shape
        best = 0.0
        ys, xs = np.nonzero(shape)
        side = shape.shape[0]
        # the object's own shape, wherever it went near the place (a shift of up to the canvas
        # side: an object at one edge taken to a place across the canvas travels ~48 px)
        for dy in range(-side + 1, side):
            for dx in range(-side + 1, side):
                ny, nx = ys + dy, xs + dx
                if ny.min() < 0 or nx.min() < 0 or ny.max() >= side or nx.max() >= side:
                    continue
                moved = np.zeros_like(shape)
                moved[ny, nx] = True
                if np.hypot(nx.mean() / 64 - cx, ny.mean() / 64 - cy) > 0.2:
                    continue
                best = max(best, mask_iou(found, moved))
        left = float(found[shape].mean()) if best < 1 else 0.0
        ok = best >= MIN_SHAPE_IOU and (old.sum() >= 0.5 * shape.sum())
        return ok, f"{obj.colour} {obj.shape} at the {place} IoU {best:.2f}; old place {left:.2f}"

    text = f"move the {obj.shape} in [scene] to the {place}"
    return OpCase(op, seed, text, {"scene": base}, judge)


def _objects_kept(out: np.ndarray, scene: Scene, index: np.ndarray) -> tuple[bool, str]:
    for i, o in enumerate(scene.objects):
        visible = index == i
        if visible.sum() >= 16 and dominant_colour(out, visible) != o.colour:
            return False, f"the {o.colour} {o.shape} is not {o.colour} any more"
    return True, "every object kept"


def _restyle(
    op: str, seed: int, scene: Scene, base: np.ndarray, obj: MiniObject, shape: np.ndarray,
    colour: str, rng: np.random.Generator,
) -> OpCase:  # fmt: skip
    texture = str(rng.choice([t for t in TEXTURE_WORDS if t != scene.style.texture]))
    reference = Scene(0, Style(str(rng.choice(["night", "cool", "earth"])), texture, 45, 0.2))
    _, index = render(scene)

    def judge(out: np.ndarray) -> tuple[bool, str]:
        kept, why = _objects_kept(out, scene, index)
        background = ~dilate(index >= 0, 2)
        _, got = classify_background(out, background)
        ok = kept and got == texture
        return ok, f"{why}; background reads {got} (wanted {texture})"

    text = "paint [scene] in the style of [style]"
    return OpCase(op, seed, text, {"scene": base, "style": render(reference)[0]}, judge)


def _variation(
    op: str, seed: int, scene: Scene, base: np.ndarray, obj: MiniObject, shape: np.ndarray,
    colour: str, rng: np.random.Generator,
) -> OpCase:  # fmt: skip
    _, index = render(scene)

    def judge(out: np.ndarray) -> tuple[bool, str]:
        kept, why = _objects_kept(out, scene, index)
        changed = float(np.abs(out.astype(int) - base).mean())
        ok = kept and changed >= 2.0
        return ok, f"{why}; mean change {changed:.1f}"

    return OpCase(op, seed, "give me a variation of [scene]", {"scene": base}, judge)


_CASES = {"generate": _generate, "add": _add, "add_anywhere": _add_anywhere, "remove": _remove,
          "replace": _replace, "recolor": _recolor, "move": _move, "restyle": _restyle, "variation": _variation}  # fmt: skip
