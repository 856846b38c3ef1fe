"""``anypix batch`` and ``anypix serve --workers/--ray`` as functions the CLI calls: what the
command line gives, in; a finished batch (or an error that knows its exit code), out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from anypix.errors import BatchIncomplete, CancelledError, UserError

if TYPE_CHECKING:
    from rich.console import Console

    from anypix.batch.pool import RenderPool
    from anypix.batch.run import BatchResult
    from anypix.config import Settings
    from anypix.knobs import EditOptions
    from anypix.studio import Studio

MAX_DRIVER_THREADS = 64


def driver_threads(pool: RenderPool) -> int:
    """Turns the driver runs at once: two per worker, so a worker's next job is planned and
    its last one stored while it renders (one for the in-process pool: today's behaviour)."""
    from anypix.batch.pool import InProcessPool

    return 1 if isinstance(pool, InProcessPool) else min(MAX_DRIVER_THREADS, 2 * pool.workers)


def pool_studio(settings: Settings, pool: RenderPool, *, batch: bool = False) -> Studio:
    """The settings' studio with its renders sent to ``pool``, for turns run from several
    threads (planning and locating stay on this driver, one at a time). A ``batch`` studio
    plans its one instruction once for all its turns."""
    from anypix.agent.planner import planner_for
    from anypix.batch.spec import SerialPlanner, SharedPlanner
    from anypix.studio import Studio

    planner = planner_for(settings)
    shared = SharedPlanner(planner) if batch else SerialPlanner(planner)
    return Studio(settings.data_dir, planner=shared, renderer=pool, locator=pool.locator,
                  settings=settings)  # fmt: skip


def batch(
    instruction: str,
    files: list[Path],
    settings: Settings,
    console: Console,
    *,
    options: EditOptions,
    out: Path,
    input_name: str | None = None,
    assets: list[str] | None = None,
    workers: int | None = None,
    ray: str | None = None,
    timeout_s: float | None = None,
    retries: int = 2,
) -> BatchResult:
    """Run a batch as the command line describes it; raises :class:`BatchIncomplete` when some
    edits failed and :class:`CancelledError` when interrupted (both after the summary)."""
    from anypix.batch.backends import open_pool
    from anypix.batch.report import BatchProgress
    from anypix.batch.run import run_batch
    from anypix.batch.spec import BatchSpec
    from anypix.media import parse_attachments

    if timeout_s is not None and timeout_s <= 0:
        raise UserError(f"--timeout {timeout_s:g} is not a time", "give seconds, more than 0")
    shared = {name: a.path for name, a in parse_attachments(assets or []).items()}
    spec = BatchSpec.create(instruction, files, options, settings.model, input_name=input_name,
                            shared=shared)  # fmt: skip
    pool = open_pool(settings, workers=workers, ray=ray, retries=retries, timeout_s=timeout_s)
    with pool, pool_studio(settings, pool, batch=True) as studio:
        progress = BatchProgress(console, describe=pool.describe())
        result = run_batch(spec, studio, out, progress, threads=driver_threads(pool))
    unfinished = result.total - result.count("done")
    if result.interrupted:
        raise CancelledError(f"interrupted with {unfinished} of {result.total} edit(s) not "
                             "finished; rerun the same command to resume")  # fmt: skip
    if unfinished:
        raise BatchIncomplete(f"{unfinished} of {result.total} edit(s) failed",
                              "see the reasons above; rerun the same command to retry them")  # fmt: skip
    return result


def serving_pool(settings: Settings, *, workers: int | None = None,
                 ray: str | None = None) -> RenderPool | None:  # fmt: skip
    """The render pool ``anypix serve`` dispatches to; None for today's in-process renderer."""
    if ray is None and (workers is None or workers <= 1):
        return None
    from anypix.batch.backends import open_pool

    return open_pool(settings, workers=workers, ray=ray)
