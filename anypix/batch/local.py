"""The local-process backend (``--workers N`` without Ray): a standard
:class:`~concurrent.futures.ProcessPoolExecutor` whose N processes each load the model once.

Progress and cancel requests travel through a multiprocessing manager's dicts, which the driver
and every worker can reach. A worker that dies breaks the executor (Python's own rule: every job
in flight fails with ``BrokenProcessPool``); the pool then starts a fresh executor and sends the
lost jobs again. A time-out stops a render at its next denoising step; unlike the Ray backend,
a worker stuck inside one step is not killed.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from anypix.batch.pool import POLL_S, Cancel, Deadline, Progress, WorkerLost, WorkerPool

if TYPE_CHECKING:
    from anypix.batch.jobs import JobOutcome, RemoteError, RenderJob
    from anypix.batch.worker import RenderWorker
    from anypix.config import Settings

# -- inside each worker process ---------------------------------------------------------------------

_WORKER: RenderWorker | None = None
_START_ERROR: RemoteError | None = None


def _start_worker(settings: dict[str, Any], threads: int | None, progress: Any, cancelled: Any,
                  pids: Any) -> None:  # fmt: skip
    """The executor's initializer: load the model once. An error is kept for ``_ready`` to
    report (an initializer that raises would only break the executor, with no message)."""
    import os

    from anypix.batch.jobs import RemoteError
    from anypix.batch.worker import RenderWorker

    global _WORKER, _START_ERROR
    try:
        _WORKER = RenderWorker(settings, threads, progress, cancelled)
        _WORKER.ready()
        pids[os.getpid()] = True
    except Exception as exc:
        _START_ERROR = RemoteError.of(exc)


def _ready() -> RemoteError | None:
    return _START_ERROR


def _render(job: RenderJob) -> JobOutcome:
    from anypix.batch.jobs import JobOutcome

    if _WORKER is None:
        return JobOutcome(job.id, "unstarted", error=_START_ERROR)
    return _WORKER.render(job)


# -- on the driver ----------------------------------------------------------------------------------


class ProcessPool(WorkerPool):
    """``workers`` local processes, each holding the configured preset."""

    def __init__(self, settings: Settings, workers: int, *, retries: int = 2,
                 timeout_s: float | None = None) -> None:  # fmt: skip
        super().__init__(settings, workers, retries=retries, timeout_s=timeout_s)
        # Workers fork from a server process that has imported torch and anypix once (fork from
        # this process would copy torch's threads; spawn would import everything per worker).
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["torch", "anypix.batch.worker", "anypix.tools.render"])
        self._manager = self._context.Manager()
        self._progress = self._manager.dict()
        self._cancelled = self._manager.dict()
        self.pids = self._manager.dict()  # pid -> True for every worker that loaded its model
        self._threads = settings.threads or 1
        self._slots = threading.Semaphore(workers)  # at most one queued job per process
        self._lock = threading.Lock()
        self._executor = self._new_executor()
        try:
            self._check_started()
        except BaseException:
            self.close()
            raise

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers, mp_context=self._context, initializer=_start_worker,
            initargs=(self.settings.model_dump(), self._threads, self._progress, self._cancelled,
                      self.pids),
        )  # fmt: skip

    def _check_started(self) -> None:
        """Wait for the workers to load the model; raise the error one of them hit."""
        futures = [self._executor.submit(_ready) for _ in range(self.workers)]
        for future in futures:
            error = future.result()
            if error is not None:
                raise error.rebuild()

    def _run(self, job: RenderJob, progress: Progress | None, cancel: Cancel | None,
             deadline: Deadline) -> JobOutcome:  # fmt: skip
        with self._slots:
            executor = self._executor
            try:
                future = executor.submit(_render, job)
            except BrokenProcessPool as exc:
                self._renew(executor)
                raise WorkerLost(str(exc)) from None
            stop_asked, shown = False, None
            while not wait([future], timeout=POLL_S, return_when=FIRST_COMPLETED).done:
                if not stop_asked and (deadline.passed or (cancel is not None and cancel())):
                    self._cancelled[job.id] = True
                    stop_asked = True
                if progress is not None:
                    step = self._progress.get(job.id)
                    if step is not None and step != shown:
                        progress(*step)
                        shown = step
            try:
                outcome: JobOutcome = future.result()
            except BrokenProcessPool as exc:
                self._renew(executor)
                raise WorkerLost(str(exc) or "a worker process died") from None
            return outcome

    def _renew(self, broken: ProcessPoolExecutor) -> None:
        """Replace a broken executor once, however many calls saw it break."""
        with self._lock:
            if self._executor is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                self._executor = self._new_executor()
                self._count("replaced")

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._manager.shutdown()

    def describe(self) -> str:
        return f"{self.workers} local process(es), {self._threads} torch thread(s) each"
