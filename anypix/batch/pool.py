"""Render pools: the studio's renderer contract over one or more workers.

    pool(plan, {name: path}, *, progress=None, cancel=None) -> Render

Every pool is such a renderer, safe to call from many threads at once (a call waits for a free
worker), so a :class:`~anypix.studio.Studio` given a pool runs turns in parallel from several
threads, and the MCP server renders concurrent agents' calls side by side. Three backends:

* :class:`InProcessPool` — the loaded preset in this process, one render at a time (today's
  behaviour, and the reference the others must match pixel for pixel);
* :class:`~anypix.batch.local.ProcessPool` — ``--workers N`` local processes, each with a model;
* :class:`~anypix.batch.ray_pool.RayPool` — Ray actors, each with a model (one GPU each when the
  cluster has GPUs).

A worker that dies mid-render loses nothing: the call is sent again to another worker, at most
``retries`` times. Only the driver (the caller) stores anything, so a render that ran twice is
stored once. ``timeout_s`` bounds each render: the worker is asked to stop at its next step
(and a Ray actor that does not is killed and replaced).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.errors import CancelledError, RenderTimeoutError, UserError, WorkersLostError

if TYPE_CHECKING:
    from anypix.batch.jobs import JobOutcome, RenderJob
    from anypix.config import Settings
    from anypix.plan import EditPlan
    from anypix.records import Render

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]
POLL_S = 0.05  # how often a waiting call looks at its worker's progress and its cancel flag


class WorkerLost(Exception):
    """Raised by a backend when the worker running a job died; the pool sends the job again."""


@dataclass
class PoolStats:
    """What a pool did (shown in the batch summary; the fault tests read it)."""

    renders: int = 0
    retried: int = 0  # jobs sent again after their worker died
    replaced: int = 0  # workers started to stand in for dead or killed ones
    busy_s: float = 0.0  # callers' time inside the pool: waiting for a worker, and rendering
    render_s: float = 0.0  # the workers' own time rendering (each render's timings["total"])
    by_worker: dict[str, int] = field(default_factory=dict)  # renders per worker ("host:pid")


class Deadline:
    """A render's time limit, read by the cancel callback the worker polls."""

    def __init__(self, timeout_s: float | None) -> None:
        self.timeout_s = timeout_s
        self.at = None if timeout_s is None else time.monotonic() + timeout_s

    @property
    def passed(self) -> bool:
        return self.at is not None and time.monotonic() > self.at


class RenderPool(ABC):
    """A renderer over ``workers`` workers (see the module docstring)."""

    def __init__(self, settings: Settings, workers: int, *, timeout_s: float | None = None) -> None:
        from anypix.tools.preset import default_locator

        if workers < 1:
            raise UserError(f"{workers} is not a number of workers", "give 1 or more")
        self.settings, self.workers, self.timeout_s = settings, workers, timeout_s
        self.stats = PoolStats()
        self._stats_lock = threading.Lock()
        # Locating is part of planning, so it runs on the driver, where turns run in threads.
        found = default_locator(settings.model)
        self.locator = _Serialised(found) if found is not None else None

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @abstractmethod
    def close(self) -> None:
        """Stop the workers."""

    @abstractmethod
    def __call__(self, plan: EditPlan, assets: Mapping[str, Path], *,
                 progress: Progress | None = None, cancel: Cancel | None = None,
                 **_: Any) -> Render:  # fmt: skip
        """Render ``plan`` on a free worker (the studio's renderer contract)."""

    def describe(self) -> str:
        return f"{type(self).__name__} with {self.workers} worker(s)"

    def _count(self, name: str, amount: float = 1) -> None:
        with self._stats_lock:
            setattr(self.stats, name, getattr(self.stats, name) + amount)

    def _timed_out(self, deadline: Deadline, cancel: Cancel | None) -> bool:
        """Whether a cancelled render was stopped by its deadline rather than by its caller."""
        return deadline.passed and not (cancel is not None and cancel())


class InProcessPool(RenderPool):
    """The configured preset loaded in this process; one render at a time."""

    def __init__(self, settings: Settings, *, timeout_s: float | None = None) -> None:
        from anypix.tools.preset import PresetRenderer

        super().__init__(settings, 1, timeout_s=timeout_s)
        self.renderer = PresetRenderer(settings)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Nothing to stop: the model is this process's and goes with it."""

    def __call__(self, plan: EditPlan, assets: Mapping[str, Path], *,
                 progress: Progress | None = None, cancel: Cancel | None = None,
                 **_: Any) -> Render:  # fmt: skip
        deadline = Deadline(self.timeout_s)

        def stop() -> bool:
            return deadline.passed or (cancel is not None and cancel())

        started = time.perf_counter()
        try:
            with self._lock:
                render = self.renderer(plan, assets, progress=progress, cancel=stop)
        except CancelledError:
            if self._timed_out(deadline, cancel):
                raise RenderTimeoutError(deadline.timeout_s or 0.0) from None
            raise
        finally:
            self._count("busy_s", time.perf_counter() - started)
        self._count("renders")
        self._count("render_s", render.timings.get("total", 0.0))
        return render


class WorkerPool(RenderPool):
    """A pool of workers in other processes: jobs carry asset bytes, a job whose worker died is
    sent again (at most ``retries`` times)."""

    def __init__(self, settings: Settings, workers: int, *, retries: int = 2,
                 timeout_s: float | None = None) -> None:  # fmt: skip
        super().__init__(settings, workers, timeout_s=timeout_s)
        self.retries = retries

    def __call__(self, plan: EditPlan, assets: Mapping[str, Path], *,
                 progress: Progress | None = None, cancel: Cancel | None = None,
                 **_: Any) -> Render:  # fmt: skip
        from anypix.batch.jobs import RenderJob

        deadline = Deadline(self.timeout_s)
        started = time.perf_counter()
        job = RenderJob.build(plan, assets)
        try:
            outcome = self._dispatch(job, progress, cancel, deadline)
        finally:
            self._count("busy_s", time.perf_counter() - started)
        self._count("renders")
        self._count("render_s", outcome.timings.get("total", 0.0))
        with self._stats_lock:
            by_worker = self.stats.by_worker
            by_worker[outcome.worker] = by_worker.get(outcome.worker, 0) + 1
        if progress is not None and outcome.steps is not None:
            progress(*outcome.steps)  # the last step, which polling may have missed
        try:
            return outcome.render()
        except CancelledError:
            if self._timed_out(deadline, cancel):
                raise RenderTimeoutError(deadline.timeout_s or 0.0) from None
            raise

    def _dispatch(self, job: RenderJob, progress: Progress | None, cancel: Cancel | None,
                  deadline: Deadline) -> JobOutcome:  # fmt: skip
        """Run ``job``, sending it again while its worker dies (``retries`` times at most)."""
        for attempt in range(self.retries + 1):
            try:
                return self._run(job, progress, cancel, deadline)
            except WorkerLost as lost:
                if attempt == self.retries:
                    raise WorkersLostError(
                        f"the render's worker died {attempt + 1} times (last: {lost})",
                        "check the workers' memory and logs; a rerun resumes the batch",
                    ) from None
                self._count("retried")
        raise AssertionError("unreachable: the loop returns or raises")

    @abstractmethod
    def _run(self, job: RenderJob, progress: Progress | None, cancel: Cancel | None,
             deadline: Deadline) -> JobOutcome:  # fmt: skip
        """Render ``job`` on a free worker and return its outcome; raise :class:`WorkerLost` if
        the worker died. The worker's cancel flag must go up when ``cancel()`` turns true or
        the deadline passes."""


class _Serialised:
    """A locator called from several threads one at a time (it loads its encoder lazily and
    holds a torch model)."""

    def __init__(self, locator: Any) -> None:
        self.locator = locator
        self._lock = threading.Lock()

    def __call__(self, plan: EditPlan, assets: Mapping[str, Any]) -> EditPlan:
        with self._lock:
            return self.locator(plan, assets)
