"""``--workers N`` without Ray: local worker processes on the miniworld model render the same
pixels as this process, and a worker killed mid-render costs a retry, not an edit."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from anypix.batch import BatchProgress, BatchSpec, InProcessPool, run_batch
from anypix.batch.command import pool_studio
from anypix.batch.local import ProcessPool
from anypix.config import load_settings
from anypix.knobs import EditOptions
from anypix.plan import EditPlan
from anypix.records import Render
from batch import INSTRUCTION, KNOBS, output_hashes, quiet_console, scenes, stored_counts


class KillsAWorker:
    """The pool as a studio renderer, except that one worker process is killed (SIGKILL) while
    a job is in flight: in the first render, from the second on, that has not finished when the
    pool first checks on it (a tenth of a second in). A check on the steps done would miss a
    4-step render that finishes between two polls on a fast machine."""

    def __init__(self, pool: ProcessPool) -> None:
        self.pool, self.locator = pool, pool.locator
        self.calls = self.killed = 0
        self.lock = threading.Lock()

    def __call__(self, plan: EditPlan, assets: Mapping[str, Path], **callbacks: Any) -> Render:
        with self.lock:
            self.calls += 1
            eligible = self.calls >= 2
        asked = callbacks.pop("cancel", None)

        def cancel() -> bool:  # the pool asks at each poll while the job is running
            with self.lock:
                kill = eligible and not self.killed
                self.killed += kill
            if kill:
                os.kill(next(iter(self.pool.pids.keys())), signal.SIGKILL)
            return asked is not None and asked()

        return self.pool(plan, assets, cancel=cancel, **callbacks)


def run(renderer: Any, files: list[Path], folder: Path) -> Any:
    settings = load_settings(llm="fast", data_dir=folder / "data")
    spec = BatchSpec.create(INSTRUCTION, files, EditOptions.parse(KNOBS), settings.model)
    with pool_studio(settings, renderer, batch=True) as studio:
        return run_batch(spec, studio, folder / "out", BatchProgress(quiet_console()), threads=4)


def test_two_worker_processes_match_this_process_even_when_one_is_killed(
    tmp_path: Path, one_thread: None
) -> None:
    files = scenes(tmp_path / "in", 4)
    run(InProcessPool(load_settings(llm="fast")), files, tmp_path / "single")
    expected = output_hashes(tmp_path / "single" / "out", files)
    with ProcessPool(load_settings(llm="fast"), 2) as pool:
        killer = KillsAWorker(pool)
        result = run(killer, files, tmp_path / "pool")
        assert killer.killed == 1
        assert pool.stats.retried >= 1 and pool.stats.replaced == 1
    assert [i.status for i in result.items] == ["done"] * 4
    assert output_hashes(tmp_path / "pool" / "out", files) == expected
    counts = stored_counts(tmp_path / "pool" / "data")
    assert (counts["sessions"], counts["turns"], counts["ok_turns"], counts["renders"]) == (4,) * 4
