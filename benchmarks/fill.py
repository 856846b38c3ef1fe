"""Background continuation (anypix/tools/fill.py) where no one offset fills the hole, on miniworld
scenes: the period fill against the harmonic fill it replaced there.

    python benchmarks/fill.py                 # n = 300 held-out scenes from seed 100000
    python benchmarks/fill.py --json

Each scene (2-4 objects) is drawn exactly; each object of 30 px or more is taken out in turn, as
remove and move take it out (its mask grown by ``ops.HOLE_GROW``, not into another object). Only
the holes :func:`~anypix.tools.fill.best_offset` cannot fill with one copy are scored (the others
never reach either fill). The error is the mean absolute difference (0-255) from the scene drawn
without that object, over the hole's pixels that show the background there; no model runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anypix.models.masks import objects_mask
from anypix.models.miniworld.data import Scene, random_scene, render
from anypix.tools.fill import best_offset, continue_background, dilate, harmonic_fill
from anypix.tools.ops import HOLE_GROW

MIN_OBJECT = 30  # px
MIN_BEHIND = 20  # px of the hole that show the background once the object is gone


def measure(n: int, seed: int) -> dict[str, dict[str, float]]:
    """Per texture (and "all"): holes scored, the period fill's error and the harmonic fill's."""
    rows: list[tuple[str, float, float]] = []
    for s in range(seed, seed + n):
        scene = random_scene(s, min_objects=2, max_objects=4)
        image, index = render(scene)
        for k, obj in enumerate(scene.objects):
            shape = index == k
            if shape.sum() < MIN_OBJECT:
                continue
            rest = Scene(scene.seed, scene.style, tuple(o for o in scene.objects if o is not obj))
            truth, truth_index = render(rest)
            hole = dilate(shape, HOLE_GROW) & ~((index >= 0) & ~shape)
            behind = hole & (truth_index == -1)
            others = objects_mask(image) & ~hole
            if behind.sum() < MIN_BEHIND or best_offset(image, hole, others) is not None:
                continue
            filled = continue_background(image, hole)
            smooth = harmonic_fill(image, hole, others)
            rows.append((scene.style.texture,
                         float(np.abs(filled[behind].astype(int) - truth[behind]).mean()),
                         float(np.abs(smooth[behind].astype(int) - truth[behind]).mean())))  # fmt: skip
    figures: dict[str, dict[str, float]] = {}
    for texture in [*sorted({r[0] for r in rows}), "all"]:
        mine = [r for r in rows if texture in ("all", r[0])]
        figures[texture] = {"holes": len(mine), "period_fill_error": float(np.mean([r[1] for r in mine])),
                            "harmonic_fill_error": float(np.mean([r[2] for r in mine]))}  # fmt: skip
    return figures


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="scenes (default 300)")
    parser.add_argument("--seed", type=int, default=100_000, help="first held-out scene seed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    figures = measure(args.n, args.seed)
    if args.json:
        print(json.dumps(figures))
        return figures
    print(f"holes no one offset fills, {args.n} scenes from seed {args.seed}: mean error (0-255)")
    print("| background | holes | period fill | harmonic fill |")
    print("|---|---|---|---|")
    for texture, row in figures.items():
        print(f"| {texture} | {row['holes']:.0f} | {row['period_fill_error']:.1f} | "
              f"{row['harmonic_fill_error']:.1f} |")  # fmt: skip
    return figures


if __name__ == "__main__":
    main()
