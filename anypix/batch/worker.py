"""A render worker: one loaded model that renders jobs. The same class is a Ray actor (the Ray
pool wraps it with ``ray.remote``) and the state of each local worker process.

A job's progress and a request to cancel it live in two tables the driver can reach while the
render runs: plain dicts inside a Ray actor (its ``progress``/``cancel`` methods run in a second
actor thread), or a multiprocessing manager's dicts for local processes.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from anypix.batch.jobs import JobOutcome, RenderJob, run_job


class RenderWorker:
    """Holds one loaded preset and renders :class:`RenderJob` s with it."""

    def __init__(
        self,
        settings: dict[str, Any],
        threads: int | None = None,
        progress_table: MutableMapping[str, tuple[int, int]] | None = None,
        cancel_table: MutableMapping[str, bool] | None = None,
    ) -> None:
        """``settings``: the driver's settings as a dict (``Settings.model_dump()``);
        ``threads``: torch threads on CPU (workers share the machine's cores, so each is pinned
        to its share instead of every worker starting one thread per core)."""
        from anypix.config import load_settings
        from anypix.tools.preset import PresetRenderer

        self.settings = load_settings(**settings)
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.renderer = PresetRenderer(self.settings)
        self.progress_table = progress_table if progress_table is not None else {}
        self.cancel_table = cancel_table if cancel_table is not None else {}
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.scratch = Path(tempfile.mkdtemp(prefix="anypix-worker-"))

    def ready(self) -> str:
        """Load the model now (a pool waits for this before it counts the worker); returns where
        the worker runs, e.g. ``host:pid cuda:0``."""
        self.renderer.load()
        return f"{self.name} {self.renderer.device}"

    def render(self, job: RenderJob) -> JobOutcome:
        folder = self.scratch / job.id
        table, cancelled = self.progress_table, self.cancel_table

        def progress(done: int, total: int) -> None:
            table[job.id] = (done, total)

        try:
            return run_job(self.renderer, job, folder, self.name, progress=progress,
                           cancel=lambda: cancelled.get(job.id, False))  # fmt: skip
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            table.pop(job.id, None)
            cancelled.pop(job.id, None)

    def progress(self, job_id: str) -> tuple[int, int] | None:
        """(steps done, steps in all) of a running job; None before its first step."""
        return self.progress_table.get(job_id)

    def cancel(self, job_id: str) -> None:
        """Ask the job to stop at its next denoising step."""
        self.cancel_table[job_id] = True

    def pid(self) -> int:
        return os.getpid()
