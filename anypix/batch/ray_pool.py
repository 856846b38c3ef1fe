"""The Ray backend: render workers as Ray actors, each holding a loaded model.

    pool = RayPool(settings, address="auto")      # a local Ray instance (or the one RAY_ADDRESS names)
    pool = RayPool(settings, address="ray://head:10001", workers=8)   # an existing cluster

One actor per GPU when the cluster has GPUs (``num_gpus=1`` each, so Ray pins each actor to its
own device); on CPU one actor per core, its torch threads pinned to ``settings.threads`` (default
1). Actors are threaded (``max_concurrency=2``): one thread renders while the other answers the
driver's questions about progress and its requests to cancel. Actors never restart on their own:
when one dies, the pool starts a replacement and sends the lost job to the next free actor.

Every node of a cluster must have anypix installed (the same version as the driver) and, for a
preset other than the one shipped in the package, its weights where ``model_paths`` says.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from anypix.batch.pool import Cancel, Deadline, Progress, WorkerLost, WorkerPool
from anypix.errors import (
    AnypixError,
    CancelledError,
    NotAvailableError,
    RenderTimeoutError,
    UnavailableError,
    UserError,
)

if TYPE_CHECKING:
    from anypix.batch.jobs import JobOutcome, RenderJob
    from anypix.config import Settings

POLL_S = 0.1  # how often a waiting call asks its actor for progress and checks for cancel
STOP_GRACE_S = 10.0  # after a stop request, how long an actor may take before it is killed
START_TIMEOUT_S = 600.0  # loading a large preset on a cold node takes minutes


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise NotAvailableError(
            "Ray is not installed", "install the extra: pip install 'anypix[ray]'"
        ) from None
    return ray


class RayPool(WorkerPool):
    """Render actors on a Ray cluster (see the module docstring)."""

    def __init__(self, settings: Settings, *, address: str = "auto", workers: int | None = None,
                 retries: int = 2, timeout_s: float | None = None) -> None:  # fmt: skip
        """``address``: ``auto`` starts a local Ray instance (unless this process is already
        connected, or RAY_ADDRESS names a cluster); anything else is a cluster's address."""
        ray = import_ray()
        self._started_ray = not ray.is_initialized()
        if self._started_ray:
            try:
                # "auto": RAY_ADDRESS's cluster, else a new local instance -- never whatever
                # cluster Ray last saw on this machine, which may be long gone.
                chosen = (os.environ.get("RAY_ADDRESS") or "local") if address == "auto" else address
                ray.init(address=chosen, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UnavailableError(f"cannot connect to the Ray cluster at {address}: {exc}",
                                  "start it with `ray start --head`, or use --ray auto") from None  # fmt: skip
        gpus, cpus = self._capacity(ray)
        self._gpus = 1 if gpus else 0
        self._threads = None if gpus else settings.threads or 1
        count = workers or gpus or max(1, cpus // (self._threads or 1))
        super().__init__(settings, count, retries=retries, timeout_s=timeout_s)
        self._free: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        # the actor serving each calling thread's render (what a fault test kills mid-render)
        self.running: dict[int, Any] = {}
        self.where: list[str] = []
        try:
            self._start(count)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _capacity(ray: Any) -> tuple[int, int]:
        resources = ray.cluster_resources()
        return int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))

    def _spawn(self) -> Any:
        from anypix.batch.worker import RenderWorker

        ray = import_ray()
        # A CPU actor reserves a core per torch thread, so Ray never packs more threads than cores.
        actor_class = ray.remote(RenderWorker).options(
            num_cpus=self._threads or 1, num_gpus=self._gpus, max_concurrency=2, max_restarts=0
        )
        return actor_class.remote(self.settings.model_dump(), self._threads)

    def _start(self, count: int) -> None:
        """Start ``count`` actors and wait until each has loaded its model."""
        ray = import_ray()
        gpus, cpus = self._capacity(ray)
        room = gpus if gpus else cpus // (self._threads or 1)
        if count > room:
            kind = "GPUs" if gpus else "CPUs"
            raise UserError(f"the Ray cluster has {room} {kind}, too few for {count} workers",
                              f"use --workers {room} or fewer, or add nodes")  # fmt: skip
        actors = [self._spawn() for _ in range(count)]
        try:
            self.where = ray.get([a.ready.remote() for a in actors], timeout=START_TIMEOUT_S)
        except (ray.exceptions.RayTaskError, ray.exceptions.RayActorError) as exc:
            for actor in actors:
                ray.kill(actor)
            cause = exc.cause if isinstance(exc, ray.exceptions.RayTaskError) else exc
            if isinstance(cause, AnypixError):
                raise cause from None
            raise UnavailableError(f"a render worker could not start: {cause}",
                              "check that anypix and the model are installed on every node") from None  # fmt: skip
        for actor in actors:
            self._free.put(actor)

    @property
    def actors(self) -> list[Any]:
        """The live actors (free ones and busy ones)."""
        with self._lock:
            busy = list(self.running.values())
        return busy + list(self._free.queue)

    def _run(self, job: RenderJob, progress: Progress | None, cancel: Cancel | None,
             deadline: Deadline) -> JobOutcome:  # fmt: skip
        actor = self._free.get()
        caller = threading.get_ident()
        with self._lock:
            self.running[caller] = actor
        alive = False
        try:
            outcome = self._wait(actor, job, progress, cancel, deadline)
            alive = True
            return outcome
        finally:
            with self._lock:
                self.running.pop(caller, None)
            self._free.put(actor if alive else self._replace(actor))

    def _wait(self, actor: Any, job: RenderJob, progress: Progress | None,
              cancel: Cancel | None, deadline: Deadline) -> JobOutcome:  # fmt: skip
        """Wait for the actor's answer, relaying its progress and the caller's cancel."""
        ray = import_ray()
        result = actor.render.remote(job)
        stop_asked: float | None = None
        shown = None
        while True:
            ready, _ = ray.wait([result], timeout=POLL_S)
            if ready:
                try:
                    outcome: JobOutcome = ray.get(result)
                except ray.exceptions.RayActorError as exc:
                    raise WorkerLost(_first_line(exc)) from None
                return outcome
            if stop_asked is None and (deadline.passed or (cancel is not None and cancel())):
                actor.cancel.remote(job.id)  # the render stops at its next step
                stop_asked = time.monotonic()
            elif stop_asked is not None and time.monotonic() - stop_asked > STOP_GRACE_S:
                ray.kill(actor)  # stuck inside a step: _run replaces it
                if deadline.passed:
                    raise RenderTimeoutError(deadline.timeout_s or 0.0)
                raise CancelledError("render cancelled (its worker was stopped)")
            if progress is not None:
                shown = self._relay_progress(actor, job, progress, shown)

    @staticmethod
    def _relay_progress(actor: Any, job: RenderJob, progress: Progress, shown: Any) -> Any:
        ray = import_ray()
        try:
            step = ray.get(actor.progress.remote(job.id), timeout=POLL_S * 20)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            return shown  # the render's own result says what happened to the actor
        if step is not None and step != shown:
            progress(*step)
        return step

    def _replace(self, dead: Any) -> Any:
        """A new actor in place of one that died or was killed (its model loads in the
        background; calls sent to it wait for that)."""
        ray = import_ray()
        ray.kill(dead)
        self._count("replaced")
        return self._spawn()

    def close(self) -> None:
        ray = import_ray()
        if not ray.is_initialized():
            return
        for actor in self.actors:
            ray.kill(actor)
        self.running.clear()
        self._free = queue.Queue()
        if self._started_ray:
            ray.shutdown()

    def describe(self) -> str:
        device = "GPU" if self._gpus else f"CPU, {self._threads} thread(s)"
        return f"Ray: {self.workers} actor(s), one {device} each"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
