"""The content-addressed asset store, and validation of every file on its way in.

A file is judged by its content, never its extension: it must decode completely as an image
(PNG, JPEG, GIF, WebP, BMP, TIFF) or as audio (WAV, FLAC, OGG, MP3) within the size, pixel and
duration limits. Images are stored *normalised*: EXIF orientation applied, colour mode reduced to
RGB or RGBA, re-encoded as PNG. Lossless PNG (not the original JPEG) is what makes a replay read
the very same pixels on another machine, whose JPEG decoder may differ. Audio is stored as it came.

Files live at ``assets/<sha256[:2]>/<sha256>.<format>``; the sha256 is of the stored bytes. Names
people give assets (``[dog]``) live only in the database and never become paths.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import time
import uuid
import warnings
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from anypix.errors import AssetError
from anypix.memory.db import StorageError

if TYPE_CHECKING:
    from PIL import Image

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
AUDIO_FORMATS = {"WAV": "wav", "FLAC": "flac", "OGG": "ogg", "MP3": "mp3"}
SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MiB = 1024 * 1024


class AssetLimits(BaseModel):
    """What the store accepts. Decompression bombs are refused from the header, before decoding."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_image_bytes: int = Field(default=64 * _MiB, gt=0)
    max_pixels: int = Field(default=40_000_000, gt=0, description="width * height")
    max_side: int = Field(default=16_384, gt=0, description="longest side in pixels")
    max_audio_bytes: int = Field(default=256 * _MiB, gt=0)
    max_audio_seconds: float = Field(default=600.0, gt=0)


@dataclass(frozen=True)
class PreparedAsset:
    """A validated asset held in memory, ready to be placed in the store and recorded."""

    sha256: str
    data: bytes = field(repr=False)
    modality: str
    format: str
    source_format: str
    origin: str
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None

    def row_values(self, created_at: float) -> dict[str, Any]:
        """The ``assets`` row for this asset."""
        return {
            "sha256": self.sha256,
            "modality": self.modality,
            "format": self.format,
            "source_format": self.source_format,
            "bytes": len(self.data),
            "width": self.width,
            "height": self.height,
            "mode": self.mode,
            "caption": None,
            "origin": self.origin,
            "created_at": created_at,
            "duration_s": self.duration_s,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
        }


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- images ------------------------------------------------------------------------------------------


def _open_image(data: bytes, label: str, limits: AssetLimits) -> Image.Image:
    """Open and fully decode an image, refusing bombs before the pixels are decoded."""
    from PIL import Image, UnidentifiedImageError

    hint = "attach a real PNG, JPEG, GIF, WebP, BMP or TIFF image"
    try:
        with warnings.catch_warnings():
            # Pillow warns (not raises) between 1x and 2x its own pixel limit; refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
            width, height = image.size
            if width * height > limits.max_pixels or max(width, height) > limits.max_side:
                raise AssetError(
                    f"{label} is {width}x{height} pixels, over the limit of "
                    f"{limits.max_pixels:,} pixels and {limits.max_side} a side",
                    "resize it first",
                )
            image.load()
    except AssetError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AssetError(
            f"{label} declares too many pixels (a decompression bomb?)", hint
        ) from None
    except UnidentifiedImageError:
        raise AssetError(f"{label} is not an image anypix can read", hint) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise AssetError(f"{label} is a damaged or truncated image ({exc})", hint) from None
    if width == 0 or height == 0:
        raise AssetError(f"{label} has no pixels", hint)
    return image


def _normalise_mode(image: Image.Image) -> Image.Image:
    """RGBA if the image has any transparency, else RGB; 16-bit and float greys scaled to 8-bit."""
    import numpy as np
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(np.round(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    )
    target = "RGBA" if has_alpha else "RGB"
    return image if image.mode == target else image.convert(target)


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    # No metadata: the same pixels always give the same bytes, hence the same sha256.
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def prepare_image_bytes(
    data: bytes, label: str, limits: AssetLimits, origin: str = "uploaded"
) -> PreparedAsset:
    from PIL import ImageOps

    if not data:
        raise AssetError(f"{label} is empty", "attach a real image or audio file")
    if len(data) > limits.max_image_bytes:
        raise AssetError(
            f"{label} is {len(data) / _MiB:.1f} MiB, over the image limit of "
            f"{limits.max_image_bytes / _MiB:.0f} MiB",
            "compress or resize it first",
        )
    image = _open_image(data, label, limits)
    source_format = (image.format or "png").lower()
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # an animation contributes its first frame
    upright = ImageOps.exif_transpose(image)
    return prepare_image(upright if upright is not None else image, origin, source_format)


def prepare_image(
    image: Image.Image, origin: str = "rendered", source_format: str = "png"
) -> PreparedAsset:
    """Normalise an in-memory image (a render's output) into a storable asset."""
    image = _normalise_mode(image)
    data = _png_bytes(image)
    return PreparedAsset(
        sha256=_sha256(data),
        data=data,
        modality="image",
        format="png",
        source_format=source_format,
        origin=origin,
        width=image.width,
        height=image.height,
        mode=image.mode,
    )


# -- audio -------------------------------------------------------------------------------------------


def _wav_truncated(data: bytes) -> bool:
    """A RIFF file whose chunk sizes promise more bytes than it has (libsndfile reads it short)."""
    if len(data) < 12 or data[:4] != b"RIFF":
        return False
    offset = 12
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        if data[offset : offset + 4] == b"data":
            return offset + 8 + size > len(data)
        offset += 8 + size + (size & 1)
    return True  # no complete data chunk


def prepare_audio_bytes(data: bytes, label: str, limits: AssetLimits) -> PreparedAsset:
    import soundfile

    hint = "attach a real WAV, FLAC, OGG or MP3 file"
    if not data:
        raise AssetError(f"{label} is empty", "attach a real image or audio file")
    if len(data) > limits.max_audio_bytes:
        raise AssetError(
            f"{label} is {len(data) / _MiB:.1f} MiB, over the audio limit of "
            f"{limits.max_audio_bytes / _MiB:.0f} MiB",
            "trim or compress it first",
        )
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as sound:
            fmt = AUDIO_FORMATS.get(sound.format)
            if fmt is None:
                raise AssetError(
                    f"{label} is {sound.format} audio, which anypix does not take", hint
                )
            if sound.samplerate <= 0 or sound.channels <= 0:
                raise AssetError(f"{label} declares no samples", hint)
            rate, channels, declared = sound.samplerate, sound.channels, sound.frames
            if declared > limits.max_audio_seconds * rate:
                raise AssetError(
                    f"{label} lasts {declared / rate:.0f} s, over the limit of "
                    f"{limits.max_audio_seconds:.0f} s",
                    "trim it first",
                )
            # Decode everything: damage in the middle of a stream only shows up while reading.
            frames = sum(len(block) for block in sound.blocks(blocksize=65536, dtype="float32"))
    except AssetError:
        raise
    except (
        RuntimeError,
        ValueError,
        TypeError,
        EOFError,
    ) as exc:  # LibsndfileError is a RuntimeError
        raise AssetError(f"{label} is not audio anypix can read ({exc})", hint) from None
    # libsndfile quietly reads a cut-off WAV or FLAC short; their headers say how long they are.
    if (
        frames == 0
        or (fmt == "wav" and _wav_truncated(data))
        or (fmt == "flac" and frames < declared)
    ):
        raise AssetError(f"{label} is truncated or has no audio", hint)
    return PreparedAsset(
        sha256=_sha256(data),
        data=data,
        modality="audio",
        format=fmt,
        source_format=fmt,
        origin="uploaded",
        duration_s=frames / rate,
        sample_rate=rate,
        channels=channels,
    )


# -- the store ---------------------------------------------------------------------------------------


class AssetStore:
    """Files under ``root`` named by their sha256: the same content is stored once."""

    def __init__(self, root: Path, limits: AssetLimits | None = None) -> None:
        self.root = root
        self.limits = limits or AssetLimits()

    def path(self, sha256: str, fmt: str) -> Path:
        if not SHA256.match(sha256) or not re.fullmatch(r"[a-z0-9]{1,8}", fmt):
            raise ValueError(f"not an asset address: {sha256!r}.{fmt!r}")
        return self.root / sha256[:2] / f"{sha256}.{fmt}"

    def prepare_file(self, path: Path, label: str | None = None) -> PreparedAsset:
        """Validate a file on disk (by content) into an asset. Raises :class:`AssetError`."""
        from anypix.media import sniff

        label = label or str(path)
        modality, _ = sniff(path)  # exists, readable, non-empty, a known signature
        limit = self.limits.max_image_bytes if modality == "image" else self.limits.max_audio_bytes
        try:
            size = path.stat().st_size
            if size > limit:
                raise AssetError(
                    f"{label} is {size / _MiB:.1f} MiB, over the {modality} limit of {limit / _MiB:.0f} MiB",
                    "compress or trim it first",
                )
            data = path.read_bytes()
        except OSError as exc:
            raise AssetError(
                f"cannot read {label}: {exc.strerror}", "check its permissions"
            ) from None
        return self.prepare_bytes(data, modality, label)

    def prepare_bytes(self, data: bytes, modality: str, label: str) -> PreparedAsset:
        if modality == "image":
            return prepare_image_bytes(data, label, self.limits)
        if modality == "audio":
            return prepare_audio_bytes(data, label, self.limits)
        raise AssetError(f"{label}: unknown modality {modality!r}", "use image or audio")

    def place(self, asset: PreparedAsset) -> bool:
        """Make sure the asset's file exists; True if this call created it.

        Written to a temp file, fsynced, then renamed into place, so a reader never sees half a
        file. Idempotent: safe to call again inside the transaction that records the asset."""
        target = self.path(asset.sha256, asset.format)
        if target.exists():
            return False
        temp = target.parent / f".tmp-{os.getpid()}-{uuid.uuid4().hex}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with temp.open("wb") as handle:
                handle.write(asset.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except OSError as exc:  # a full disk, a read-only or vanished folder
            raise StorageError(
                f"cannot store a file in {self.root}: {exc.strerror or exc}",
                "free some space or make the data dir writable, or point --data-dir elsewhere",
            ) from None
        finally:
            with suppress(OSError):
                temp.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return True

    def remove(self, sha256: str, fmt: str) -> None:
        self.path(sha256, fmt).unlink(missing_ok=True)

    def files(self) -> dict[str, Path]:
        """sha256 -> path of every stored file (temp files excluded)."""
        found: dict[str, Path] = {}
        if self.root.exists():
            for path in self.root.glob("??/*.*"):
                sha = path.name.partition(".")[0]
                if SHA256.match(sha):
                    found[sha] = path
        return found

    def stray_temp_files(self, older_than_s: float) -> list[Path]:
        """Temp files left by a process killed while writing."""
        cutoff = time.time() - older_than_s
        return [p for p in self.root.glob("??/.tmp-*") if p.stat().st_mtime <= cutoff]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)
