"""``--workers N`` without Ray: local worker processes on the miniworld model render the same
pixels as this process, and a worker killed mid-render costs a retry, not an edit."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from anypix.batch import BatchProgress, BatchSpec, InProcessPool, run_batch
from anypix.batch.command import pool_studio
from anypix.batch.local import ProcessPool
from anypix.config import load_settings
from anypix.knobs import EditOptions
from batch import (
    INSTRUCTION,
    KNOBS,
    LosesAWorker,
    output_hashes,
    quiet_console,
    scenes,
    stored_counts,
)


class KillsAWorker(LosesAWorker):
    """The pool, one of its worker processes killed (SIGKILL) mid-render, from the second on."""

    def kill(self) -> None:
        os.kill(next(iter(self.pool.pids.keys())), signal.SIGKILL)


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
