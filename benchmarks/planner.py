"""Planner benchmark: plan quality and latency per backend, on the everyday edit and layout sets.

    python benchmarks/planner.py                      # fast path, everyday held-out set
    python benchmarks/planner.py --dev                # ... and the everyday dev set
    python benchmarks/planner.py --legacy             # the older template sets instead
    python benchmarks/planner.py --split dev --failures   # what to look at when improving
    python benchmarks/planner.py --backends fast,smollm2 --limit 8
    python benchmarks/planner.py --backends planner,planner-only,smollm2-short   # trained model
    python benchmarks/planner.py --backends planner-only --adapter runs/planner/weights
    python benchmarks/planner.py --backends smollm2-css --sets layout   # LLM layouts vs solver
    python benchmarks/planner.py --json               # one JSON object per backend and split

The sets and their split are described in ``benchmarks/data/README.md``. Edit rows score valid
answers (a plan, or the question a row expects), references (base, subs and style_ref all right)
and ops (the multiset of op kinds is one of ``ops_any``; the same op repeated in a row, as an
add of "two pigeons" is split into, counts once); a row that expects a question is right
on both when the planner asks and names the expected assets. Layout rows score counts (every
counted noun has exactly that many blobs), relations (judged on blob centres) and refusals
(descriptions that must be refused with an error). A plan that fails counts as wrong.
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
from anypix.errors import AnypixError, ClarificationNeeded  # noqa: E402
from anypix.plan import Blob  # noqa: E402

DATA = ROOT / "data"
SHARED = ROOT.parent.parent / "shared"
SPLITS: dict[str, tuple[list[Path], list[Path]]] = {  # name -> (edit files, layout files)
    "heldout": ([DATA / "everyday-edit-heldout.jsonl"], [DATA / "everyday-layout-heldout.jsonl"]),
    "dev": ([DATA / "everyday-edit-dev.jsonl"], [DATA / "everyday-layout-dev.jsonl"]),
    "legacy-dev": (
        [SHARED / "planner-dev.jsonl", DATA / "planner-edit.jsonl"],
        [SHARED / "layout-dev.jsonl", DATA / "layout.jsonl"],
    ),
    "legacy-heldout": ([DATA / "heldout.jsonl"], [DATA / "heldout-layout.jsonl"]),
}


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


ADAPTER: Path | None = None  # --adapter: a trained planner's adapter instead of the shipped one


def _trained(threads: int) -> Any:
    from anypix.agent.llm import LlamaCppLLM, planner_adapter

    adapter = ADAPTER or planner_adapter()
    if adapter is None:
        raise SystemExit("no trained planner adapter: train one or give --adapter")
    if adapter.is_dir():
        adapter = adapter / "planner-lora.gguf"
    return LlamaCppLLM(n_threads=threads, n_ctx=1024, lora_path=adapter)


def _untrained_short(threads: int) -> Any:
    """Plain SmolLM2 asked with the trained planner's short prompt (the untrained baseline)."""
    from anypix.agent.llm import LlamaCppLLM

    backend = LlamaCppLLM(n_threads=threads, n_ctx=1024)
    backend.short_prompt = True
    return backend


def make_planner(name: str) -> Any:
    from anypix.agent.llm import LlamaCppLLM
    from anypix.agent.planner import Planner

    threads = int(os.environ.get("ANYPIX_THREADS", "1"))
    if name == "fast":
        return Planner(None)
    if name == "planner":  # the fast path, then the trained model (what 'auto' runs)
        return Planner(_trained(threads))
    if name == "planner-only":  # every row through the trained model
        return Planner(_trained(threads), fast_path=False)
    if name == "smollm2-short":  # every row through untrained SmolLM2, short prompt
        return Planner(_untrained_short(threads), fast_path=False)
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


# -- judging layouts --------------------------------------------------------------------------------


def blobs_of(blobs: list[Blob], noun: str) -> list[Blob]:
    found = []
    for blob in blobs:
        base = singular(re.sub(r"[_\-]?\d+$", "", blob.label.lower()))
        if base == noun or base.endswith(noun):
            found.append(blob)
    return found


def _between(a: list[Blob], b: list[Blob], c: list[Blob]) -> bool:
    """a's centre lies between b and c on some axis; "between two rings" (b is c) means between
    the two rings' extremes."""
    for axis in ("cx", "cy"):
        if b is c:
            ends = [getattr(x, axis) for x in b]
            lo, hi = (min(ends), max(ends)) if len(ends) > 1 else (0.0, 0.0)
        else:
            mean_b = statistics.fmean(getattr(x, axis) for x in b)
            mean_c = statistics.fmean(getattr(x, axis) for x in c)
            lo, hi = min(mean_b, mean_c), max(mean_b, mean_c)
        if all(lo < getattr(x, axis) < hi for x in a):
            return True
    return False


def _inside(p: Blob, q: Blob) -> bool:
    """p's centre is within q's ellipse (axis-aligned reading) and p is the smaller blob."""
    return ((p.cx - q.cx) / q.a) ** 2 + ((p.cy - q.cy) / q.b) ** 2 <= 1 and p.a < q.a


PAIR_TESTS = {
    "left_of": lambda p, q: p.cx < q.cx,
    "right_of": lambda p, q: p.cx > q.cx,
    "above": lambda p, q: p.cy < q.cy,
    "below": lambda p, q: p.cy > q.cy,
    "next_to": lambda p, q: abs(p.cx - q.cx) > abs(p.cy - q.cy),  # side by side
    "inside": _inside,
}


def relation_holds(blobs: list[Blob], rel: list[str]) -> bool:
    a = blobs_of(blobs, rel[0])
    if rel[1] == "between":
        b, c = blobs_of(blobs, rel[2]), blobs_of(blobs, rel[3])
        return bool(a and b and c) and _between(a, b, b if rel[2] == rel[3] else c)
    b = blobs_of(blobs, rel[2])
    return bool(a and b) and all(PAIR_TESTS[rel[1]](p, q) for p in a for q in b)


# -- one row ----------------------------------------------------------------------------------------


def _references(row: dict[str, Any]) -> Any:
    """This turn's attachments, as a front end passes them: the row's ``files``, else every
    asset but ``last`` (legacy rows name no files: their assets all came with the instruction)."""
    from anypix.agent.references import References

    if "files" in row:
        return References(files=row["files"])
    return References(files={name: name for name in row.get("assets", {}) if name != "last"})


def run_edit(planner: Any, row: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    expected_question = row.get("clarify")
    try:
        result = planner.plan(row["instruction"], row["assets"], references=_references(row))
    except ClarificationNeeded as exc:
        offered = " ".join([exc.question, *exc.choices])
        right = expected_question is not None and all(
            re.search(rf"\b{re.escape(name)}\b", offered) for name in expected_question
        )
        return {"valid": expected_question is not None, "ref": right, "op": right, "asked": True,
                "s": time.perf_counter() - start, "llm": False, "why": f"asked: {exc}"[:160]}  # fmt: skip
    except Exception as exc:  # any failure is an invalid plan for this row
        return {"valid": False, "ref": False, "op": False, "asked": False,
                "s": time.perf_counter() - start, "llm": planner.backend is not None,
                "why": f"{type(exc).__name__}: {exc}"[:160]}  # fmt: skip
    seconds = time.perf_counter() - start
    plan, llm = result.plan, result.source == "llm"
    if expected_question is not None:
        return {"valid": False, "ref": False, "op": False, "asked": False, "s": seconds,
                "llm": llm, "why": f"planned instead of asking: {plan.tokens()!r}"[:160]}  # fmt: skip
    # "add two pigeons" is one add per pigeon (the same op twice): it counts as the add it was said as
    said = [op for i, op in enumerate(plan.ops) if i == 0 or op != plan.ops[i - 1]]
    kinds = sorted(op.op for op in said)
    got = (plan.base, sorted(plan.subs), plan.style_ref)
    ref_ok = got == (row["base"], sorted(row["subs"]), row["style_ref"])
    op_ok = any(kinds == sorted(ops) for ops in row["ops_any"])
    why = "" if ref_ok and op_ok else f"got base={got[0]} subs={got[1]} style={got[2]} ops={kinds}"
    return {"valid": True, "ref": ref_ok, "op": op_ok, "asked": False, "s": seconds, "llm": llm,
            "why": why}  # fmt: skip


def run_layout(planner: Any, name: str, row: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    refuse = bool(row.get("refuse"))
    try:
        if name == "smollm2-css":
            blobs = planner.layout_blobs(row["instruction"])
        else:
            blobs = planner.plan(row["instruction"], {}).plan.blobs
    except AnypixError as exc:
        return {"valid": refuse, "count": False, "rels": [False] * len(row["relations"]),
                "refused": True, "s": time.perf_counter() - start, "why": str(exc)[:160]}  # fmt: skip
    seconds = time.perf_counter() - start
    if refuse:
        return {"valid": False, "count": False, "rels": [], "refused": False, "s": seconds,
                "why": f"drew {len(blobs)} blobs instead of refusing"}  # fmt: skip
    count_ok = all(len(blobs_of(blobs, noun)) == n for noun, n in row["counts"].items())
    rels = [relation_holds(blobs, rel) for rel in row["relations"]]
    labels = ", ".join(f"{b.label}@({b.cx:.2f},{b.cy:.2f})" for b in blobs)
    why = "" if count_ok and all(rels) else f"blobs: {labels or 'none'}"
    return {"valid": True, "count": count_ok, "rels": rels, "refused": False, "s": seconds,
            "why": why[:200]}  # fmt: skip


# -- a report ---------------------------------------------------------------------------------------


def _right(result: dict[str, Any]) -> bool:
    """The row's answer is right on every count (a refusal the row expects is right)."""
    if not result["valid"]:
        return False
    if result.get("refused"):
        return True
    checks = [result.get("ref", True), result.get("op", True), result.get("count", True)]
    return all(checks) and all(result.get("rels", []))


def _frac(items: list[bool]) -> float | None:
    return round(sum(items) / len(items), 4) if items else None


def _se(items: list[bool]) -> float | None:
    """Binomial standard error of a rate: the benchmark's spread (two seeds' figures agree
    when they differ by less than about two of these)."""
    if not items:
        return None
    p = sum(items) / len(items)
    return round((p * (1 - p) / len(items)) ** 0.5, 4)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def _p95(values: list[float]) -> float | None:
    return round(statistics.quantiles(values, n=20)[-1], 3) if len(values) > 1 else None


def score(
    name: str,
    split: str,
    edits: list[dict[str, Any]],
    layouts: list[dict[str, Any]],
    limit: int | None,
) -> dict[str, Any]:
    planner = make_planner(name)
    edits, layouts = edits[:limit], layouts[:limit]
    edit_results = [run_edit(planner, row) for row in edits]
    plain_layouts = [r for r in layouts if not r.get("refuse")]
    layout_results = [run_layout(planner, name, row) for row in layouts]
    drawn = [res for row, res in zip(layouts, layout_results, strict=True) if not row.get("refuse")]
    refusals = [res for row, res in zip(layouts, layout_results, strict=True) if row.get("refuse")]
    questions = [res for row, res in zip(edits, edit_results, strict=True) if "clarify" in row]
    planned_rows = [
        res for row, res in zip(edits, edit_results, strict=True) if "clarify" not in row
    ]
    results = edit_results + layout_results
    llm_seconds = [r["s"] for r in edit_results if r.get("llm")]
    return {
        "backend": name,
        "split": split,
        "edit_rows": len(edit_results),
        "layout_rows": len(layout_results),
        "valid_rate": _frac([r["valid"] for r in results]),
        "reference_accuracy": _frac([r["ref"] for r in edit_results]),
        "op_accuracy": _frac([r["op"] for r in edit_results]),
        "reference_accuracy_se": _se([r["ref"] for r in edit_results]),
        "op_accuracy_se": _se([r["op"] for r in edit_results]),
        "questions_right": _frac([r["ref"] for r in questions]),
        "needless_questions": sum(r["asked"] for r in planned_rows),
        "layout_count_accuracy": _frac([r["count"] for r in drawn]),
        "layout_relation_accuracy": _frac([ok for r in drawn for ok in r["rels"]]),
        "layout_refusals_right": _frac([r["refused"] for r in refusals]),
        "layout_rows_drawn": len(plain_layouts),
        "median_latency_s": _median([r["s"] for r in results]),
        "p95_latency_s": _p95([r["s"] for r in results]),
        "llm_rows": len(llm_seconds),
        "fallback_median_s": _median(llm_seconds),
        "fallback_p95_s": _p95(llm_seconds),
        "failures": [
            {"id": row.get("id", ""), "instruction": row["instruction"], "why": r.get("why", "")}
            for row, r in zip(edits + layouts, results, strict=True)
            if not _right(r)
        ],
    }


def print_table(reports: list[dict[str, Any]], failures: bool) -> None:
    header = ("backend", "split", "rows", "valid", "reference", "ops", "questions right",
              "needless questions", "layout count", "layout relation", "refusals right",
              "median s", "p95 s", "LLM rows", "fallback median s")  # fmt: skip
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    pct = lambda v: "-" if v is None else f"{100 * v:.1f}%"  # noqa: E731
    for r in reports:
        cells = [r["backend"], r["split"], f"{r['edit_rows']}+{r['layout_rows']}"]
        cells += [pct(r[k]) for k in ("valid_rate", "reference_accuracy", "op_accuracy",
                                      "questions_right")]  # fmt: skip
        cells.append(str(r["needless_questions"]))
        cells += [pct(r[k]) for k in ("layout_count_accuracy", "layout_relation_accuracy",
                                      "layout_refusals_right")]  # fmt: skip
        cells += [str(r[k]) for k in ("median_latency_s", "p95_latency_s", "llm_rows",
                                      "fallback_median_s")]  # fmt: skip
        print(" | ".join(cells))
        if failures:
            for failure in r["failures"]:
                print(f"    x {failure['id']} {failure['instruction']}  -- {failure['why']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="fast", help="comma-separated (fast, smollm2, ...)")
    parser.add_argument("--sets", default="edit,layout", help="edit, layout or both")
    parser.add_argument("--limit", type=int, default=None, help="rows per set (for a quick look)")
    parser.add_argument("--ids", default="", help="only these row ids, comma-separated (a sample)")
    parser.add_argument("--json", action="store_true", help="one JSON object per backend")
    parser.add_argument("--dev", action="store_true", help="also score the everyday dev set")
    parser.add_argument(
        "--legacy", action="store_true", help="score the older template sets instead"
    )
    parser.add_argument("--split", choices=sorted(SPLITS), help="score this one split only")
    parser.add_argument(
        "--failures", action="store_true", help="list the rows each backend got wrong"
    )
    parser.add_argument("--adapter", type=Path, help="planner adapter (file or --out folder)")
    args = parser.parse_args()
    global ADAPTER
    ADAPTER = args.adapter
    splits = ["legacy-heldout", "legacy-dev"] if args.legacy else ["heldout"]
    if args.dev and not args.legacy:
        splits.append("dev")
    if args.split:
        splits = [args.split]
    reports = []
    for split in splits:
        edit_paths, layout_paths = SPLITS[split]
        edits = read_rows(edit_paths) if "edit" in args.sets else []
        layouts = read_rows(layout_paths) if "layout" in args.sets else []
        if args.ids:
            wanted = set(args.ids.split(","))
            edits = [row for row in edits if row.get("id") in wanted]
            layouts = [row for row in layouts if row.get("id") in wanted]
        for name in args.backends.split(","):
            reports.append(score(name, split, edits, layouts, args.limit))
    if args.json:
        for report in reports:
            if not args.failures:
                report = {k: v for k, v in report.items() if k != "failures"}
            print(json.dumps(report))
        return
    print_table(reports, args.failures)


if __name__ == "__main__":
    main()
