"""The asset store: validation by content, limits, normalisation, audio, and nothing stored on refusal."""

from __future__ import annotations

import io
import struct
import wave
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile
from memory_fakes import assert_no_orphans, asset_rows, image_file, sine, stored_files
from PIL import Image

from anypix.errors import AssetError
from anypix.memory.assets import AssetLimits
from anypix.studio import Studio


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A tiny file whose header declares 10 billion pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
    data += _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def assert_nothing_stored(studio: Studio) -> None:
    assert stored_files(studio) == {}
    assert asset_rows(studio) == set()
    with studio.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM session_assets").scalar() == 0
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM turns").scalar() == 0


# -- images ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"])
def test_images_of_every_format_are_stored_as_normalised_png(
    studio: Studio, tmp_path: Path, fmt: str
) -> None:
    path = image_file(tmp_path / "in.bin", (10, 200, 30), fmt=fmt)  # no telling extension
    info = studio.session().attach("photo", path)
    assert (info.modality, info.format, info.width, info.height) == ("image", "png", 16, 12)
    with Image.open(info.path) as stored:
        assert stored.format == "PNG" and stored.mode == "RGB"
        assert np.abs(np.asarray(stored).astype(int) - (10, 200, 30)).max() <= 6  # lossy formats
    assert_no_orphans(studio)


def test_the_same_content_is_stored_once(studio: Studio, tmp_path: Path) -> None:
    session = studio.session()
    first = session.attach("a", image_file(tmp_path / "a.png"))
    second = session.attach("b", image_file(tmp_path / "copy.png"))
    assert first.sha256 == second.sha256
    assert len(stored_files(studio)) == 1


def test_exif_orientation_is_applied(studio: Studio, tmp_path: Path) -> None:
    # Left half red, right half blue, stored sideways with "rotate 90 degrees clockwise to view".
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)
    pixels[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    Image.fromarray(pixels).save(path, exif=exif, quality=95)

    info = studio.session().attach("photo", path)

    assert (info.width, info.height) == (20, 40)
    with Image.open(info.path) as upright:
        top, bottom = (
            np.asarray(upright)[:15].mean(axis=(0, 1)),
            np.asarray(upright)[25:].mean(axis=(0, 1)),
        )
    assert top[0] > 200 and top[2] < 50  # the red half is now on top
    assert bottom[2] > 200 and bottom[0] < 50


@pytest.mark.parametrize(
    ("mode", "colour", "expected_mode", "expected"),
    [
        ("L", 128, "RGB", (128, 128, 128)),
        ("LA", (128, 100), "RGBA", (128, 128, 128, 100)),
        ("CMYK", (0, 255, 255, 0), "RGB", (255, 0, 0)),
        ("I;16", 65535, "RGB", (255, 255, 255)),
        ("1", 1, "RGB", (255, 255, 255)),
    ],
)
def test_colour_modes_are_normalised_to_rgb_or_rgba(
    studio: Studio, tmp_path: Path, mode: str, colour: object, expected_mode: str, expected: tuple
) -> None:
    fmt = "TIFF" if mode == "CMYK" else "PNG"
    path = image_file(tmp_path / "in.img", colour, mode=mode, fmt=fmt)  # type: ignore[arg-type]
    info = studio.session().attach("photo", path)
    with Image.open(info.path) as stored:
        assert stored.mode == expected_mode
        assert stored.getpixel((0, 0)) == expected


def test_palette_transparency_becomes_rgba(studio: Studio, tmp_path: Path) -> None:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    path = tmp_path / "t.png"
    image.save(path, transparency=0)
    info = studio.session().attach("logo", path)
    with Image.open(info.path) as stored:
        assert stored.mode == "RGBA" and stored.getpixel((0, 0))[3] == 0


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(path: Path, fmt: str) -> Path:
    Image.effect_noise((64, 64), 80).convert("RGB").save(path, format=fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: _write(p, b""), "is empty"),
        (lambda p: _write(p, b"just some text, not a picture"), "neither an image nor audio"),
        (lambda p: _write(p, b"\x89PNG\r\n\x1a\n" + b"garbage" * 40), "not an image|damaged"),
        (lambda p: _truncated(p, "PNG"), "damaged or truncated"),
        (lambda p: _truncated(p, "JPEG"), "damaged or truncated"),
        (lambda p: bomb_png(p), "decompression bomb|over the limit"),
    ],
    ids=["empty", "not-an-image", "corrupt-png", "truncated-png", "truncated-jpeg", "bomb"],
)
def test_bad_images_are_refused_and_nothing_is_stored(
    studio: Studio, tmp_path: Path, make, message: str
) -> None:
    path = make(tmp_path / "photo.png")
    session = studio.session()
    with pytest.raises(AssetError, match=message):
        session.edit("new picture of [photo]", {"photo": path})
    assert_nothing_stored(studio)


def test_oversized_images_are_refused_by_bytes_and_by_pixels(tmp_path: Path) -> None:
    from memory_fakes import fake_planner, flat_renderer

    limits = AssetLimits(max_image_bytes=2000, max_pixels=10_000)
    with Studio(planner=fake_planner, renderer=flat_renderer, limits=limits) as studio:
        session = studio.session()
        noisy = tmp_path / "noisy.png"
        Image.effect_noise((60, 60), 90).save(noisy)  # about 3.6 kB, 3600 pixels
        with pytest.raises(AssetError, match="over the image limit"):
            session.attach("noisy", noisy)
        with pytest.raises(AssetError, match="over the limit of 10,000 pixels"):
            session.attach("wide", image_file(tmp_path / "wide.png", size=(200, 60)))
        assert stored_files(studio) == {}


def test_names_are_never_used_as_paths(studio: Studio, tmp_path: Path) -> None:
    session = studio.session()
    photo = image_file(tmp_path / "photo.png")
    for bad in ("../escape", "a/b", ".hidden", "last", ""):
        with pytest.raises(AssetError, match="cannot name an asset"):
            session.attach(bad, photo)
    info = session.attach("dog", photo)
    assert info.path.name == f"{info.sha256}.png"
    assert all(
        "dog" not in str(p.relative_to(studio.store.root)) for p in studio.store.root.rglob("*")
    )


def test_a_bad_attachment_among_good_ones_stores_nothing(studio: Studio, tmp_path: Path) -> None:
    good = image_file(tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(AssetError):
        studio.session().edit("new [good] and [bad]", {"good": good, "bad": bad})
    assert_nothing_stored(studio)


# -- audio -------------------------------------------------------------------------------------------


def _wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((sine(seconds, rate) * 32767).astype("<i2").tobytes())
    return path


@pytest.mark.parametrize(
    ("fmt", "write", "tolerance"),
    [
        ("wav", lambda p: _wav(p, 1.5), 1e-9),
        ("flac", lambda p: soundfile.write(p, sine(1.5), 8000, format="FLAC"), 1e-9),
        (
            "ogg",
            lambda p: soundfile.write(p, sine(1.5), 8000, format="OGG", subtype="VORBIS"),
            1e-3,
        ),
        ("mp3", lambda p: soundfile.write(p, sine(1.5, 16000), 16000, format="MP3"), 0.1),
    ],
)
def test_audio_is_validated_and_its_duration_recorded(
    studio: Studio, tmp_path: Path, fmt, write, tolerance
) -> None:
    path = tmp_path / "sound.bin"
    write(path)
    info = studio.session().attach("sound", path)
    assert (info.modality, info.format) == ("audio", fmt)
    assert info.duration_s == pytest.approx(1.5, abs=tolerance)
    assert info.path.read_bytes() == path.read_bytes()  # audio is stored as it came


def test_truncated_and_corrupt_audio_is_refused(studio: Studio, tmp_path: Path) -> None:
    session = studio.session()
    wav = _wav(tmp_path / "a.wav", 1.0)
    cut_wav = tmp_path / "cut.wav"
    cut_wav.write_bytes(wav.read_bytes()[:9000])
    flac = tmp_path / "a.flac"
    soundfile.write(flac, sine(2.0), 8000, format="FLAC")
    cut_flac = tmp_path / "cut.flac"
    cut_flac.write_bytes(flac.read_bytes()[: flac.stat().st_size // 2])
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x24\x00\x00\x00WAVE" + b"\x13\x37" * 200)
    for path in (cut_wav, cut_flac, garbage):
        with pytest.raises(AssetError, match=r"truncated|not audio"):
            session.attach("sound", path)
    assert stored_files(studio) == {}


def test_audio_over_the_duration_limit_is_refused(tmp_path: Path) -> None:
    with Studio(limits=AssetLimits(max_audio_seconds=1.0)) as studio:
        with pytest.raises(AssetError, match="over the limit of 1 s"):
            studio.session().attach("long", _wav(tmp_path / "long.wav", 2.0))
        assert stored_files(studio) == {}


def test_in_memory_bytes_can_be_validated_too(studio: Studio) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (3, 3), "white").save(buffer, format="PNG")
    prepared = studio.store.prepare_bytes(buffer.getvalue(), "image", "buffer")
    assert (prepared.width, prepared.height, prepared.mode) == (3, 3, "RGB")


def _image_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


def _sound_bytes(fmt: str, subtype: str, rate: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, sine(0.5, rate), rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


SNIFFED = {
    "png": lambda: _image_bytes("PNG"),
    "jpeg": lambda: _image_bytes("JPEG"),
    "gif": lambda: _image_bytes("GIF"),
    "webp": lambda: _image_bytes("WEBP"),
    "bmp": lambda: _image_bytes("BMP"),
    "tiff": lambda: _image_bytes("TIFF"),
    "wav": lambda: _sound_bytes("WAV", "PCM_16", 8000),
    "flac": lambda: _sound_bytes("FLAC", "PCM_16", 8000),
    "ogg": lambda: _sound_bytes("OGG", "VORBIS", 8000),
    "mp3 (MPEG-1, 44.1 kHz)": lambda: _sound_bytes("MP3", "MPEG_LAYER_III", 44100),
    "mp3 (MPEG-2.5, 8 kHz)": lambda: _sound_bytes("MP3", "MPEG_LAYER_III", 8000),
}


@pytest.mark.parametrize("kind", list(SNIFFED))
def test_every_accepted_format_is_sniffed_and_stored(
    studio: Studio, tmp_path: Path, kind: str
) -> None:
    from anypix.media import sniff

    path = tmp_path / "upload.bin"  # the extension says nothing
    path.write_bytes(SNIFFED[kind]())
    modality, fmt = sniff(path)
    images = {"png", "jpeg", "gif", "webp", "bmp", "tiff"}
    assert fmt == kind.split()[0]
    assert modality == ("image" if fmt in images else "audio")
    stored = studio.session().attach("upload", path)
    assert stored.modality == modality


NOT_MEDIA = {
    "a zip": b"PK\x03\x04" + b"\x00" * 60,
    "a pdf": b"%PDF-1.7\n" + b"\x00" * 60,
    "text": b"just some words " * 4,
    "UTF-16 text (starts like an MPEG frame)": "\ufeffjust some words".encode("utf-16-le"),
    "AAC in ADTS (not Layer III)": b"\xff\xf1\x50\x80" + b"\x00" * 60,
    "a bare GIF signature": b"GIF89a",
    "an ELF binary": b"\x7fELF" + b"\x00" * 60,
}


@pytest.mark.parametrize("kind", list(NOT_MEDIA))
def test_files_of_other_kinds_are_refused_by_their_bytes(tmp_path: Path, kind: str) -> None:
    from anypix.media import sniff

    path = tmp_path / "photo.png"  # a name that lies
    path.write_bytes(NOT_MEDIA[kind])
    with pytest.raises(AssetError):
        sniff(path)
