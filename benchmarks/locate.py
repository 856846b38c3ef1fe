"""Locating the object an edit names (anypix/tools/locate.py) on held-out miniworld scenes.

    python benchmarks/locate.py            # n = 200 scenes
    python benchmarks/locate.py --json

Each scene (1-4 objects, seeds from --seed) names one of its objects three ways: by colour and
shape ("the red ring"), by shape alone (only when no other object has that shape) and by colour
alone ("the red object"). A find is a hit when the blob it returns overlaps the object's
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

from anypix.models.miniworld.naming import NAMINGS, named_object
from anypix.plan import Op
from anypix.tools.locate import found_iou
from anypix.tools.preset import default_locator


def measure(n: int, seed: int) -> dict[str, dict[str, float]]:
    locator = default_locator("miniworld")
    assert locator is not None
    locator.encoder.embed_texts(["a ring"])  # load MiniLM before the clock starts
    ious: dict[str, list[float]] = {naming: [] for naming in NAMINGS}
    seconds: list[float] = []
    for s in range(seed, seed + n):
        case = named_object(s)
        for naming, phrase in case.phrases.items():
            started = time.perf_counter()
            found = locator.find(Op(op="recolor", target=f"{phrase} green"), case.image)
            seconds.append(time.perf_counter() - started)
            ious[naming].append(found_iou(found, case.truth))
    results = {naming: _summary(v) for naming, v in ious.items()}
    results["time"] = {"ms_per_find": 1000 * float(np.median(seconds))}
    return results


def _summary(ious: list[float]) -> dict[str, float]:
    hits = np.array(ious) > 0.5
    return {"finds": len(ious), "hit_rate": float(hits.mean()), "mean_iou": float(np.mean(ious))}


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
    print(f"| {'named by':<17} | finds | hit (IoU > 0.5) | mean IoU |")
    print(f"|{'-' * 19}|-------|-----------------|----------|")
    for naming in NAMINGS:
        r = results[naming]
        print(
            f"| {naming:<17} | {r['finds']:>5} | {r['hit_rate']:>14.1%} | {r['mean_iou']:>8.3f} |"
        )
    print(f"\nmedian time per find: {results['time']['ms_per_find']:.0f} ms (1 thread)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
