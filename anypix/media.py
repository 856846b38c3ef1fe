"""Cheap checks of attached files: what modality a file is, judged by its content.

Only the first bytes are read (and judged by the ``filetype`` library's signatures), so ``anypix plan`` stays fast; the asset store
(``anypix.memory.assets``) does the full decode and limits when a file is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import filetype

from anypix.errors import AssetError
from anypix.plan import ASSET_NAME

Modality = Literal["image", "audio"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg"})


# What the file-type library reports (by MIME type) -> (modality, format anypix names it).
_KNOWN: dict[str, tuple[Modality, str]] = {
    "image/png": ("image", "png"),
    "image/apng": ("image", "png"),
    "image/jpeg": ("image", "jpeg"),
    "image/gif": ("image", "gif"),
    "image/webp": ("image", "webp"),
    "image/bmp": ("image", "bmp"),
    "image/tiff": ("image", "tiff"),
    "audio/x-wav": ("audio", "wav"),
    "audio/x-flac": ("audio", "flac"),
    "audio/ogg": ("audio", "ogg"),
    "audio/mpeg": ("audio", "mp3"),
}
_HEAD_BYTES = 8192  # enough for every signature the library checks
_MIN_BYTES = 26  # the smallest file of any format here (a 1x1 GIF); shorter is a bare signature


class _MpegAudioFrames(filetype.Type):
    """An MP3 without an ID3 tag starts with a Layer III frame header; the library knows the
    MPEG-1 and MPEG-2 ones, not MPEG-2.5 (the low sample rates, e.g. 8 kHz speech)."""

    def __init__(self) -> None:
        super().__init__(mime="audio/mpeg", extension="mp3")

    def match(self, buf: bytes) -> bool:
        # 11 sync bits, a version other than "reserved" (01), layer III (01).
        if len(buf) < 2 or buf[0] != 0xFF or buf[1] & 0xE0 != 0xE0:
            return False
        return (buf[1] >> 3) & 0b11 != 0b01 and (buf[1] >> 1) & 0b11 == 0b01


_MATCHERS = (*filetype.image_matchers, *filetype.audio_matchers, _MpegAudioFrames())


def sniff_bytes(head: bytes) -> tuple[Modality, str] | None:
    """(modality, format) of a file from its first bytes; None when anypix does not read it."""
    found = filetype.match(head, matchers=_MATCHERS)
    return None if found is None else _KNOWN.get(found.mime)


@dataclass(frozen=True)
class Attachment:
    """A named file the user attached: ``--asset dog=dog.png``."""

    name: str
    path: Path
    modality: Modality
    format: str


def sniff(path: Path) -> tuple[Modality, str]:
    """(modality, format) of a file from its first bytes. Raises :class:`AssetError`."""
    if not path.exists():
        raise AssetError(f"{path} does not exist", "check the path")
    if not path.is_file():
        raise AssetError(f"{path} is not a file", "attach an image or audio file")
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise AssetError(f"cannot read {path}: {exc.strerror}", "check its permissions") from None
    if not head:
        raise AssetError(f"{path} is empty", "attach a real image or audio file")
    if len(head) < _MIN_BYTES:
        raise AssetError(
            f"{path} is {len(head)} bytes, too short to be an image or audio file",
            "attach a real image or audio file",
        )
    found = sniff_bytes(head)
    if found is not None:
        return found
    kinds = "PNG, JPEG, GIF, WebP, BMP or TIFF images; WAV, FLAC, OGG or MP3 audio"
    raise AssetError(f"{path} is neither an image nor audio anypix can read", f"use {kinds}")


def parse_attachment(option: str) -> Attachment:
    """Read one ``NAME=PATH`` option (a bare PATH takes its file stem as the name)."""
    name, sep, raw_path = option.partition("=")
    if not sep:
        raw_path = option
        name = re.sub(r"[^A-Za-z0-9_.\-]", "_", Path(option).stem).lstrip(".-") or "asset"
    name = name.strip()
    if not ASSET_NAME.match(name):
        raise AssetError(
            f"{name!r} is not a usable asset name",
            "use letters, digits, '_', '-' or '.', e.g. --asset dog=dog.png",
        )
    path = Path(raw_path).expanduser()
    modality, fmt = sniff(path)
    return Attachment(name=name, path=path, modality=modality, format=fmt)


def parse_attachments(options: list[str]) -> dict[str, Attachment]:
    attachments: dict[str, Attachment] = {}
    for option in options:
        attachment = parse_attachment(option)
        if attachment.name in attachments:
            raise AssetError(
                f"two attachments are named {attachment.name!r}", "give each --asset its own name"
            )
        attachments[attachment.name] = attachment
    return attachments
