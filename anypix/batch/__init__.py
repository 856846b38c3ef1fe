"""Batch edits and render pools: past one process, and past one machine with Ray.

    anypix batch "make [photo] warmer" photos/*.jpg --out out/warm              # in process
    anypix batch "make [photo] warmer" photos/*.jpg --workers 4                 # 4 local processes
    anypix batch "make [photo] warmer" photos/*.jpg --ray auto                  # Ray actors
    anypix serve --http --ray ray://head:10001                                  # a render pool

From Python::

    from anypix.batch import BatchProgress, BatchSpec, open_pool, run_batch
    from anypix.batch.command import pool_studio

    spec = BatchSpec.create("make [photo] warmer", files, EditOptions(seed=1), settings.model)
    with open_pool(settings, ray="auto") as pool, pool_studio(settings, pool, batch=True) as studio:
        run_batch(spec, studio, Path("out/warm"), BatchProgress(console), threads=8)

A batch is one instruction applied to many files: one turn per input, each in its own session,
run by the one front-end API with a render pool as the studio's renderer
(:mod:`anypix.batch.run`). The pools (:mod:`anypix.batch.pool`) are renderers that send plans
and asset bytes to workers holding a loaded model and get images and provenance back; only the
driver writes the database and the asset store. docs/batch.md says why it is built so.
"""

from anypix.batch.backends import open_pool
from anypix.batch.pool import InProcessPool, PoolStats, RenderPool, WorkerPool
from anypix.batch.report import BatchProgress, summary
from anypix.batch.run import MANIFEST, BatchResult, ItemResult, run_batch, verification
from anypix.batch.spec import BatchItem, BatchSpec, SharedPlanner, batch_items, item_key

__all__ = [
    "MANIFEST", "BatchItem", "BatchProgress", "BatchResult", "BatchSpec", "InProcessPool",
    "ItemResult", "PoolStats", "RenderPool", "SharedPlanner", "WorkerPool", "batch_items",
    "item_key", "open_pool", "run_batch", "summary", "verification",
]  # fmt: skip
