"""Resolving what a reference means: an asset name, an attachment's file name, or a description.

    refs = References(files={"dog": "IMG_0042.jpg"}, index=lambda: session_index)
    refs.rewrite("add [IMG_0042.jpg] to [the photo with the red car]", {"dog": "image", ...})
    # -> "add [dog] to [photo]"

A ``[name]`` that is an asset stays. One that is an attachment's original file name becomes that
asset's name. Anything else is a description, resolved through the session's retrieval index
(:meth:`anypix.tools.retrieve.SessionIndex.resolve`: recency like "the last picture", or
meaning). The index is built only when a description needs it, so plain instructions never load
an encoder (or torch). A description two assets match about equally well raises
:class:`~anypix.errors.AmbiguousReferenceError` with the candidates; it is never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from anypix.errors import UnknownAssetError, UserError

if TYPE_CHECKING:
    from anypix.tools.retrieve import AssetModality, SessionIndex

_BRACKET = re.compile(r"\[([^\[\]]*)\]")
# Something that reads as words rather than a name: a space, or only letters and spaces.
_DESCRIPTION = re.compile(r"\s")


@dataclass
class References:
    """What the planner may resolve references against, beyond asset names.

    ``files``: asset name -> the file name it was attached from (``IMG_0042.jpg``).
    ``index``: the session's :class:`SessionIndex`, or a function building it on first use."""

    files: Mapping[str, str] = field(default_factory=dict)
    index: SessionIndex | Callable[[], SessionIndex | None] | None = None
    _built: Any = field(default=None, init=False, repr=False)

    def session_index(self) -> SessionIndex | None:
        if self._built is None and self.index is not None:
            self._built = self.index() if callable(self.index) else self.index
        return self._built

    def by_file_name(self, ref: str, assets: Mapping[str, str]) -> str | None:
        """The asset attached from file ``ref`` (matched on the base name, case-insensitively);
        None when no attachment has that name, an error when several do."""
        wanted = PurePath(ref.strip()).name.casefold()
        found = [
            name
            for name, file in self.files.items()
            if wanted and name in assets and wanted in _file_names(str(file))
        ]
        if len(found) > 1:
            raise UserError(
                f"{ref!r} is the file name of {' and '.join(f'[{n}]' for n in found)}",
                f"name the asset, e.g. [{found[0]}]",
            )
        return found[0] if found else None

    def resolve(self, ref: str, assets: Mapping[str, str]) -> str:
        """The asset name ``ref`` means; raises UnknownAssetError or AmbiguousReferenceError."""
        if ref in assets:
            return ref
        named = self.by_file_name(ref, assets)
        if named is not None:
            return named
        index = self.session_index() if _DESCRIPTION.search(ref.strip()) else None
        if index is None:
            raise UnknownAssetError(ref, list(assets))
        resolution = index.resolve(ref, modality=_kind_of(ref))
        if resolution.name not in assets:  # indexed, but not attached to this turn
            raise UnknownAssetError(ref, list(assets))
        return resolution.name

    def rewrite(self, text: str, assets: Mapping[str, str]) -> str:
        """``text`` with every ``[reference]`` that resolves replaced by ``[asset name]``; one
        nothing resolves is left for the caller to report (the planner raises UnknownAssetError),
        an ambiguous one raises here. An attachment's file name written bare ("brighten up
        DSC_1180.JPG", "put IMG_2231 into IMG_2230", "~/Pictures/IMG_4410.jpg") is a reference
        too, when it has an extension or its stem has a digit (a bare word is not: "dog" of dog.png
        stays a word)."""
        text = self._bare_file_names(text, assets)
        if all(inside in assets for inside in _BRACKET.findall(text)):
            return text  # the fast path: nothing to resolve

        def name(match: re.Match[str]) -> str:
            try:
                return f"[{self.resolve(match.group(1), assets)}]"
            except UnknownAssetError:
                return match.group(0)

        return _BRACKET.sub(name, text)

    def _bare_file_names(self, text: str, assets: Mapping[str, str]) -> str:
        for name, file in self.files.items():
            written = [n for n in _file_names(str(file)) if PurePath(n).suffix or _file_like(n)]
            if name not in assets or not written:
                continue
            either = "|".join(re.escape(n) for n in sorted(written, key=len, reverse=True))
            # with the folders before it, if any: "~/Pictures/IMG_4410.jpg", "photos/lake.png"
            bare = re.compile(rf"(?<![\[\w./~-])(?:(?:~|\.{{1,2}})?/?(?:[\w.\-]+/)+)?(?:{either})(?![\w\]]|\.\w)",
                              re.IGNORECASE)  # fmt: skip
            outside = _BRACKET.split(text)  # even pieces: outside brackets; odd: inside
            for index in range(0, len(outside), 2):
                outside[index] = bare.sub(f"[{name}]", outside[index])
            text = "".join(
                piece if index % 2 == 0 else f"[{piece}]" for index, piece in enumerate(outside)
            )
        return text


def _file_names(file: str) -> set[str]:
    """How a person may write an attachment's file name: whole, or without its extension."""
    base = PurePath(file).name.casefold()
    return {base, PurePath(base).stem} if PurePath(base).suffix else {base}


def _file_like(stem: str) -> bool:
    """A stem that reads as a file's name, not a word or a number: "IMG_2231", "scan-03"."""
    return (
        len(stem) >= 4 and bool(re.search(r"\d", stem)) and bool(re.search(r"[a-z_\-]", stem, re.I))
    )


def _kind_of(ref: str) -> AssetModality | None:
    """The modality a description names ("the photo with...", "the sound of..."), if any."""
    if re.search(r"\b(?:sound|audio|recording|clip|track|song)s?\b", ref, re.I):
        return "audio"
    if re.search(r"\b(?:photo|picture|image|pic|shot|snapshot|img)s?\b", ref, re.I):
        return "image"
    return None
