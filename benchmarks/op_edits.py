"""Per-op success of a single render (no verification, no retries) on held-out miniworld scenes,
judged against each scene's ground truth (:mod:`anypix.models.miniworld.op_cases`).

    OMP_NUM_THREADS=1 python benchmarks/op_edits.py --scenes 16 [--ops remove,move] [--json]

Each case goes the way a turn goes: the fast-path planner reads the instruction, the preset's
locator finds the object, the render draws the plan (seed = the case's seed). Prints one row
per op: successes, rate, seconds per edit, and the first failures' reasons.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

FIRST_SEED = 100000


@dataclass
class OpFigures:
    op: str
    passed: int = 0
    total: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.passed / max(1, self.total)


def run_case(op: str, seed: int, components, locator) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    """Plan, locate and render one case; (success, why) as its judge says."""
    import numpy as np
    from PIL import Image

    from anypix.agent.grammar import parse_instruction
    from anypix.lexicon import needs_location
    from anypix.models.miniworld.op_cases import op_case
    from anypix.plan import Knobs
    from anypix.tools.render import render

    case = op_case(op, seed)
    images = {name: Image.fromarray(pixels) for name, pixels in case.assets.items()}
    plan = parse_instruction(case.instruction, {name: "image" for name in images})
    plan = plan.model_copy(update={"knobs": Knobs(**{**plan.knobs.model_dump(), "seed": seed})})
    if locator is not None and needs_location(plan):
        plan = locator(plan, images)
    output = np.asarray(render(plan, images, components).images[0].convert("RGB"))
    return case.judge(output)


def measure(
    ops: Sequence[str], scenes: int, model: str = "miniworld", verbose: bool = False
) -> list[OpFigures]:
    from anypix.errors import AnypixError
    from anypix.models.diffusion import load_components
    from anypix.tools.preset import default_locator

    components = load_components(model)
    locator = default_locator(model)
    table = []
    for op in ops:
        figures = OpFigures(op)
        for seed in range(FIRST_SEED, FIRST_SEED + scenes):
            started = time.perf_counter()
            try:
                ok, why = run_case(op, seed, components, locator)
            except AnypixError as exc:  # the planner or the locator refused: a failed edit
                ok, why = False, f"{type(exc).__name__}: {exc}"
            figures.seconds += time.perf_counter() - started
            figures.total += 1
            figures.passed += ok
            if not ok:
                figures.failures.append(f"{seed}: {why}")
            if verbose:
                print(f"  {op} {seed}: {'ok' if ok else 'FAILED'}, {why}", flush=True)
        table.append(figures)
        print(f"{op:10s} {figures.passed:3d}/{figures.total:<3d} {figures.rate:5.0%} "
              f"{figures.seconds / figures.total:5.1f} s  {'; '.join(figures.failures[:2])}",
              flush=True)  # fmt: skip
    return table


def main(argv: Sequence[str] | None = None) -> int:
    from anypix.models.miniworld.op_cases import OPS_MEASURED

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenes", type=int, default=16)
    parser.add_argument("--ops", default=",".join(OPS_MEASURED))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="one line per case")
    args = parser.parse_args(argv)
    table = measure(args.ops.split(","), args.scenes, verbose=args.verbose)
    if args.json:
        print(json.dumps({f"op_success_{f.op}_single": round(f.rate, 3) for f in table}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
