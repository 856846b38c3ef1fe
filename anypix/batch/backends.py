"""Choosing a render pool: in process, local processes or Ray actors.

Apart from :mod:`anypix.batch.pool` so that the pools (which build on its base classes) and the
choice between them do not import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from anypix.batch.pool import InProcessPool, RenderPool

if TYPE_CHECKING:
    from anypix.config import Settings


def open_pool(settings: Settings, *, workers: int | None = None, ray: str | None = None,
              retries: int = 2, timeout_s: float | None = None) -> RenderPool:  # fmt: skip
    """The pool the command line asks for: ``ray`` (``auto`` or a cluster address) -> Ray
    actors; ``workers`` alone -> local processes; neither -> in process."""
    if ray is not None:
        from anypix.batch.ray_pool import RayPool

        return RayPool(settings, address=ray, workers=workers, retries=retries,
                       timeout_s=timeout_s)  # fmt: skip
    if workers is not None and workers > 1:
        from anypix.batch.local import ProcessPool

        return ProcessPool(settings, workers, retries=retries, timeout_s=timeout_s)
    return InProcessPool(settings, timeout_s=timeout_s)
