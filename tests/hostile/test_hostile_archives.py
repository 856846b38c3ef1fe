"""``anypix import`` against archives built to break it.

Every archive here starts as a real export and is then changed the way an attacker (or a damaged
disk) would; where the rows change, the manifest's sha256 of them is updated too, so each case
reaches the check it is about. An archive is checked completely before anything is written: each
refusal is one line and exit 2, and the data dir's rows and files stay as they were.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile_helpers import (
    assert_one_line_error,
    cli,
    data_dir_state,
    make_session,
)
from PIL import Image

from anypix.memory.archive_format import MAX_TURNS

Rows = dict[str, Any]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real archive of a session with three turns (images, tool calls, renders)."""
    folder = tmp_path_factory.mktemp("source")
    make_session(folder / "data", "holiday", ["a beach", "make it sunset", "add a boat"])
    archive = folder / "holiday.zip"
    ran = cli(folder / "data", "export", "holiday", str(archive))
    assert ran.exit_code == 0, str(ran)
    return archive


def members(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as source:
        return {name: source.read(name) for name in source.namelist()}


def write_zip(path: Path, files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=method) as target:
        for name, data in files.items():
            target.writestr(name, data)
    return path


def with_rows(exported: Path, out: Path, change: Callable[[Rows], Any]) -> Path:
    """The archive with ``change`` applied to its rows and the manifest's hash kept in step."""
    files = members(exported)
    rows = json.loads(files["rows.json"])
    replaced = change(rows)  # a change may return whole new rows
    rows = rows if replaced is None else replaced
    files["rows.json"] = json.dumps(rows).encode()
    manifest = json.loads(files["manifest.json"])
    manifest["rows_sha256"] = hashlib.sha256(files["rows.json"]).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()
    return write_zip(out, files)


def with_manifest(exported: Path, out: Path, manifest: bytes) -> Path:
    return write_zip(out, {**members(exported), "manifest.json": manifest})


def refused_and_nothing_stored(data_dir: Path, archive: Path, mentions: str = "") -> str:
    before = data_dir_state(data_dir)
    line = assert_one_line_error(cli(data_dir, "import", str(archive)), mentions=mentions)
    assert data_dir_state(data_dir) == before
    return line


# -- the file itself --------------------------------------------------------------------------------


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe.zip")
    return folder / "pipe.zip"


NOT_ARCHIVES: dict[str, Callable[[Path], Path]] = {
    "a missing file": lambda folder: folder / "missing.zip",
    "a folder": lambda folder: folder,
    "a named pipe (would block a reader)": _fifo,
    "/dev/zero (endless)": lambda folder: Path("/dev/zero"),
    "an empty file": lambda folder: _bytes(folder, b""),
    "text": lambda folder: _bytes(folder, b"not a zip at all\n" * 10),
    "half a zip": lambda folder: _bytes(folder, b"PK\x03\x04" + b"\x00" * 26),
    "a zip with nothing in it": lambda folder: write_zip(folder / "empty.zip", {}),
    "a zip without rows": lambda folder: write_zip(folder / "x.zip", {"manifest.json": b"{}"}),
}


def _bytes(folder: Path, data: bytes) -> Path:
    (folder / "file.zip").write_bytes(data)
    return folder / "file.zip"


@pytest.mark.parametrize("kind", list(NOT_ARCHIVES))
def test_a_file_that_is_not_an_archive(data_dir: Path, tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    refused_and_nothing_stored(data_dir, NOT_ARCHIVES[kind](folder))


# -- the manifest -----------------------------------------------------------------------------------

MANIFESTS = {
    "a list": b"[1, 2, 3]",
    "a string": b'"anypix-session"',
    "a number": b"1",
    "null": b"null",
    "not JSON": b"{manifest",
    "not UTF-8": b'{"format": "\xff\xfe"}',
    "nested 100,000 deep": b"[" * 100_000 + b"]" * 100_000,
    "another format": json.dumps({"format": "other", "version": 1}).encode(),
    "a newer version": json.dumps({"format": "anypix-session", "version": 2}).encode(),
}


@pytest.mark.parametrize("kind", list(MANIFESTS))
def test_a_manifest_that_is_not_ours(
    data_dir: Path, tmp_path: Path, exported: Path, kind: str
) -> None:
    archive = with_manifest(exported, tmp_path / "bad.zip", MANIFESTS[kind])
    refused_and_nothing_stored(data_dir, archive)


def test_a_manifest_whose_hash_does_not_match_the_rows(
    data_dir: Path, tmp_path: Path, exported: Path
) -> None:
    files = members(exported)
    files["rows.json"] = files["rows.json"].replace(b"a beach", b"a beech")
    refused_and_nothing_stored(data_dir, write_zip(tmp_path / "bad.zip", files), "damaged")


# -- the zip's members ------------------------------------------------------------------------------


def _flip_compressed_bytes(archive: Path, out: Path, name: str) -> Path:
    """Damage the deflate stream of one member (its CRC then fails, or inflate does)."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as source:
        info = source.getinfo(name)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for offset in range(start + 2, start + min(info.compress_size, 40)):
        data[offset] ^= 0x5A
    out.write_bytes(bytes(data))
    return out


def _set_member_field(archive: Path, out: Path, name: str, *, flag: int = 0,
                      method: int | None = None) -> Path:  # fmt: skip
    """Set a general-purpose flag bit or the compression method of a member, in both headers."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as source:
        info = source.getinfo(name)
    headers = [(info.header_offset, 6, 8)]  # (offset, flags field, method field): local header
    position = data.find(b"PK\x01\x02")
    while position != -1:  # the central directory entry of the same member
        name_length = int.from_bytes(data[position + 28 : position + 30], "little")
        if data[position + 46 : position + 46 + name_length] == name.encode():
            headers.append((position, 8, 10))
        position = data.find(b"PK\x01\x02", position + 4)
    for start, flags_at, method_at in headers:
        flags = int.from_bytes(data[start + flags_at : start + flags_at + 2], "little") | flag
        data[start + flags_at : start + flags_at + 2] = flags.to_bytes(2, "little")
        if method is not None:
            data[start + method_at : start + method_at + 2] = method.to_bytes(2, "little")
    out.write_bytes(bytes(data))
    return out


def _lying_size(archive: Path, out: Path) -> Path:
    """rows.json declares fewer bytes than its deflate stream holds."""
    files = members(archive)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name, data in files.items():
            target.writestr(name, data)
    data = bytearray(out.read_bytes())
    with zipfile.ZipFile(out) as source:
        info = source.getinfo("rows.json")
    position = data.find(b"PK\x01\x02")
    while position != -1:
        name_length = int.from_bytes(data[position + 28 : position + 30], "little")
        if data[position + 46 : position + 46 + name_length] == b"rows.json":
            data[position + 24 : position + 28] = (info.file_size // 2).to_bytes(4, "little")
        position = data.find(b"PK\x01\x02", position + 4)
    out.write_bytes(bytes(data))
    return out


def _bomb(archive: Path, out: Path) -> Path:
    """rows.json replaced by 200 MB of zeros that deflate to about 200 KB."""
    files = members(archive)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name, data in files.items():
            if name != "rows.json":
                target.writestr(name, data)
        with target.open("rows.json", "w") as handle:
            chunk = b"\x00" * (1 << 20)
            for _ in range(200):
                handle.write(chunk)
    return out


def _duplicate_member(archive: Path, out: Path) -> Path:
    files = members(archive)
    with zipfile.ZipFile(out, "w") as target:
        for name, data in files.items():
            target.writestr(name, data)
        forged = json.dumps({"format": "anypix-session", "version": 1}).encode()
        target.writestr("manifest.json", forged)  # a second member of the same name
    return out


def _many_members(archive: Path, out: Path) -> Path:
    files = members(archive)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
        for name, data in files.items():
            target.writestr(name, data)
        for index in range(10_050):
            target.writestr(f"junk/{index}", b"")
    return out


def _needs_zip_version(archive: Path, out: Path, version: int) -> Path:
    """Every central-directory entry claims it needs zip ``version`` (x10) to extract."""
    data = bytearray(archive.read_bytes())
    position = data.find(b"PK\x01\x02")
    while position != -1:
        data[position + 6 : position + 8] = version.to_bytes(2, "little")
        position = data.find(b"PK\x01\x02", position + 4)
    out.write_bytes(bytes(data))
    return out


MEMBER_DAMAGE: dict[str, Callable[[Path, Path], Path]] = {
    "a zip version from the future (20.5)": lambda a, o: _needs_zip_version(a, o, 205),
    "corrupt deflate data in rows.json": lambda a, o: _flip_compressed_bytes(a, o, "rows.json"),
    "corrupt deflate data in the manifest": lambda a, o: _flip_compressed_bytes(
        a, o, "manifest.json"
    ),
    "an encrypted rows.json": lambda a, o: _set_member_field(a, o, "rows.json", flag=0x1),
    "an unknown compression method (99)": lambda a, o: _set_member_field(
        a, o, "rows.json", method=99
    ),
    "bzip2, which anypix does not write": lambda a, o: write_zip(
        o, members(a), method=zipfile.ZIP_BZIP2
    ),
    "lzma, which anypix does not write": lambda a, o: write_zip(
        o, members(a), method=zipfile.ZIP_LZMA
    ),
    "a member larger than it declares": _lying_size,
    "a zip bomb (200 MB of rows)": _bomb,
    "two members named manifest.json": _duplicate_member,
    "10,050 members": _many_members,
}


@pytest.mark.parametrize("kind", list(MEMBER_DAMAGE))
def test_zip_members_that_are_damaged_encrypted_or_too_big(
    data_dir: Path, tmp_path: Path, exported: Path, kind: str
) -> None:
    archive = MEMBER_DAMAGE[kind](exported, tmp_path / "bad.zip")
    started = time.perf_counter()
    refused_and_nothing_stored(data_dir, archive)
    assert time.perf_counter() - started < 30  # refused from the headers, not by reading it all


# -- the assets -------------------------------------------------------------------------------------


def _png(size: tuple[int, int], colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="JPEG")
    return buffer.getvalue()


def _replace_first_asset(archive: Path, out: Path, data: bytes, rehash: bool) -> Path:
    """The first asset's bytes replaced; with ``rehash`` its name and every row follow the new
    sha256 (so the content checks, not the hash check, must catch it)."""
    files = members(archive)
    rows = json.loads(files["rows.json"])
    old = rows["assets"][0]["sha256"]
    new = hashlib.sha256(data).hexdigest() if rehash else old
    del files[f"assets/{old}.png"]
    files[f"assets/{new}.png"] = data
    text = json.dumps(rows).replace(old, new).encode()
    manifest = json.loads(files["manifest.json"])
    manifest["assets"] = {k.replace(old, new): v.replace(old, new)
                          for k, v in manifest["assets"].items()}  # fmt: skip
    manifest["rows_sha256"] = hashlib.sha256(text).hexdigest()
    files["rows.json"], files["manifest.json"] = text, json.dumps(manifest).encode()
    return write_zip(out, files)


ASSETS: dict[str, tuple[bytes, bool]] = {
    "bytes that do not match their sha256": (_png((8, 8), "blue"), False),
    "text posing as a png": (b"not an image" * 20, True),
    "a jpeg named .png": (_jpeg(), True),
    "a decompression bomb (40,000 x 40,000 pixels)": (_png((1, 1)), True),  # header patched below
    "a truncated png": (_png((64, 64))[:80], True),
}


@pytest.mark.parametrize("kind", list(ASSETS))
def test_asset_files_that_are_not_what_the_rows_say(
    data_dir: Path, tmp_path: Path, exported: Path, kind: str
) -> None:
    data, rehash = ASSETS[kind]
    if "bomb" in kind:
        data = _png_declaring(40_000, 40_000)
    archive = _replace_first_asset(exported, tmp_path / "bad.zip", data, rehash)
    refused_and_nothing_stored(data_dir, archive)


def _png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` pixels (CRC fixed up)."""
    import zlib

    data = bytearray(_png((1, 1)))
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


# -- the rows ---------------------------------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[Rows], None]:
    """Set ``rows[a][b]...`` for a dotted path (list indexes as numbers)."""

    def change(rows: Rows) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = rows
        for part in parents:
            node = node[part]
        node[last] = value

    return change


def _append_copy(table: str, index: int = 0, **changes: Any) -> Callable[[Rows], None]:
    def change(rows: Rows) -> None:
        rows[table].append({**rows[table][index], **changes})

    return change


def _many_turns(count: int) -> Callable[[Rows], None]:
    def change(rows: Rows) -> None:
        first = rows["turns"][0]
        rows["turns"] = [{**first, "seq": seq, "parent": None, "plan": None}
                         for seq in range(1, count + 1)]  # fmt: skip
        rows["tool_calls"], rows["renders"], rows["bindings"] = [], [], []
        rows["session"]["cursor"], rows["session"]["redo"] = None, []

    return change


ROWS: dict[str, Callable[[Rows], Any]] = {
    "rows that are a list": lambda rows: [rows],
    "an unknown field": _set("session.owner", "mallory"),
    "a session id that is a path": _set("session.id", "../../etc/passwd"),
    "a turn numbered twice": _append_copy("turns"),
    "turn number 0": _set("turns.0.seq", 0),
    "a negative turn number": _set("turns.0.seq", -1),
    "turn number 10**30": _set("turns.0.seq", 10**30),
    "turn number 2**63": _set("turns.0.seq", 2**63),
    "a turn past the turn limit": _set("turns.2.seq", MAX_TURNS + 1),
    "a parent that comes later": _set("turns.0.parent", 3),
    "a parent that does not exist": _set("turns.1.parent", 77),
    "a turn that is its own parent": _set("turns.1.parent", 2),
    "a cursor on a missing turn": _set("session.cursor", 9),
    "a redo list naming a missing turn": _set("session.redo", [5]),
    "an unknown status": _set("turns.0.status", "pwned"),
    "a tool call of a missing turn": _set("tool_calls.0.turn", 42),
    "two renders in one place": _append_copy("renders"),
    "a render of a missing turn": _set("renders.0.turn", 42),
    "a render editing a later render": _set("renders.0.parent", [3, 0]),
    "an asset named like a path": _set("bindings", [{"name": "../../x", "sha256": "0" * 64,
                                                     "turn": None, "created_at": 1.0}]),
    "an attachment the archive lacks": _set("turns.0.attachments", {"dog": "ab" * 32}),
    "an asset listed twice": _append_copy("assets"),
    "a NaN timestamp": _set("turns.0.created_at", float("nan")),
    "an infinite timestamp": _set("session.updated_at", float("inf")),
    "a timestamp of 1e300": _set("session.created_at", 1e300),
    "a negative timestamp": _set("turns.1.finished_at", -5.0),
    "a NaN in a turn's timings": _set("turns.0.timings", {"total_s": float("nan")}),
    "a plan with an unknown op": _set("turns.0.plan.ops", [{"op": "rm -rf"}]),
    "a plan with a blob outside the canvas": _set(
        "turns.0.plan.blobs", [{"description": "x", "cx": 5, "cy": 0.5, "a": 0.1, "b": 0.1}]
    ),
    "a plan nested 40 deep": _set("turns.0.plan.gen", None),  # replaced below
    "a plan seed of -1": _set("turns.0.plan.knobs.seed", -1),
    "a plan seed of 10**30": _set("turns.0.plan.knobs.seed", 10**30),
    "a provenance seed of -1": _set("renders.0.provenance.seed", -1),
    "a provenance seed of 10**30": _set("renders.0.provenance.seed", 10**30),
    "a provenance NaN guidance": _set("renders.0.provenance.guidance", float("nan")),
    "a provenance without a seed": lambda rows: rows["renders"][0]["provenance"].clear(),
    "tool arguments with a number SQLite cannot hold": _set("tool_calls.0.arguments",
                                                            {"n": 2**70}),
    "an asset of a negative size": _set("assets.0.bytes", -1),
    "a session name of 2,000 characters": _set("session.name", "x" * 2_000),
}


@pytest.mark.parametrize("kind", list(ROWS))
def test_rows_that_do_not_validate_or_fit_together(
    data_dir: Path, tmp_path: Path, exported: Path, kind: str
) -> None:
    change = ROWS[kind]
    if kind == "a plan nested 40 deep":
        deep: Any = "x"
        for _ in range(40):
            deep = {"k": deep}
        change = _set("turns.0.plan", deep)
    archive = with_rows(exported, tmp_path / "bad.zip", change)
    refused_and_nothing_stored(data_dir, archive)


def test_an_archive_over_the_turn_limit_is_refused_quickly(
    data_dir: Path, tmp_path: Path, exported: Path
) -> None:
    archive = with_rows(exported, tmp_path / "100k.zip", _many_turns(100_000))
    started = time.perf_counter()
    line = refused_and_nothing_stored(data_dir, archive)
    assert time.perf_counter() - started < 30
    assert f"{MAX_TURNS:,}" in line or str(MAX_TURNS) in line


def test_an_archive_at_the_turn_limit_imports_and_lists_quickly(
    data_dir: Path, tmp_path: Path, exported: Path
) -> None:
    archive = with_rows(exported, tmp_path / "10k.zip", _many_turns(MAX_TURNS))
    started = time.perf_counter()
    ran = cli(data_dir, "import", str(archive))
    imported_s = time.perf_counter() - started
    assert ran.exit_code == 0, str(ran)
    started = time.perf_counter()
    listed = cli(data_dir, "history", "--json", "-s", "holiday (2)")
    listed_s = time.perf_counter() - started
    assert listed.exit_code == 0, str(listed)
    assert len(json.loads(listed.stdout)["turns"]) == MAX_TURNS
    # Generous bounds for a busy 2-core machine: the unbounded import took 49 s for 100k turns.
    assert imported_s < 60 and listed_s < 30, (imported_s, listed_s)


def test_importing_twice_makes_distinct_names(data_dir: Path, exported: Path) -> None:
    first = cli(data_dir, "import", str(exported))
    second = cli(data_dir, "import", str(exported))
    assert first.exit_code == 0 and second.exit_code == 0, (str(first), str(second))
    assert "holiday (3)" in second.stdout  # it says under which name it stored the copy
    names = sorted(s["name"] for s in json.loads(cli(data_dir, "sessions", "--json").stdout))
    assert names == ["holiday", "holiday (2)", "holiday (3)"]
    # Each name now picks exactly one session; none is picked at random.
    for name in names:
        shown = cli(data_dir, "history", "--json", "-s", name)
        assert shown.exit_code == 0 and json.loads(shown.stdout)["name"] == name, str(shown)
