"""Shared pieces of the batch tests: miniworld input scenes, the batch every backend runs, a pool
that loses a worker mid-render, and how to read back what a data dir stored."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

INSTRUCTION = "add a yellow ring to [photo]"
KNOBS = {"seed": 1, "steps": 4}  # small renders: CI runs these on two CPU cores


def scenes(folder: Path, count: int, first_seed: int = 100) -> list[Path]:
    """``count`` random miniworld scenes as PNG files (the same seed, the same scene)."""
    from anypix.models.miniworld import draw_scene

    folder.mkdir(parents=True, exist_ok=True)
    return [draw_scene(first_seed + i, folder / f"scene{i:02d}.png") for i in range(count)]


def quiet_console() -> Console:
    return Console(file=io.StringIO(), width=200)


def printed(console: Console) -> str:
    return console.file.getvalue()  # type: ignore[attr-defined]


def output_hashes(out: Path, files: list[Path]) -> dict[str, str]:
    """sha256 of each input's output image (``scene03.png`` -> its output ``scene03.png``)."""
    return {f.name: hashlib.sha256((out / f"{f.stem}.png").read_bytes()).hexdigest()
            for f in files}  # fmt: skip


def stored_counts(data_dir: Path) -> dict[str, int]:
    """Rows in the database and image files in the asset store: what a batch stored."""
    with sqlite3.connect(data_dir / "anypix.db") as db:
        counts = {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                  for table in ("sessions", "turns", "renders")}  # fmt: skip
        counts["ok_turns"] = db.execute(
            "SELECT COUNT(*) FROM turns WHERE status = 'ok'").fetchone()[0]  # fmt: skip
        counts["session_names"] = db.execute(
            "SELECT COUNT(DISTINCT name) FROM sessions").fetchone()[0]  # fmt: skip
    counts["asset_files"] = sum(1 for p in (data_dir / "assets").rglob("*") if p.is_file()
                                and not p.name.startswith("."))  # fmt: skip
    return counts


class LosesAWorker:
    """A pool as a studio renderer, except that one worker is killed (:meth:`kill`) while a job
    is in flight: in the first render, from call ``first`` on, that has not finished when the
    pool first checks on it (its cancel poll, a tenth of a second in). A check on the steps done
    would miss a 4-step render that finishes between two polls on a fast machine."""

    first = 2

    def __init__(self, pool: Any) -> None:
        self.pool, self.locator = pool, pool.locator
        self.calls = self.killed = 0
        self.lock = threading.Lock()

    def kill(self) -> None:
        raise NotImplementedError

    def __call__(self, plan: Any, assets: Mapping[str, Path], **callbacks: Any) -> Any:
        with self.lock:
            self.calls += 1
            eligible = self.calls >= self.first
        asked = callbacks.pop("cancel", None)

        def cancel() -> bool:  # the pool asks at each poll while the job is running
            with self.lock:
                kill = eligible and not self.killed
                self.killed += kill
            if kill:
                self.kill()
            return asked is not None and asked()

        return self.pool(plan, assets, cancel=cancel, **callbacks)
