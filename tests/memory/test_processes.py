"""Real processes: one killed with SIGKILL in the middle of a turn, two writing at once."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from memory_fakes import assert_no_orphans, fake_planner, flat_renderer

from anypix.studio import Studio

WORKER = Path(__file__).with_name("memory_worker.py")
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def start_worker(
    data_dir: Path, session_id: str, turns: int, mode: str = ""
) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [
        sys.executable,
        str(WORKER),
        str(data_dir),
        session_id,
        str(turns),
        *([mode] if mode else []),
    ]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)


def kill_when_hanging(worker: subprocess.Popen[str]) -> list[str]:
    lines = []
    assert worker.stdout is not None
    for line in worker.stdout:
        lines.append(line.strip())
        if line.strip() == "hanging":
            os.kill(worker.pid, signal.SIGKILL)
            break
    worker.wait(timeout=60)
    assert worker.returncode == -signal.SIGKILL, lines
    return lines


@pytest.mark.parametrize("mode", ["hang-in-render", "hang-in-commit"])
def test_a_process_killed_mid_turn_leaves_a_consistent_database(tmp_path: Path, mode: str) -> None:
    data_dir = tmp_path / "data"
    with Studio(data_dir) as studio:
        session_id = studio.new_session("killed").id

    lines = kill_when_hanging(start_worker(data_dir, session_id, 5, mode))
    assert lines[:5] == [f"committed {n}" for n in range(1, 6)]

    with Studio(data_dir, planner=fake_planner, renderer=flat_renderer) as studio:
        with studio.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        session = studio.session(session_id)
        assert [(t.seq, t.status, t.outputs) for t in session.history()] == [
            (n, "ok", 1) for n in range(1, 6)
        ]
        assert session.history()[-1].current
        # The render file the killed commit had placed is an orphan; collection removes it.
        removed = studio.collect_garbage(grace_s=0)
        assert len(removed) == (1 if mode == "hang-in-commit" else 0)
        assert_no_orphans(studio)
        session.edit("life goes on")  # the killed writer's lock is gone
        assert [t.seq for t in session.history()] == [1, 2, 3, 4, 5, 6]


def test_two_processes_making_200_turns_each_lose_none(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with Studio(data_dir) as studio:
        session_id = studio.new_session("shared").id

    workers = [start_worker(data_dir, session_id, 200) for _ in range(2)]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert [w.returncode for w in workers] == [0, 0]

    with Studio(data_dir) as studio:
        turns = studio.session(session_id).history()
    assert len(turns) == 400
    assert [t.seq for t in turns] == list(range(1, 401))
    for worker, output in zip(workers, outputs, strict=True):
        mine = [t for t in turns if t.instruction.startswith(f"p{worker.pid} ")]
        assert [int(t.instruction.split()[-1]) for t in mine] == list(range(200))
        assert output.split().count("committed") == 200
        # Each turn hangs under the cursor it started from: this process's previous turn or a
        # later one the other process committed meanwhile, never anything older.
        for previous, turn in itertools.pairwise(mine):
            assert turn.parent is not None and previous.seq <= turn.parent < turn.seq
    assert all(t.status == "ok" for t in turns)
    assert sum(t.current for t in turns) == 1
