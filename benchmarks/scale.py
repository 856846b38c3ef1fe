"""Batch throughput on Ray with 1 and 2 render workers, the driver's own cost per edit, and what
that predicts for a cluster of N GPUs.

    python benchmarks/scale.py [--json] [--edits 16] [--steps 4] [--backend ray|processes]
                               [--gpu-render-s S]

Measured (miniworld, ``add a yellow ring to [photo]`` on 64x64 scenes, ``--steps`` steps):

* ``batch_edits_per_s_W`` -- edits finished per second by ``anypix batch`` with W workers
  (W = 1, 2), from the first edit to the last, workers already started (``worker_start_s``);
* ``render_s_per_edit`` -- one worker's seconds per edit (pool time per edit with W = 1);
* ``driver_overhead_s_per_edit`` -- what the driver itself spends on an edit (plan lookup,
  attachment checks, locating, storing the turn, copying the output), measured with an instant
  renderer so that nothing else is in it.

**The N-GPU estimate** is arithmetic on those figures. The driver stores every turn itself, one
at a time in effect (its threads share one interpreter), so it caps the batch at ``1/d`` edits
per second; the workers render in parallel::

    T(N) = min(N * e / r, 1 / d)

with ``r`` seconds per render on one worker, ``e`` the parallel efficiency measured at two
workers (``T(2) / (2 * T(1))``; on a 2-core machine the driver competes with the workers, so it is
a pessimistic figure for a cluster), and ``d`` the driver overhead. For GPUs, ``r`` is a GPU's
seconds per render: pass it as ``--gpu-render-s`` (default: the CPU worker's ``r`` measured here,
which makes the table "N workers like these"). Past ``N* = r / (e * d)`` workers the driver is the
limit; split the inputs across several drivers (each with its own ``--data-dir``) to go further.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

INSTRUCTION = "add a yellow ring to [photo]"
CLUSTER_SIZES = (1, 2, 4, 8, 16, 64, 256)


def _scenes(folder: Path, count: int) -> list[Path]:
    from anypix.models.miniworld import draw_scene

    folder.mkdir(parents=True, exist_ok=True)
    return [draw_scene(500 + i, folder / f"s{i:03d}.png") for i in range(count)]


def _batch(pool: Any, files: list[Path], steps: int, folder: Path) -> Any:
    """One batch through ``pool``; its result (its wall time is the throughput's)."""
    from rich.console import Console

    from anypix.batch import BatchProgress, BatchSpec, RenderPool, run_batch
    from anypix.batch.command import driver_threads, pool_studio
    from anypix.config import load_settings
    from anypix.knobs import EditOptions

    settings = load_settings(llm="fast", data_dir=folder / "data")
    spec = BatchSpec.create(INSTRUCTION, files, EditOptions.parse({"seed": 1, "steps": steps}),
                            settings.model)  # fmt: skip
    quiet = Console(file=open(os.devnull, "w"))  # noqa: SIM115 -- closed with the process
    threads = driver_threads(pool) if isinstance(pool, RenderPool) else 1
    with pool_studio(settings, pool, batch=True) as studio:
        result = run_batch(spec, studio, folder / "out", BatchProgress(quiet), threads=threads)
    assert result.count("done") == len(files), [i.error for i in result.items if i.error]
    return result


def _driver_overhead(files: list[Path], steps: int, folder: Path) -> float:
    """Seconds per edit of a batch whose renders take no time (each returns one stored
    render): what the driver itself spends on an edit."""
    from anypix.batch.pool import InProcessPool
    from anypix.config import load_settings

    instant = InstantRenderer(InProcessPool(load_settings(llm="fast")))
    _batch(instant, files[:1], steps, folder / "warm")  # loads the model and the planner
    started = time.perf_counter()
    _batch(instant, files, steps, folder / "timed")
    return (time.perf_counter() - started) / len(files)


class InstantRenderer:
    """Renders once with ``pool``, then returns that render at once for every plan."""

    def __init__(self, pool: Any) -> None:
        self.pool, self.locator = pool, pool.locator
        self.made: Any = None

    def __call__(self, plan: Any, assets: Mapping[str, Path], **callbacks: Any) -> Any:
        if self.made is None:
            self.made = self.pool(plan, assets, **callbacks)
        return self.made


def _open(backend: str, workers: int) -> Any:
    from anypix.batch.pool import open_pool
    from anypix.config import load_settings

    settings = load_settings(llm="fast")
    if backend == "ray":
        return open_pool(settings, ray="auto", workers=workers)
    from anypix.batch.local import ProcessPool

    return ProcessPool(settings, workers)


def measure(edits: int, steps: int, backend: str) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="anypix-scale-"))
    files = _scenes(folder / "in", edits)
    figures: dict[str, Any] = {"edits": edits, "steps": steps, "backend": backend,
                               "cpus": os.cpu_count()}  # fmt: skip
    if backend == "ray":
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # loopback only
        import ray

        ray.init(include_dashboard=False, log_to_driver=False)
    try:
        for workers in (1, 2):
            started = time.perf_counter()
            with _open(backend, workers) as pool:
                figures[f"worker_start_s_{workers}"] = time.perf_counter() - started
                _batch(pool, files[:workers], steps, folder / f"warm{workers}")  # first calls
                busy = pool.stats.busy_s
                result = _batch(pool, files, steps, folder / f"w{workers}")
                figures[f"batch_edits_per_s_{workers}"] = edits / result.seconds
                if workers == 1:
                    figures["render_s_per_edit"] = (pool.stats.busy_s - busy) / edits
    finally:
        if backend == "ray":
            ray.shutdown()
    figures["driver_overhead_s_per_edit"] = _driver_overhead(files, steps, folder / "driver")
    return figures


def estimate(figures: Mapping[str, Any], gpu_render_s: float | None) -> dict[str, Any]:
    """T(N) = min(N * e / r, 1 / d) for the cluster sizes in CLUSTER_SIZES (see the docstring)."""
    t1, t2 = figures["batch_edits_per_s_1"], figures["batch_edits_per_s_2"]
    e = min(1.0, t2 / (2 * t1))
    r = gpu_render_s if gpu_render_s is not None else figures["render_s_per_edit"]
    d = figures["driver_overhead_s_per_edit"]
    table = {str(n): min(n * e / r, 1 / d) for n in CLUSTER_SIZES}
    return {"efficiency_2": e, "render_s": r, "driver_cap_edits_per_s": 1 / d,
            "driver_bound_from_workers": r / (e * d), "edits_per_s": table}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--edits", type=int, default=16, help="edits per measured batch")
    parser.add_argument("--steps", type=int, default=4, help="denoising steps per edit")
    parser.add_argument("--backend", choices=("ray", "processes"), default="ray")
    parser.add_argument("--gpu-render-s", type=float, default=None,
                        help="one GPU's seconds per render, for the N-GPU estimate")  # fmt: skip
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch

    torch.set_num_threads(1)  # the driver's own share; each worker pins its own
    figures = measure(args.edits, args.steps, args.backend)
    figures["estimate"] = estimate(figures, args.gpu_render_s)
    if args.json:
        sys.stdout.write(json.dumps(figures, indent=2) + "\n")
        return
    _print_table(figures)


def _print_table(figures: Mapping[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("figure", "value", title=f"batch scale ({figures['backend']}, "
                  f"{figures['edits']} edits, {figures['steps']} steps, {figures['cpus']} CPUs)")  # fmt: skip
    rows = [("edits/s, 1 worker", "batch_edits_per_s_1", "{:.3f}"),
            ("edits/s, 2 workers", "batch_edits_per_s_2", "{:.3f}"),
            ("render s/edit, 1 worker", "render_s_per_edit", "{:.3f}"),
            ("driver overhead s/edit", "driver_overhead_s_per_edit", "{:.4f}"),
            ("start 1 worker, s", "worker_start_s_1", "{:.1f}"),
            ("start 2 workers, s", "worker_start_s_2", "{:.1f}")]  # fmt: skip
    for label, key, form in rows:
        table.add_row(label, form.format(figures[key]))
    est = figures["estimate"]
    guess = Table("workers N", "edits/s", "bound by",
                  title=f"estimate T(N) = min(N*e/r, 1/d): e={est['efficiency_2']:.2f}, "
                  f"r={est['render_s']:.3f} s, d={figures['driver_overhead_s_per_edit']:.4f} s")  # fmt: skip
    for n, value in est["edits_per_s"].items():
        bound = "driver" if value >= est["driver_cap_edits_per_s"] - 1e-9 else "workers"
        guess.add_row(n, f"{value:.2f}", bound)
    console = Console()
    console.print(table)
    console.print(guess)


if __name__ == "__main__":
    main()
