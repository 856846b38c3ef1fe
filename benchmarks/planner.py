"""Planner benchmark: plan quality and latency per backend, on edit and layout sets.

    python benchmarks/planner.py                      # fast path alone, then fast path + SmolLM2
    python benchmarks/planner.py --backends smollm2-css --sets layout   # LLM layouts vs solver
    python benchmarks/planner.py --json               # one JSON object per backend

Edit rows (``planner-dev.jsonl`` format: assets, instruction, base, subs, ops_any, style_ref) score
valid plans, references (base, subs and style_ref all right) and ops (the multiset of op kinds is
one of ``ops_any``). Layout rows (``layout-dev.jsonl`` format: instruction, counts, relations)
score counts (every counted noun has exactly that many blobs) and relations (every pair of blobs
of the two nouns keeps the relation, judged on blob centres). A plan that fails counts as wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from anypix.agent.layout import singular  # noqa: E402
from anypix.plan import Blob  # noqa: E402

EDIT_SETS = [
    ROOT.parent.parent / "shared" / "planner-dev.jsonl",
    ROOT / "data" / "planner-edit.jsonl",
]
LAYOUT_SETS = [ROOT.parent.parent / "shared" / "layout-dev.jsonl", ROOT / "data" / "layout.jsonl"]
HELDOUT_EDIT = [ROOT / "data" / "heldout.jsonl"]  # written after the grammar, never tuned on
HELDOUT_LAYOUT = [ROOT / "data" / "heldout-layout.jsonl"]


def read_rows(paths: list[Path]) -> list[dict[str, Any]]:
    """Rows of every set that exists, each instruction once (our sets repeat the shared dev rows)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for path in paths:
        if path.exists():
            for line in filter(str.strip, path.read_text().splitlines()):
                row = json.loads(line)
                key = (row["instruction"], json.dumps(row.get("assets", {}), sort_keys=True))
                rows.setdefault(key, row)
    return list(rows.values())


def make_planner(name: str) -> Any:
    from anypix.agent.llm import LlamaCppLLM
    from anypix.agent.planner import Planner

    threads = int(os.environ.get("ANYPIX_THREADS", "2"))
    if name == "fast":
        return Planner(None)
    if name == "smollm2":
        return Planner(LlamaCppLLM(n_threads=threads))
    if name == "smollm2-only":  # no fast path: what the LLM does alone
        return Planner(LlamaCppLLM(n_threads=threads), fast_path=False)
    if name == "smollm2-css":  # LLM layouts in BlobGEN's CSS form instead of the solver
        return Planner(LlamaCppLLM(n_threads=threads), layout="llm")
    if name == "openai":
        from anypix.agent.llm import get_backend

        return Planner(get_backend("openai"))
    raise SystemExit(f"unknown backend {name!r}")


def blobs_of(blobs: list[Blob], noun: str) -> list[Blob]:
    found = []
    for blob in blobs:
        base = singular(re.sub(r"[_\-]?\d+$", "", blob.label.lower()))
        if base == noun or base.endswith(noun):
            found.append(blob)
    return found


def relation_holds(blobs: list[Blob], rel: list[str]) -> bool:
    a = blobs_of(blobs, rel[0])
    if rel[1] == "between":
        b, c = blobs_of(blobs, rel[2]), blobs_of(blobs, rel[3])
        if not (a and b and c):
            return False
        mean = lambda group, axis: statistics.fmean(getattr(x, axis) for x in group)  # noqa: E731
        return any(
            min(mean(b, ax), mean(c, ax)) < mean(a, ax) < max(mean(b, ax), mean(c, ax))
            for ax in ("cx", "cy")
        )
    b = blobs_of(blobs, rel[2])
    if not (a and b):
        return False
    tests = {
        "left_of": lambda p, q: p.cx < q.cx,
        "right_of": lambda p, q: p.cx > q.cx,
        "above": lambda p, q: p.cy < q.cy,
        "below": lambda p, q: p.cy > q.cy,
    }
    return all(tests[rel[1]](p, q) for p in a for q in b)


def run_edit(planner: Any, row: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        result = planner.plan(row["instruction"], row["assets"])
    except Exception as exc:  # any failure is an invalid plan for this row
        seconds = time.perf_counter() - start
        return {"valid": False, "ref": False, "op": False, "s": seconds, "llm": planner.backend is not None,
                "why": str(exc)[:120]}  # fmt: skip
    plan = result.plan
    seconds = time.perf_counter() - start
    kinds = sorted(op.op for op in plan.ops)
    ref_ok = (plan.base, sorted(plan.subs), plan.style_ref) == (
        row["base"],
        sorted(row["subs"]),
        row["style_ref"],
    )
    op_ok = any(kinds == sorted(ops) for ops in row["ops_any"])
    llm = result.source == "llm"
    return {"valid": True, "ref": ref_ok, "op": op_ok, "s": seconds, "llm": llm, "why": ""}


def run_layout(planner: Any, name: str, row: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        if name == "smollm2-css":
            blobs = planner.layout_blobs(row["instruction"])
        else:
            blobs = planner.plan(row["instruction"], {}).plan.blobs
    except Exception as exc:
        return {
            "valid": False,
            "count": False,
            "rels": [False] * len(row["relations"]),
            "s": time.perf_counter() - start,
            "why": str(exc)[:120],
        }
    seconds = time.perf_counter() - start
    count_ok = all(len(blobs_of(blobs, noun)) == n for noun, n in row["counts"].items())
    rels = [relation_holds(blobs, rel) for rel in row["relations"]]
    return {"valid": True, "count": count_ok, "rels": rels, "s": seconds, "why": ""}


def score(
    name: str, edits: list[dict[str, Any]], layouts: list[dict[str, Any]], limit: int | None
) -> dict[str, Any]:
    planner = make_planner(name)
    edit_results = [run_edit(planner, row) for row in edits[:limit]]
    layout_results = [run_layout(planner, name, row) for row in layouts[:limit]]
    results = edit_results + layout_results
    rels = [r for result in layout_results for r in result["rels"]]
    frac = lambda items: round(sum(items) / len(items), 4) if items else None  # noqa: E731
    return {
        "backend": name,
        "edit_rows": len(edit_results),
        "layout_rows": len(layout_results),
        "valid_rate": frac([r["valid"] for r in results]),
        "reference_accuracy": frac([r["ref"] for r in edit_results]),
        "op_accuracy": frac([r["op"] for r in edit_results]),
        "layout_count_accuracy": frac([r["count"] for r in layout_results]),
        "layout_relation_accuracy": frac(rels),
        "median_latency_s": round(statistics.median(r["s"] for r in results), 4)
        if results
        else None,
        "llm_rows": sum(r.get("llm", False) for r in edit_results),
        "median_llm_latency_s": _median([r["s"] for r in edit_results if r.get("llm")]),
        "p90_latency_s": round(statistics.quantiles([r["s"] for r in results], n=10)[-1], 3)
        if len(results) > 1
        else None,
        "failures": [
            {"instruction": row["instruction"], "why": r.get("why", "")}
            for row, r in zip(edits[:limit] + layouts[:limit], results, strict=True)
            if not (
                r["valid"]
                and r.get("ref", True)
                and r.get("op", True)
                and r.get("count", True)
                and all(r.get("rels", []))
            )
        ],
    }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="fast,smollm2", help="comma-separated")
    parser.add_argument("--sets", default="edit,layout", help="edit, layout or both")
    parser.add_argument("--limit", type=int, default=None, help="rows per set (for a quick look)")
    parser.add_argument("--json", action="store_true", help="one JSON object per backend")
    parser.add_argument("--heldout", action="store_true", help="score the held-out sets instead")
    parser.add_argument(
        "--failures", action="store_true", help="list the rows each backend got wrong"
    )
    args = parser.parse_args()
    held = args.heldout
    edits = read_rows(HELDOUT_EDIT if held else EDIT_SETS) if "edit" in args.sets else []
    layouts = read_rows(HELDOUT_LAYOUT if held else LAYOUT_SETS) if "layout" in args.sets else []
    reports = [score(name, edits, layouts, args.limit) for name in args.backends.split(",")]
    if args.json:
        for report in reports:
            if not args.failures:
                report = {k: v for k, v in report.items() if k != "failures"}
            print(json.dumps(report))
        return
    header = (
        "backend",
        "rows",
        "valid",
        "reference",
        "ops",
        "layout count",
        "layout relation",
        "median s",
        "p90 s",
        "LLM-planned rows",
        "median s, LLM rows",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for r in reports:
        pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
        print(
            f"{r['backend']} | {r['edit_rows']}+{r['layout_rows']} | {pct(r['valid_rate'])} | "
            f"{pct(r['reference_accuracy'])} | {pct(r['op_accuracy'])} | {pct(r['layout_count_accuracy'])} | "
            f"{pct(r['layout_relation_accuracy'])} | {r['median_latency_s']} | {r['p90_latency_s']} | "
            f"{r['llm_rows']} | {r['median_llm_latency_s']}"
        )
        if args.failures:
            for failure in r["failures"]:
                print(f"    x {failure['instruction']}  {failure['why']}")


if __name__ == "__main__":
    main()
