"""Locating the object an edit names (anypix/tools/locate.py) on held-out miniworld scenes.

    python benchmarks/locate.py            # n = 200 scenes
    python benchmarks/locate.py --json

Each scene (1-4 objects, seeds from --seed) names one of its objects three ways: by colour and
shape ("the red ring"), by shape alone (only when no other object has that shape) and by colour
alone ("the red object"). Where another object of 2-4 in the same scene has its shape, it is
also named by shape alone, which should make the locator ask which, and by shape and place
("the ring on the left", when it is the leftmost ring), which should find it. A question asked
about a phrase that names one object is a needless one, and a miss. A find is a hit when the blob it returns overlaps the object's
hole-filled mask with IoU > 0.5; mean IoU counts misses as 0. Rectangles and triangles only
partly fill an ellipse, so even a perfect find scores below 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anypix.errors import ClarificationNeeded
from anypix.models.miniworld.naming import NAMINGS, named_object
from anypix.plan import Op
from anypix.tools.locate import found_iou
from anypix.tools.preset import default_locator


def measure(n: int, seed: int) -> dict[str, dict[str, float]]:
    locator = default_locator("miniworld")
    assert locator is not None
    locator.encoder.embed_texts(["a ring"])  # load MiniLM before the clock starts
    ious: dict[str, list[float]] = {naming: [] for naming in (*NAMINGS, SHARED_PLACED)}
    asked: dict[str, list[bool]] = {naming: [] for naming in (*NAMINGS, SHARED, SHARED_PLACED)}
    seconds: list[float] = []

    def find(naming: str, phrase: str, image: np.ndarray, truth: np.ndarray | None) -> None:
        started = time.perf_counter()
        try:
            found = locator.find(Op(op="recolor", target=f"{phrase} green"), image)
        except ClarificationNeeded:
            found = None
        seconds.append(time.perf_counter() - started)
        asked[naming].append(found is None)
        if truth is not None:
            ious[naming].append(0.0 if found is None else found_iou(found, truth))

    for s in range(seed, seed + n):
        case = named_object(s)
        for naming, phrase in case.phrases.items():
            find(naming, phrase, case.image, case.truth)
        shared = shared_shape(s)
        if shared is not None:
            image, truth, shape, side = shared
            find(SHARED, f"the {shape}", image, None)  # the right answer is a question
            find(SHARED_PLACED, f"the {shape} {side}", image, truth)
    results = {naming: _summary(v, asked[naming]) for naming, v in ious.items()}
    results[SHARED] = {"finds": len(asked[SHARED]), "asked_rate": float(np.mean(asked[SHARED]))}
    results["time"] = {"ms_per_find": 1000 * float(np.median(seconds))}
    return results


SHARED = "shape two share"  # "the ring" with two rings: the locator should ask which
SHARED_PLACED = "shape two share, placed"  # "the ring on the left": the leftmost ring


def shared_shape(seed: int) -> tuple[np.ndarray, np.ndarray, str, str] | None:
    """Scene ``seed``'s object ``seed % count`` when another object has its shape: (image, its
    mask with holes filled, shape, the place that tells it from the others of its shape: "on
    the left" when it is the leftmost of them, and so on, along the axis they spread most)."""
    from anypix.models.masks import fill_holes
    from anypix.models.miniworld.data import random_scene, render

    scene = random_scene(seed, min_objects=2, max_objects=4)
    image, index = render(scene, 64)
    k = seed % len(scene.objects)
    same = [i for i, o in enumerate(scene.objects) if o.shape == scene.objects[k].shape]
    if len(same) < 2 or any(not (index == i).any() for i in same):
        return None
    centres = {i: np.argwhere(index == i).mean(axis=0)[::-1] / 64 for i in same}  # (x, y)
    spread = np.ptp(np.stack(list(centres.values())), axis=0)
    axis = int(np.argmax(spread))
    values = [centres[i][axis] for i in same]
    if centres[k][axis] == min(values):
        side = ("on the left", "at the top")[axis]
    elif centres[k][axis] == max(values):
        side = ("on the right", "at the bottom")[axis]
    else:
        return None
    return image, fill_holes(index == k), scene.objects[k].shape, side


def _summary(ious: list[float], asked: list[bool]) -> dict[str, float]:
    hits = np.array(ious) > 0.5
    return {"finds": len(ious), "hit_rate": float(hits.mean()), "mean_iou": float(np.mean(ious)),
            "asked_rate": float(np.mean(asked))}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="held-out scenes")
    parser.add_argument("--seed", type=int, default=100_000, help="first held-out scene seed")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    results = measure(args.n, args.seed)
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"locate on {args.n} held-out miniworld scenes (seeds {args.seed}+)\n")
    print(f"| {'named by':<24} | finds | hit (IoU > 0.5) | mean IoU | asked which |")
    print(f"|{'-' * 26}|-------|-----------------|----------|-------------|")
    for naming in (*NAMINGS, SHARED_PLACED, SHARED):
        r = results[naming]
        hit, iou = (
            (f"{r['hit_rate']:>15.1%}", f"{r['mean_iou']:>8.3f}")
            if "hit_rate" in r
            else ("-" * 15, "-" * 8)
        )
        print(f"| {naming:<24} | {r['finds']:>5} | {hit} | {iou} | {r['asked_rate']:>11.1%} |")
    print(f"\n(asked which: right for '{SHARED}', needless for the others)")
    print(f"\nmedian time per find: {results['time']['ms_per_find']:.0f} ms (1 thread)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
