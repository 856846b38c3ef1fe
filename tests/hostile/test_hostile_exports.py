"""``anypix export SESSION PATH`` against targets that are not a plain file to write.

An export writes a temp file beside a missing or regular-file target and renames it into place;
anything else at PATH (a device, a folder, a pipe, a socket, a link to one of them, a read-only
file, the data dir's own database) is refused with one line, and neither PATH nor the data dir
changes.
"""

from __future__ import annotations

import os
import socket
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hostile_helpers import (
    assert_one_line_error,
    cli,
    cli_process,
    data_dir_state,
    fake_planner,
    flat_renderer,
    folder_listing,
    path_state,
)
from PIL import Image

from anypix.studio import Studio


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe")
    return folder / "pipe"


def _socket(folder: Path) -> Path:
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "sock"))
    listener.close()  # the socket file stays
    return folder / "sock"


def _link(name: str, to: Callable[[Path], Path]) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).symlink_to(to(folder))
        return folder / name

    return make


def _read_only_file(folder: Path) -> Path:
    target = folder / "keep.zip"
    target.write_bytes(b"precious")
    target.chmod(0o444)
    return target


def _loop(folder: Path) -> Path:
    (folder / "a").symlink_to(folder / "b")
    (folder / "b").symlink_to(folder / "a")
    return folder / "a"


def _under_a_file(folder: Path) -> Path:
    (folder / "plain").write_text("a file, not a folder")
    return folder / "plain" / "out.zip"


# Each builds a hostile PATH inside ``folder`` (a folder of the test's own).
TARGETS: dict[str, Callable[[Path], Path]] = {
    "character device /dev/null": lambda folder: Path("/dev/null"),
    "character device /dev/zero": lambda folder: Path("/dev/zero"),
    "character device /dev/full": lambda folder: Path("/dev/full"),
    "a folder": lambda folder: folder,
    "a folder with a trailing slash": lambda folder: Path(f"{folder}/"),
    "a named pipe": _fifo,
    "a unix socket": _socket,
    "a link to /dev/null": _link("null.zip", lambda folder: Path("/dev/null")),
    "a link to a folder": _link("dir.zip", lambda folder: folder),
    "a link to a pipe": _link("pipe.zip", _fifo),
    "a link to nothing": _link("dangling.zip", lambda folder: folder / "missing"),
    "a loop of links": _loop,
    "a read-only file": _read_only_file,
    "a file in a missing folder": lambda folder: folder / "missing" / "out.zip",
    "a file under a regular file": _under_a_file,
    "a name too long": lambda folder: folder / ("x" * 300 + ".zip"),
}


@pytest.mark.parametrize("kind", list(TARGETS))
def test_a_target_that_is_not_a_plain_file_is_refused_and_left_alone(
    data_dir: Path, tmp_path: Path, kind: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = TARGETS[kind](folder)
    before, listing, stored = path_state(target), folder_listing(folder), data_dir_state(data_dir)

    ran = cli(data_dir, "export", "holiday", str(target))

    assert_one_line_error(ran)
    assert path_state(target) == before
    assert folder_listing(folder) == listing  # no temp file left behind
    assert data_dir_state(data_dir) == stored


@pytest.mark.parametrize("name", ["anypix.db", "anypix.db-wal", "anypix.db-shm"])
def test_the_data_dirs_own_database_is_never_a_target(data_dir: Path, name: str) -> None:
    target = data_dir / name
    before, stored = path_state(target), data_dir_state(data_dir)

    assert_one_line_error(cli(data_dir, "export", "holiday", str(target)), mentions="data dir")

    assert path_state(target) == before and data_dir_state(data_dir) == stored


def test_a_link_to_the_database_is_refused(data_dir: Path, tmp_path: Path) -> None:
    link = tmp_path / "innocent.zip"
    link.symlink_to(data_dir / "anypix.db")
    stored = data_dir_state(data_dir)

    assert_one_line_error(cli(data_dir, "export", "holiday", str(link)))

    assert data_dir_state(data_dir) == stored and link.is_symlink()


def test_a_regular_file_is_replaced_whole_by_a_rename(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "old.zip"
    target.write_bytes(b"the previous export")
    inode = target.stat().st_ino

    ran = cli(data_dir, "export", "holiday", str(target))

    assert ran.exit_code == 0, str(ran)
    assert target.stat().st_ino != inode  # a new file renamed over it, not rewritten in place
    with zipfile.ZipFile(target) as archive:
        assert {"manifest.json", "rows.json"} <= set(archive.namelist())
    assert folder_listing(tmp_path) == sorted(["data", "old.zip"])


def test_a_link_to_a_regular_file_is_refused_too(data_dir: Path, tmp_path: Path) -> None:
    """A link someone planted at PATH must not redirect the export onto another file."""
    real = tmp_path / "real.txt"
    real.write_bytes(b"someone's notes")
    link = tmp_path / "link.zip"
    link.symlink_to(real)
    before = (path_state(real), path_state(link))

    assert_one_line_error(cli(data_dir, "export", "holiday", str(link)))

    assert (path_state(real), path_state(link)) == before


def test_a_read_only_folder_is_refused_without_root_powers(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    (folder / "old.zip").write_bytes(b"old")
    folder.chmod(0o555)
    before = path_state(folder / "old.zip")
    try:
        ran = cli_process(data_dir, "export", "holiday", str(folder / "old.zip"), permissions=True)
        assert_one_line_error(ran)
        assert path_state(folder / "old.zip") == before
        assert folder_listing(folder) == ["old.zip"]
    finally:
        folder.chmod(0o755)


def test_a_disk_that_fills_up_leaves_the_old_target_and_no_temp_file(
    data_dir: Path, tmp_path: Path
) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "noise.png")  # about 120 KB that will not compress
    with Studio(data_dir, planner=fake_planner, renderer=flat_renderer, locator=None) as studio:
        studio.session("holiday", create=False).attach("noise", tmp_path / "noise.png")
    target = tmp_path / "old.zip"
    target.write_bytes(b"old")
    before, stored = path_state(target), data_dir_state(data_dir)

    # Room for SQLite's own files (its 32 KiB shared memory), not for the archive.
    ran = cli_process(data_dir, "export", "holiday", str(target), max_file_bytes=60_000)

    assert_one_line_error(ran, mentions="cannot write")
    assert path_state(target) == before
    assert folder_listing(tmp_path) == ["data", "noise.png", "old.zip"]
    assert data_dir_state(data_dir) == stored


def test_an_unknown_session_is_refused_before_the_target_is_touched(
    data_dir: Path, tmp_path: Path
) -> None:
    ran = cli(data_dir, "export", "no-such-session", str(tmp_path / "x.zip"))
    assert_one_line_error(ran, mentions="no-such-session")
    assert not (tmp_path / "x.zip").exists()
