"""anypix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anypix.studio import Session, Studio

__all__ = ["Session", "Studio"]


def __getattr__(name: str) -> Any:
    # Lazy, so that ``import anypix`` (and ``anypix --help``) does not load SQLAlchemy.
    if name in __all__:
        from anypix import studio

        return getattr(studio, name)
    raise AttributeError(f"module 'anypix' has no attribute {name!r}")
