"""Cheap checks of attached files: what modality a file is, judged by its content.

Only the first bytes are read, so ``anypix plan`` stays fast; the asset store
(``anypix.memory.assets``) does the full decode and limits when a file is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from anypix.errors import AssetError
from anypix.plan import ASSET_NAME

Modality = Literal["image", "audio"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg"})


def _is_mp3(head: bytes) -> bool:
    return head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


_SIGNATURES: tuple[tuple[str, Modality, object], ...] = (
    ("png", "image", lambda h: h[:8] == b"\x89PNG\r\n\x1a\n"),
    ("jpeg", "image", lambda h: h[:3] == b"\xff\xd8\xff"),
    ("gif", "image", lambda h: h[:6] in (b"GIF87a", b"GIF89a")),
    ("webp", "image", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP"),
    ("bmp", "image", lambda h: h[:2] == b"BM"),
    ("tiff", "image", lambda h: h[:4] in (b"II*\x00", b"MM\x00*")),
    ("wav", "audio", lambda h: h[:4] == b"RIFF" and h[8:12] == b"WAVE"),
    ("flac", "audio", lambda h: h[:4] == b"fLaC"),
    ("ogg", "audio", lambda h: h[:4] == b"OggS"),
    ("mp3", "audio", _is_mp3),
)


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
            head = handle.read(16)
    except OSError as exc:
        raise AssetError(f"cannot read {path}: {exc.strerror}", "check its permissions") from None
    if not head:
        raise AssetError(f"{path} is empty", "attach a real image or audio file")
    for fmt, modality, matches in _SIGNATURES:
        if matches(head):  # type: ignore[operator]
            return modality, fmt
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
