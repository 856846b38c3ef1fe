"""Honest scope: what a model cannot draw is said at once, and outputs keep the input's shape.

* :func:`scope_notice` asks the preset's capabilities (``out_of_scope``) whether an instruction's
  words or images lie outside what its model can draw; the turn records the answer as a
  ``scope`` step before it renders, so front ends show it while the render runs;
* :func:`fit_aspect` is the size a render of a ``[base]`` uses when the plan sets none: the
  model's default area in the base's aspect ratio, so a 4:3 photo comes back 4:3, not squashed
  into the model's square.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from anypix.errors import ModelUnavailableError


def scope_notice(preset: str, instruction: str, assets: Mapping[str, Any]) -> str | None:
    """One line saying what of the request ``preset``'s model cannot draw (and what to do), or
    None when it all fits or the model draws anything."""
    from anypix.models.registry import capabilities

    try:
        check = capabilities(preset).out_of_scope
    except ModelUnavailableError:  # components built in code: no registered capabilities
        return None
    return None if check is None else check(instruction, assets)


def fit_aspect(
    source: tuple[int, int], default: tuple[int, int], multiple: int
) -> tuple[int, int]:
    """(width, height) with about the area of ``default`` and the aspect ratio of ``source``,
    each side a multiple of ``multiple`` (at least one multiple)."""
    width, height = source
    if width <= 0 or height <= 0:
        raise ValueError(f"an image of {width}x{height} pixels has no aspect ratio")
    area = default[0] * default[1]
    scale = math.sqrt(area / (width * height))

    def side(length: int) -> int:
        return max(multiple, round(length * scale / multiple) * multiple)

    return side(width), side(height)
