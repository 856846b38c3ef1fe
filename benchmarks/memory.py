"""Memory: how long a turn takes to commit, how fast uploads are ingested, and how long opening a
session with 10,000 turns and listing its history takes (target: under 200 ms).

    python benchmarks/memory.py [--json] [--turns 10000] [--repeat 7]

Everything runs in a temporary data dir. ``turn_commit_ms`` is ``memory.turns.commit_turn`` for a
turn with one 64x64 render (rows, file write + fsync, WAL commit); ``edit_turn_ms`` is a whole
``Session.edit`` with an instant planner and renderer; ``ingest_per_s`` is 512x512 JPEG uploads
through ``Session.attach`` (decode, EXIF, normalise, PNG, store, row); ``open_10k_ms`` is
``Studio(data_dir).session(id).history()`` on a fresh Studio, after imports.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from anypix.memory.assets import prepare_image
from anypix.memory.turns import RenderDraft, StepRecord, TurnDraft, commit_turn
from anypix.plan import EditPlan, Op
from anypix.records import Provenance, Render
from anypix.studio import Studio

TARGET_OPEN_MS = 200.0


def _provenance(plan: EditPlan, seed: int) -> Provenance:
    return Provenance(
        preset="miniworld", weight_hash="ab" * 32, seed=seed, scheduler="ddim", steps=25, guidance=1.0,
        alpha=0.7, size=(64, 64), device="cpu", dtype="float32", plan_tokens=plan.tokens(),
    )  # fmt: skip


def _planner(text: str, modalities: dict[str, str]) -> EditPlan:
    return EditPlan(gen=text, ops=[Op(op="generate")])


def _renderer(plan: EditPlan, assets: Any, **_: Any) -> Render:
    rng = np.random.default_rng(abs(hash(plan.gen)) % 2**32)
    image = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return Render(images=[image], provenance=_provenance(plan, 1))


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_commit(studio: Studio, count: int) -> float:
    session = studio.new_session("commit")
    plan = _planner("a red ball", {})
    samples = []
    for k in range(count):
        image = Image.fromarray(
            np.random.default_rng(k).integers(0, 255, (64, 64, 3), dtype=np.uint8)
        )
        draft = TurnDraft(
            session_id=session.id,
            instruction=f"turn {k}",
            plan=plan.model_dump(mode="json"),
            steps=[StepRecord("plan", {"instruction": "a red ball"}, plan.tokens(), 0.01)],
            renders=[
                RenderDraft(prepare_image(image), _provenance(plan, k).model_dump(mode="json"))
            ],
        )
        start = time.perf_counter()
        commit_turn(studio.engine, studio.store, draft)
        samples.append(time.perf_counter() - start)
    return _median_ms(samples)


def bench_edit(studio: Studio, count: int) -> float:
    session = studio.new_session("edit")
    samples = []
    for k in range(count):
        start = time.perf_counter()
        session.edit(f"a picture number {k}")
        samples.append(time.perf_counter() - start)
    return _median_ms(samples)


def bench_ingest(studio: Studio, folder: Path, count: int) -> tuple[float, float]:
    paths = []
    for k in range(count):
        pixels = np.random.default_rng(1000 + k).integers(0, 255, (512, 512, 3), dtype=np.uint8)
        paths.append(folder / f"photo{k}.jpg")
        Image.fromarray(pixels).save(paths[-1], quality=90)
    session = studio.new_session("ingest")
    start = time.perf_counter()
    for k, path in enumerate(paths):
        session.attach(f"photo{k}", path)
    seconds = time.perf_counter() - start
    megabytes = sum(p.stat().st_size for p in paths) / 1e6
    return count / seconds, megabytes / seconds


def fill_session(studio: Studio, turns: int) -> str:
    """A session with ``turns`` turns in a chain, each with a plan, two tool calls and a render,
    written with executemany (the same rows commit_turn writes, only faster to make)."""
    session = studio.new_session("ten thousand")
    first = studio.session(session.id).edit("a starting picture")
    sha = first.renders[0].sha256
    plan = _planner("make it a little brighter", {})
    plan_json, provenance = (
        json.dumps(plan.model_dump(mode="json")),
        json.dumps(_provenance(plan, 3).model_dump(mode="json")),
    )
    now = time.time()
    with studio.engine.begin() as conn:
        last_id = conn.exec_driver_sql("SELECT MAX(id) FROM turns").scalar()
        ids = range(last_id + 1, last_id + turns)
        conn.exec_driver_sql(
            "INSERT INTO turns (id, session_id, seq, parent_id, instruction, attachments, plan, status, error,"
            " timings, created_at, finished_at) VALUES (?, ?, ?, ?, ?, '{}', ?, 'ok', NULL, '{}', ?, ?)",
            [
                (i, session.id, i - last_id + 1, i - 1, f"edit number {i}", plan_json, now, now)
                for i in ids
            ],
        )
        conn.exec_driver_sql(
            "INSERT INTO tool_calls (turn_id, position, tool, arguments, result, seconds) VALUES (?, ?, ?, '{}', '', 0)",
            [(i, p, tool) for i in ids for p, tool in enumerate(("plan", "render"))],
        )
        conn.exec_driver_sql(
            "INSERT INTO renders (turn_id, position, sha256, parent_id, provenance, timings)"
            " VALUES (?, 0, ?, NULL, ?, '{}')",
            [(i, sha, provenance) for i in ids],
        )
        conn.exec_driver_sql(
            "UPDATE sessions SET cursor_turn_id = ? WHERE id = ?", (ids[-1], session.id)
        )
    return session.id


def bench_open(data_dir: Path, session_id: str, repeat: int, turns: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        with Studio(data_dir) as studio:
            history = studio.session(session_id).history()
        samples.append(time.perf_counter() - start)
        assert len(history) == turns and history[-1].current
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--turns", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="anypix-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        with Studio(data_dir, planner=_planner, renderer=_renderer) as studio:
            commit_ms = bench_commit(studio, 40)
            edit_ms = bench_edit(studio, 40)
            ingest_per_s, ingest_mb_s = bench_ingest(studio, Path(tmp), 30)
            session_id = fill_session(studio, args.turns)
        open_samples = bench_open(data_dir, session_id, args.repeat, args.turns)

    result = {
        "turn_commit_ms": round(commit_ms, 2),
        "edit_turn_ms": round(edit_ms, 2),
        "ingest_per_s": round(ingest_per_s, 1),
        "ingest_mb_per_s": round(ingest_mb_s, 2),
        "open_10k_ms": round(_median_ms(open_samples), 1),
        "open_10k_first_ms": round(open_samples[0] * 1000, 1),
        "open_10k_max_ms": round(max(open_samples) * 1000, 1),
        "turns": args.turns,
        "target_open_ms": TARGET_OPEN_MS,
        "open_within_target": _median_ms(open_samples) < TARGET_OPEN_MS,
    }
    if args.json:
        print(json.dumps(result))
        return
    rows = [
        ("turn commit (1 render, 64x64), median", f"{commit_ms:.1f} ms"),
        ("whole edit, instant planner + renderer, median", f"{edit_ms:.1f} ms"),
        ("ingest 512x512 JPEG uploads", f"{ingest_per_s:.1f} files/s ({ingest_mb_s:.2f} MB/s)"),
        (
            f"open a {args.turns:,}-turn session + list history, median",
            f"{result['open_10k_ms']} ms",
        ),
        (
            "  first (cold) / slowest",
            f"{result['open_10k_first_ms']} / {result['open_10k_max_ms']} ms",
        ),
        (f"  under {TARGET_OPEN_MS:.0f} ms?", "yes" if result["open_within_target"] else "NO"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'memory benchmark':<{width}}  value")
    print(f"{'-' * width}  {'-' * 30}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
