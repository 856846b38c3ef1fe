"""Batches on a local Ray cluster (127.0.0.1, two CPUs, started here and stopped after) with two
render actors on the miniworld model: outputs identical to a single-process run, an actor
killed mid-render, a driver killed mid-batch, and a pool call's progress, cancel and time-out.

One cluster and one pool serve the module (starting actors that load a model is the slow part);
renders are small (4 steps at 64x64), so the module takes a few minutes on two shared cores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from anypix.batch import BatchProgress, run_batch
from anypix.batch.command import batch, pool_studio
from anypix.batch.ray_pool import RayPool
from anypix.batch.spec import BatchSpec
from anypix.config import Settings, load_settings
from anypix.errors import CancelledError, RenderTimeoutError
from anypix.knobs import EditOptions
from anypix.plan import EditPlan
from batch import (
    INSTRUCTION,
    KNOBS,
    LosesAWorker,
    output_hashes,
    quiet_console,
    scenes,
    stored_counts,
)

BATCH = 16


def fast_settings(data_dir: Path | None = None) -> Settings:
    """The default model (miniworld), planned by the grammar alone, as the CLI's --llm fast."""
    return load_settings(llm="fast", **({"data_dir": data_dir} if data_dir else {}))


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A Ray cluster on 127.0.0.1 with two CPUs; its address (for a second driver)."""
    with pytest.MonkeyPatch.context() as env:
        # Ray binds a single-node cluster to the loopback address only with this switch off; it
        # is read when ray is imported, so ray is imported here, after it.
        env.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 object_store_memory=200 * 1024**2)  # fmt: skip
        try:
            yield ray.get_runtime_context().gcs_address
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return scenes(tmp_path_factory.mktemp("inputs"), BATCH)


@pytest.fixture(scope="module")
def reference(inputs: list[Path], tmp_path_factory: pytest.TempPathFactory,
              one_thread: None) -> dict[str, str]:  # fmt: skip
    """Each input's output from a single-process run (torch on one thread, as each actor)."""
    folder = tmp_path_factory.mktemp("single")
    result = batch(INSTRUCTION, inputs, fast_settings(folder / "data"), quiet_console(),
                   options=EditOptions.parse(KNOBS), out=folder / "out")  # fmt: skip
    assert result.count("done") == BATCH
    return output_hashes(folder / "out", inputs)


@pytest.fixture(scope="module")
def pool(cluster: str) -> Iterator[RayPool]:
    with RayPool(fast_settings(), workers=2) as started:
        yield started


def run_on(pool: Any, files: list[Path], data_dir: Path, out: Path) -> Any:
    """``files`` as a batch through ``pool`` (a RayPool, or a wrapper with its locator)."""
    settings = fast_settings(data_dir)
    spec = BatchSpec.create(INSTRUCTION, files, EditOptions.parse(KNOBS), settings.model)
    with pool_studio(settings, pool, batch=True) as studio:
        return run_batch(spec, studio, out, BatchProgress(quiet_console()), threads=4)


def assert_stored_once(data_dir: Path, files: list[Path], outputs: dict[str, str]) -> None:
    """One session, one ok turn and one render per input; each input and each output image
    once in the asset store."""
    counts = stored_counts(data_dir)
    n = len(files)
    assert (counts["sessions"], counts["session_names"], counts["turns"]) == (n, n, n)
    assert (counts["ok_turns"], counts["renders"]) == (n, n)
    assert counts["asset_files"] == n + len(set(outputs.values()))


# -- the same pixels ----------------------------------------------------------------------------------


def test_a_batch_on_two_actors_matches_a_single_process_run(
    pool: RayPool, inputs: list[Path], reference: dict[str, str], tmp_path: Path
) -> None:
    before = dict(pool.stats.by_worker)
    result = run_on(pool, inputs, tmp_path / "data", tmp_path / "out")
    assert [i.status for i in result.items] == ["done"] * BATCH
    assert output_hashes(tmp_path / "out", inputs) == reference
    rendered = {w: n - before.get(w, 0) for w, n in pool.stats.by_worker.items()}
    assert sum(rendered.values()) == BATCH
    assert len([w for w, n in rendered.items() if n > 0]) == 2  # both actors rendered
    assert_stored_once(tmp_path / "data", inputs, reference)


# -- faults --------------------------------------------------------------------------------------------


class KillsItsActor(LosesAWorker):
    """The pool, one render's actor killed with ``ray.kill`` mid-render, from the third on."""

    first = 3

    def kill(self) -> None:
        import ray

        ray.kill(self.pool.running[threading.get_ident()])


def test_an_actor_killed_mid_render_loses_nothing_and_stores_nothing_twice(
    pool: RayPool, inputs: list[Path], reference: dict[str, str], tmp_path: Path
) -> None:
    files = inputs[:8]
    retried, replaced = pool.stats.retried, pool.stats.replaced
    killer = KillsItsActor(pool)
    result = run_on(killer, files, tmp_path / "data", tmp_path / "out")
    assert killer.killed == 1
    assert (pool.stats.retried - retried, pool.stats.replaced - replaced) == (1, 1)
    assert [i.status for i in result.items] == ["done"] * len(files)
    expected = {f.name: reference[f.name] for f in files}
    assert output_hashes(tmp_path / "out", files) == expected
    assert_stored_once(tmp_path / "data", files, expected)
    assert len(pool.actors) == 2  # the replacement took the killed actor's place


# -- one render: progress, cancel, time-out (what the MCP server's calls rely on) ------------------


def a_plan(steps: int) -> EditPlan:
    from anypix.agent.planner import planner_for

    planned = planner_for(fast_settings()).plan(INSTRUCTION, {"photo": "image"}).plan
    return planned.model_copy(update={"knobs": planned.knobs.model_copy(update={"seed": 1,
                                                                                "steps": steps})})  # fmt: skip


def test_a_pool_render_reports_its_steps_and_stops_when_cancelled(
    pool: RayPool, inputs: list[Path]
) -> None:
    seen: list[tuple[int, int]] = []
    render = pool(a_plan(6), {"photo": inputs[0]}, progress=lambda d, t: seen.append((d, t)))
    assert render.provenance.steps == 6 and render.images[0].size == (64, 64)
    assert seen[-1] == (12, 12)  # 6 inversion steps of [photo], then 6 denoising steps
    assert seen == sorted(seen) and {t for _, t in seen} == {12}

    reached: list[int] = []
    with pytest.raises(CancelledError):
        pool(a_plan(40), {"photo": inputs[0]}, progress=lambda d, t: reached.append(d),
             cancel=lambda: bool(reached))  # fmt: skip
    assert reached and max(reached) < 80  # it stopped early
    assert pool(a_plan(4), {"photo": inputs[1]}).provenance.steps == 4  # the actor still works


def test_a_render_past_its_time_out_is_stopped(pool: RayPool, inputs: list[Path]) -> None:
    pool.timeout_s = 0.5
    try:
        started = time.monotonic()
        with pytest.raises(RenderTimeoutError, match=r"longer than 0\.5 s"):
            pool(a_plan(200), {"photo": inputs[0]})
        assert time.monotonic() - started < 60  # 400 UNet passes would take minutes
    finally:
        pool.timeout_s = None


# -- the driver killed: `anypix batch` in a subprocess, SIGKILLed after three edits ----------------

def done_in(manifest: Path) -> int:
    try:
        items = json.loads(manifest.read_text())["items"]
    except (FileNotFoundError, ValueError):
        return 0
    return sum(item["status"] == "done" for item in items)


def test_a_driver_killed_mid_batch_is_resumed_by_a_rerun(
    cluster: str, pool: RayPool, inputs: list[Path], reference: dict[str, str], tmp_path: Path
) -> None:
    pool.close()  # the second driver's actors need the cluster's two CPUs
    data_dir, out = tmp_path / "data", tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "anypix.cli", "--data-dir", str(data_dir), "batch",
               INSTRUCTION, *map(str, inputs), "--out", str(out), "--ray", cluster,
               "--workers", "2", "--llm", "fast", "--seed", str(KNOBS["seed"]),
               "--steps", str(KNOBS["steps"])]  # fmt: skip
    log = tmp_path / "driver.log"
    with log.open("wb") as stderr:
        driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 400
        while done_in(out / "batch.json") < 3:
            assert driver.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the driver did not finish 3 edits in time"
            time.sleep(0.2)
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait()
    killed_at = done_in(out / "batch.json")
    assert killed_at < BATCH

    result = batch(INSTRUCTION, inputs, fast_settings(data_dir), quiet_console(),
                   options=EditOptions.parse(KNOBS), out=out, ray=cluster, workers=2)  # fmt: skip
    assert [i.status for i in result.items] == ["done"] * BATCH
    resumed = result.count("done", before=True)
    assert killed_at <= resumed < BATCH  # what the killed driver stored was kept, not redone
    assert output_hashes(out, inputs) == reference
    assert_stored_once(data_dir, inputs, reference)
