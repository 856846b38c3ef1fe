"""Which textual-image widget draws previews: the best the terminal supports (Kitty graphics,
Sixel, else coloured half cells), or a fixed character renderer for deterministic tests.

``textual_image.widget`` asks the terminal about its graphics support when it is first imported,
which only works before Textual takes the terminal over: :func:`anypix.tui.run_tui` imports it
first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from textual.widget import Widget

ImageKind = Literal["auto", "halfcell", "unicode"]
IMAGE_KINDS: tuple[ImageKind, ...] = ("auto", "halfcell", "unicode")


def image_widget_class(kind: ImageKind = "auto") -> Callable[..., Widget]:
    """The ``textual_image`` widget class for ``kind``; call it with a path or a PIL image
    (None: nothing yet) and set ``.image`` to change the picture."""
    from textual_image import widget

    if kind == "halfcell":
        return widget.HalfcellImage
    if kind == "unicode":
        return widget.UnicodeImage
    if kind == "auto":
        return widget.Image
    raise ValueError(f"unknown image kind {kind!r}; use one of {', '.join(IMAGE_KINDS)}")
