"""The miniworld model family: anypix's own small models, trained on a procedural world.

``load_components`` is the ``miniworld`` diffusion preset's loader (see
:func:`anypix.models.diffusion.load_components`); the weights ship in ``weights/`` (or come from
``model_paths.miniworld``, a directory written by :func:`anypix.models.miniworld.train.export`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from anypix.config import Settings
    from anypix.models.diffusion import Components


def load_components(
    *, settings: Settings | None = None, device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> Components:  # fmt: skip
    from anypix.models.miniworld.loader import load_miniworld

    return load_miniworld(settings=settings, device=device, dtype=dtype)


__all__: list[str] = ["load_components"]
