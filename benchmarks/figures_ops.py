"""Every op end to end, with the agent's verify step off and on (``fidelity.py --only ops``).

    python benchmarks/figures_ops.py --n 24             # 24 held-out scenes per op, a table
    python benchmarks/figures_ops.py --quick --json     # 2 scenes per op, 4 steps: a smoke run

Each case (:func:`anypix.models.miniworld.op_cases.op_case`: a held-out scene, the instruction a
person would type for the op, and a judge that measures an output against the scene's ground
truth) goes through a real turn: ``Session.edit`` with the fast-path planner, the preset's
locator, its renderer and its verifier, stored in a temporary data dir. From that one turn:

* ``op_success_<op>_unverified``: the judge on the first render (what a turn with verification
  off delivers; same seed, same plan);
* ``op_success_<op>``: the judge on the output the turn keeps after its checks and corrections
  (the verified one, or the best attempt of a turn stored as failed);
* ``op_flagged_<op>``: the share of turns stored as failed (not verified after every attempt);
* ``verify_attempts_mean``: renders per edit with verification on;
* ``seconds_per_edit_verified`` / ``_unverified``: the turn's step time, all steps vs the steps up
  to the first render (storage excluded from both), and their ratio;
* the verifier's own accuracy: each attempt's verdict against the judge on that attempt's
  output: ``verifier_false_accepts`` (passed, judged wrong) over the wrong outputs,
  ``verifier_false_rejects`` (failed, judged right) over the right ones.

The judge measures pixels against the scene (colour masks, the world's shapes); the verifier
sees with the model family's perception (binding encoder over image regions). They share no
code, so the loop's gains are not its own judgement of itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from anypix.models.miniworld.op_cases import OPS_MEASURED as OPS

FIRST_SEED = 100_000  # held out: training draws scenes from other seeds
Figures = dict[str, Any]


@dataclass
class Attempt:
    output: np.ndarray
    verified: bool


@dataclass
class CaseResult:
    op: str
    first_right: bool
    kept_right: bool
    flagged: bool
    attempts: list[tuple[bool, bool]] = field(default_factory=list)  # (verified, judged right)
    seconds_unverified: float = 0.0
    seconds_verified: float = 0.0
    why: str = ""


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def run_case(session: Any, op: str, seed: int, folder: Path, bench: Any) -> CaseResult:
    """One case through one verified turn; the judge on every attempt."""
    from anypix.agent.steps import StepRecord
    from anypix.errors import AnypixError, TurnFailed
    from anypix.knobs import EditOptions
    from anypix.models.miniworld.op_cases import op_case

    case = op_case(op, seed)
    assets = case.save_assets(folder / f"{op}-{seed}")
    steps: list[StepRecord] = []
    options = EditOptions(seed=seed, steps=bench.steps, guidance=bench.guidance)
    try:
        turn = session.edit(case.instruction, assets, options=options, on_step=steps.append)
        flagged = False
    except TurnFailed as failed:
        turn, flagged = failed.turn, True
        if not failed.turn.renders:  # failed before any render: nothing to judge
            return CaseResult(op, False, False, True, why=str(failed))
    except AnypixError as exc:  # refused before it ran (the planner could not read it)
        return CaseResult(op, False, False, True, why=f"{type(exc).__name__}: {exc}")
    renders = [s for s in steps if s.tool == "render" and s.error is None]
    first = renders[0].value.images[0].convert("RGB")
    result = CaseResult(op, bool(case.judge(np.asarray(first))[0]),
                        bool(case.judge(_pixels(turn.renders[0].path))[0]), flagged)  # fmt: skip
    drawn: np.ndarray | None = None
    for step in steps:
        if step.tool == "render" and step.error is None:
            drawn = np.asarray(step.value.images[0].convert("RGB"))
        elif step.tool == "verify" and drawn is not None:
            result.attempts.append((step.error is None, bool(case.judge(drawn)[0])))
            drawn = None  # a variation's verify checks its own render
    upto = next(i for i, s in enumerate(steps) if s is renders[0])
    result.seconds_unverified = sum(s.seconds for s in steps[: upto + 1])
    result.seconds_verified = sum(s.seconds for s in steps)
    if not result.kept_right:
        result.why = case.judge(_pixels(turn.renders[0].path))[1]
    return result


def _rate(hits: Sequence[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def summarise(results: Sequence[CaseResult]) -> Figures:
    figures: Figures = {}
    for op in OPS:
        mine = [r for r in results if r.op == op]
        if not mine:
            continue
        figures[f"op_success_{op}"] = _rate([r.kept_right for r in mine])
        figures[f"op_success_{op}_unverified"] = _rate([r.first_right for r in mine])
        figures[f"op_flagged_{op}"] = _rate([r.flagged for r in mine])
    attempts = [pair for r in results for pair in r.attempts]
    renders = [len(r.attempts) for r in results if r.attempts]
    figures["verify_attempts_mean"] = float(mean(renders)) if renders else None
    wrong = [verified for verified, right in attempts if not right]
    right = [verified for verified, right in attempts if right]
    figures["verifier_checks"] = len(attempts)
    figures["verifier_false_accepts"] = _rate(wrong)
    figures["verifier_false_rejects"] = _rate([not v for v in right])
    figures["verifier_accuracy"] = _rate([v == r for v, r in attempts])
    timed = [r for r in results if r.seconds_unverified > 0]
    if timed:
        plain = mean(r.seconds_unverified for r in timed)
        checked = mean(r.seconds_verified for r in timed)
        figures.update(seconds_per_edit_unverified=plain, seconds_per_edit_verified=checked,
                       verified_time_ratio=checked / plain)  # fmt: skip
    return figures


def ops_figures(bench: Any, seeds: Sequence[int]) -> tuple[Figures, Figures]:
    """Every op on ``seeds`` (the same scenes for each op); no ground-truth ceiling (the judge
    passes every ground-truth output by construction)."""
    results = run_all(bench, seeds, OPS)
    return summarise(results), {}


def run_all(
    bench: Any, seeds: Sequence[int], ops: Sequence[str], log: Path | None = None
) -> list[CaseResult]:
    """Every op on every seed through verified turns; each result is also appended to ``log``
    (JSON lines) as it comes, so a run cut short still has its figures (``--from-log``)."""
    from anypix.agent.planner import Planner
    from anypix.agent.verify import Verifier
    from anypix.studio import Studio
    from anypix.tools.preset import default_locator, default_perception

    preset = bench.components.preset
    perception = default_perception(preset)
    if perception is None:
        raise SystemExit(f"figures_ops: preset {preset!r} has no verifier to measure")

    def renderer(plan: Any, assets: Any, **options: Any) -> Any:
        from anypix.tools.render import render

        return render(plan, assets, bench.components, progress=options.get("progress"),
                      cancel=options.get("cancel"))  # fmt: skip

    results: list[CaseResult] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="anypix-ops-") as folder:
        studio = Studio(Path(folder) / "data", planner=Planner(None), renderer=renderer,
                        locator=default_locator(preset), verifier=Verifier(perception))  # fmt: skip
        for seed in seeds:  # every op on a scene before the next scene: a cut run covers all
            for op in ops:
                result = run_case(studio.new_session(), op, seed, Path(folder), bench)
                results.append(result)
                if log is not None:
                    with log.open("a") as lines:
                        lines.write(json.dumps(asdict(result)) + "\n")
            print(f"ops: scene {seed}: {len(results)} edits, "
                  f"{sum(r.kept_right for r in results)} right verified, "
                  f"{sum(r.first_right for r in results)} unverified "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)  # fmt: skip
        studio.close()
    return results


def print_table(figures: Figures, header: str) -> None:
    print(header)
    print(f"| {'op':<10} | {'unverified':>10} | {'verified':>8} | {'flagged':>7} |")
    print(f"|{'-' * 12}|{'-' * 12}|{'-' * 10}|{'-' * 9}|")
    for op in OPS:
        if f"op_success_{op}" in figures:
            print(f"| {op:<10} | {figures[f'op_success_{op}_unverified']:>10.3f} | "
                  f"{figures[f'op_success_{op}']:>8.3f} | {figures[f'op_flagged_{op}']:>7.3f} |")  # fmt: skip
    for key in ("verify_attempts_mean", "verifier_checks", "verifier_accuracy",
                "verifier_false_accepts", "verifier_false_rejects", "seconds_per_edit_unverified",
                "seconds_per_edit_verified", "verified_time_ratio"):  # fmt: skip
        value = figures.get(key)
        print(f"{key}: {'n/a' if value is None else round(value, 3)}")


def main(argv: Sequence[str] | None = None) -> Figures:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=24, help="held-out scenes per op (default 24)")
    parser.add_argument("--ops", default=",".join(OPS), help="comma-separated subset of ops")
    parser.add_argument("--model", default="miniworld")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=FIRST_SEED, help="first held-out seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 scenes per op, 4 steps")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--log", type=Path, help="append each edit's result here (JSON lines)")
    parser.add_argument("--from-log", type=Path, nargs="+", metavar="LOG",
                        help="summarise results already logged instead of running")  # fmt: skip
    args = parser.parse_args(argv)
    if args.from_log:
        logged = [CaseResult(**json.loads(line)) for log in args.from_log
                  for line in log.read_text().splitlines() if line.strip()]  # fmt: skip
        figures = summarise(logged)
        figures.update(edits=len(logged))
        if args.json:
            print(json.dumps(figures, indent=2))
        else:
            print_table(figures, f"ops: {len(logged)} logged edits")
        return figures
    if args.quick:
        args.n, args.steps = 2, 4
    unknown = sorted(set(args.ops.split(",")) - set(OPS))
    if unknown or args.n < 1:
        parser.error(f"--ops: unknown {', '.join(unknown)}" if unknown else "--n must be >= 1")
    import torch

    from anypix.models.diffusion import load_components

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    bench = _Bench(load_components(args.model), args.steps, None)
    seeds = list(range(args.seed, args.seed + args.n))
    figures = summarise(run_all(bench, seeds, args.ops.split(","), args.log))
    figures.update(model=args.model, n=args.n, steps=args.steps, seed=args.seed,
                   seconds=round(time.perf_counter() - started, 1))  # fmt: skip
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures, f"ops: {args.model}, {args.n} scenes per op from seed {args.seed}, "
                             f"{args.steps} steps, {figures['seconds']:.0f} s")  # fmt: skip
    return figures


@dataclass
class _Bench:
    """What fidelity.py's Bench gives a figure: the loaded model and the sampling knobs."""

    components: Any
    steps: int
    guidance: float | None


if __name__ == "__main__":
    main()
