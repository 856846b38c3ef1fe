"""Scenes described in words, drawn by the default model as a person would get them: the
instruction planned by the fast path (its layout solver gives each object a blob), rendered,
and checked by the verifier the agent loop uses. What a person sees on a first try.

    python benchmarks/scenes.py                 # held-out prompts, 4 seeds each
    python benchmarks/scenes.py --split dev --seeds 2 --json

The prompts are in ``benchmarks/data/scenes-{dev,heldout}.txt`` (one a line). For each prompt and
seed (0, 1, ...) the plan's first render is checked: ``first_try_verified`` is the share of renders
the verifier passes; the table lists each failure's first reason. The held-out prompts were
written, and run once, before they were committed; the layout change of 2026-12-03 (grids of
near-square cells) was chosen on the dev prompts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parent / "data"
SIDE = 64
STEPS = 20


def prompts(split: str) -> list[str]:
    lines = (DATA / f"scenes-{split}.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def measure(split: str, seeds: int, model: str) -> dict[str, object]:
    import numpy as np

    from anypix.agent.planner import Planner
    from anypix.agent.verify import Verifier
    from anypix.models.diffusion import load_components
    from anypix.tools.preset import default_perception
    from anypix.tools.render import render

    perception = default_perception(model)
    if perception is None:
        raise SystemExit(f"scenes: the preset {model!r} has no verifier to check its scenes")
    components, verifier, planner = load_components(model), Verifier(perception), Planner(None)
    rows, started = [], time.perf_counter()
    for prompt in prompts(split):
        plan = planner.plan(prompt, {}).plan
        for seed in range(seeds):
            knobs = plan.knobs.model_copy(update={"seed": seed, "size": (SIDE, SIDE),
                                                  "steps": STEPS})  # fmt: skip
            drawn = render(plan.model_copy(update={"knobs": knobs}), {}, components)
            image = np.asarray(drawn.images[0].convert("RGB"))
            failed = [c.reason for c in verifier(plan, image, None).checks if not c.passed]
            rows.append({"prompt": prompt, "seed": seed, "verified": not failed,
                         "why": failed[0] if failed else ""})  # fmt: skip
        print(f"scenes: {prompt} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    verified = [row["verified"] for row in rows]
    return {"split": split, "model": model, "prompts": len(rows) // max(1, seeds),
            "seeds": seeds, "renders": len(rows),
            "first_try_verified": sum(verified) / max(1, len(verified)), "rows": rows}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--split", choices=("heldout", "dev"), default="heldout")
    parser.add_argument("--seeds", type=int, default=4, help="renders of each prompt")
    parser.add_argument("--model", default="miniworld")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    import torch

    torch.set_num_threads(args.threads)
    results = measure(args.split, args.seeds, args.model)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"| prompt ({results['split']}) | verified on the first try |")
    print("|---|---|")
    by_prompt: dict[str, list[dict[str, object]]] = {}
    for row in results["rows"]:  # type: ignore[attr-defined]
        by_prompt.setdefault(str(row["prompt"]), []).append(row)
    for prompt, rows in by_prompt.items():
        reasons = "; ".join(sorted({str(r["why"]) for r in rows if not r["verified"]}))
        passed = sum(bool(r["verified"]) for r in rows)
        print(f"| {prompt} | {passed}/{len(rows)}{' (' + reasons + ')' if reasons else ''} |")
    print(f"\nfirst_try_verified: {results['first_try_verified']:.3f} "
          f"({results['renders']} renders)")  # fmt: skip


if __name__ == "__main__":
    main()
