"""Batch throughput on Ray with 1 and 2 render workers, the driver's own cost per edit, and what
that predicts for a cluster of N GPUs.

    python benchmarks/scale.py [--json] [--edits 16] [--steps 4] [--backend ray|processes]
                               [--gpu-render-s S]

Measured (miniworld, ``add a yellow ring to [photo]`` on 64x64 scenes, ``--steps`` steps), with
the workers already started (``worker_start_s_W``):

* ``batch_edits_per_s_W`` -- edits finished per second by a batch on W workers (W = 1, 2), the
  driver running two turns per worker as ``anypix batch`` does;
* ``render_s_per_edit`` -- a worker's own seconds per render (the renders' timings, W = 1);
* ``pipeline_overhead_s_per_edit`` -- ``1 / batch_edits_per_s_1 - render_s_per_edit``: what an
  edit costs one worker beyond its render (sending the job and assets, returning the PNG, the
  driver work that does not overlap the render);
* ``driver_overhead_s_per_edit`` -- the driver's own cost per edit (plan lookup, attachment
  checks, locating, storing the turn, copying the output), timed with renders that take no time.

**The N-GPU estimate** is arithmetic on those figures. Each GPU worker renders one edit every
``r + o`` seconds; the driver stores every turn itself, one at a time in effect (its threads
share one interpreter), so it caps the batch at ``1/d`` edits per second::

    T(N) = min(N / (r + o), 1 / d)

with ``r`` one GPU's seconds per render (``--gpu-render-s``; default: the CPU worker's ``r``
measured here, which makes the table "N workers like this one, each on its own device"), ``o``
the pipeline overhead and ``d`` the driver overhead. Past ``N* = (r + o) / d`` workers the
driver is the limit; split the inputs over several drivers (each with its own ``--data-dir``)
to go further. ``scaling_2`` (= T(2) / (2 T(1)) measured) says how far two workers on this
machine's shared cores fall short of that: CPU workers compete for the same cores, GPUs do not.
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
    from anypix.batch.backends import open_pool
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
                rendered = pool.stats.render_s
                result = _batch(pool, files, steps, folder / f"w{workers}")
                figures[f"batch_edits_per_s_{workers}"] = edits / result.seconds
                if workers == 1:
                    figures["render_s_per_edit"] = (pool.stats.render_s - rendered) / edits
    finally:
        if backend == "ray":
            ray.shutdown()
    figures["driver_overhead_s_per_edit"] = _driver_overhead(files, steps, folder / "driver")
    figures["pipeline_overhead_s_per_edit"] = max(
        0.0, 1 / figures["batch_edits_per_s_1"] - figures["render_s_per_edit"])
    figures["scaling_2"] = figures["batch_edits_per_s_2"] / (2 * figures["batch_edits_per_s_1"])
    return figures


def estimate(figures: Mapping[str, Any], gpu_render_s: float | None) -> dict[str, Any]:
    """T(N) = min(N / (r + o), 1 / d) for the cluster sizes in CLUSTER_SIZES (see above)."""
    r = gpu_render_s if gpu_render_s is not None else figures["render_s_per_edit"]
    o, d = figures["pipeline_overhead_s_per_edit"], figures["driver_overhead_s_per_edit"]
    table = {str(n): min(n / (r + o), 1 / d) for n in CLUSTER_SIZES}
    return {"render_s": r, "pipeline_s": o, "driver_cap_edits_per_s": 1 / d,
            "driver_bound_from_workers": (r + o) / d, "edits_per_s": table}  # fmt: skip


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
            ("scaling at 2 workers", "scaling_2", "{:.2f}"),
            ("render s/edit (worker)", "render_s_per_edit", "{:.3f}"),
            ("pipeline overhead s/edit", "pipeline_overhead_s_per_edit", "{:.3f}"),
            ("driver overhead s/edit", "driver_overhead_s_per_edit", "{:.4f}"),
            ("start 1 worker, s", "worker_start_s_1", "{:.1f}"),
            ("start 2 workers, s", "worker_start_s_2", "{:.1f}")]  # fmt: skip
    for label, key, form in rows:
        table.add_row(label, form.format(figures[key]))
    est = figures["estimate"]
    guess = Table("GPU workers N", "edits/s", "bound by",
                  title=f"estimate T(N) = min(N/(r+o), 1/d): r={est['render_s']:.3f} s, "
                  f"o={est['pipeline_s']:.3f} s, d={figures['driver_overhead_s_per_edit']:.4f} s")  # fmt: skip
    for n, value in est["edits_per_s"].items():
        bound = "driver" if value >= est["driver_cap_edits_per_s"] - 1e-9 else "workers"
        guess.add_row(n, f"{value:.2f}", bound)
    console = Console()
    console.print(table)
    console.print(guess)


if __name__ == "__main__":
    main()
