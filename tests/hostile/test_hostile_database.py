"""A damaged, foreign, read-only, full or misplaced database or data dir.

Each says in one line what is wrong and what to do, exits 2, and changes nothing. A data dir this
process may not write is opened read-only: sessions and history are still listed, and only a
write is refused.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hostile_helpers import (
    assert_clean_output,
    assert_one_line_error,
    cli,
    cli_process,
    data_dir_state,
    fake_planner,
    flat_renderer,
    make_session,
    path_state,
)
from sqlalchemy import event
from sqlalchemy.pool import Pool

from anypix.memory.db import StorageError
from anypix.memory.migrations import SCHEMA_VERSION
from anypix.studio import Studio


def _overwrite(data: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        db = folder / "anypix.db"
        for suffix in ("-wal", "-shm"):  # a database closed cleanly has none
            (folder / f"anypix.db{suffix}").unlink(missing_ok=True)
        db.write_bytes(data(db.read_bytes()))

    return damage


def _corrupt_pages(original: bytes) -> bytes:
    """The header kept, every page after the first overwritten."""
    return original[:4096] + bytes([0xA5]) * (len(original) - 4096)


def _another_program(folder: Path) -> None:
    (folder / "anypix.db").unlink()
    with sqlite3.connect(folder / "anypix.db") as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")


def _newer_anypix(folder: Path) -> None:
    with sqlite3.connect(folder / "anypix.db") as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', 0)",
                     (SCHEMA_VERSION + 1,))  # fmt: skip


def _folder_as_database(folder: Path) -> None:
    for name in ("anypix.db", "anypix.db-wal", "anypix.db-shm"):
        (folder / name).unlink(missing_ok=True)
    (folder / "anypix.db").mkdir()


def _link_to_device(folder: Path) -> None:
    for name in ("anypix.db", "anypix.db-wal", "anypix.db-shm"):
        (folder / name).unlink(missing_ok=True)
    (folder / "anypix.db").symlink_to("/dev/zero")


DAMAGE: dict[str, Callable[[Path], None]] = {
    "random bytes": _overwrite(lambda old: bytes(range(256)) * 64),
    "zeros": _overwrite(lambda old: bytes(len(old))),
    "cut in half": _overwrite(lambda old: old[: len(old) // 2]),
    "pages overwritten behind a good header": _overwrite(_corrupt_pages),
    "a text file": _overwrite(lambda old: b"SQLite format 3 or so they say\n" * 100),
    "another program's database": _another_program,
    "a database from a newer anypix": _newer_anypix,
    "a folder named anypix.db": _folder_as_database,
    "a link to /dev/zero": _link_to_device,
}


@pytest.fixture
def closed(data_dir: Path) -> Path:
    """The data dir with its database checkpointed and closed (no -wal, no -shm)."""
    with sqlite3.connect(data_dir / "anypix.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
    return data_dir


@pytest.mark.parametrize("command", [("sessions",), ("history", "-s", "holiday"),
                                     ("undo", "-s", "holiday")])  # fmt: skip
@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_or_foreign_database(closed: Path, kind: str, command: tuple[str, ...]) -> None:
    DAMAGE[kind](closed)
    before = data_dir_state(closed) if kind == "another program's database" else None
    line = assert_one_line_error(cli(closed, *command))
    assert str(closed) in line  # it names the file (or folder) in trouble
    if before is not None:  # someone else's database is not migrated into an anypix one
        assert data_dir_state(closed) == before


# -- the data dir itself ------------------------------------------------------------------------------

DATA_DIRS: dict[str, Callable[[Path], Path]] = {
    "a regular file": lambda tmp: _file(tmp / "data"),
    "a folder under a regular file": lambda tmp: _file(tmp / "data") / "inside",
    "/dev/null": lambda tmp: Path("/dev/null"),
    "a link to /dev/null": lambda tmp: _link(tmp / "data", Path("/dev/null")),
}


def _file(path: Path) -> Path:
    path.write_text("not a folder")
    return path


def _link(path: Path, to: Path) -> Path:
    path.symlink_to(to)
    return path


@pytest.mark.parametrize("command", [("sessions",), ("history",)])
@pytest.mark.parametrize("kind", list(DATA_DIRS))
def test_a_data_dir_that_is_not_a_folder(tmp_path: Path, kind: str, command: tuple[str, ...]) -> None:
    data_dir = DATA_DIRS[kind](tmp_path)
    before = path_state(data_dir)
    assert_one_line_error(cli(data_dir, *command), mentions="data dir")
    assert path_state(data_dir) == before


@pytest.mark.parametrize("name", ["data?x=1", "data#frag", "data%20", "da ta", "data'; --"])
def test_a_data_dir_whose_name_would_break_a_url_works(tmp_path: Path, name: str) -> None:
    make_session(tmp_path / name, "holiday", ["a beach"])
    ran = cli(tmp_path / name, "sessions", "--json")
    assert_clean_output(ran)
    assert [s["name"] for s in json.loads(ran.stdout)] == ["holiday"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no stray "data" beside it


# -- read-only ----------------------------------------------------------------------------------------


@pytest.fixture
def read_only(data_dir: Path) -> Iterator[Path]:
    """The data dir (and its assets) without write permission, as another user would see it."""
    folders = [data_dir, *(p for p in data_dir.rglob("*") if p.is_dir())]
    for folder in folders:
        folder.chmod(0o555)
    (data_dir / "anypix.db").chmod(0o444)
    yield data_dir
    for folder in folders:
        folder.chmod(0o755)
    (data_dir / "anypix.db").chmod(0o644)


def test_a_read_only_data_dir_can_still_be_listed_and_read(read_only: Path) -> None:
    before = data_dir_state(read_only)
    listed = cli_process(read_only, "sessions", "--json", permissions=True)
    shown = cli_process(read_only, "history", "-s", "holiday", permissions=True)
    assert_clean_output(listed)
    assert [s["name"] for s in json.loads(listed.stdout)] == ["holiday"]
    assert_clean_output(shown)
    assert "make it sunset" in shown.stdout
    assert data_dir_state(read_only) == before


@pytest.mark.parametrize("command", [("undo", "-s", "holiday"), ("branch", "1", "-s", "holiday")])
def test_a_write_to_a_read_only_data_dir_is_one_line(
    read_only: Path, command: tuple[str, ...]
) -> None:
    before = data_dir_state(read_only)
    ran = cli_process(read_only, *command, permissions=True)
    assert_one_line_error(ran, mentions="read-only")
    assert data_dir_state(read_only) == before


def test_an_edit_in_a_read_only_data_dir_is_one_line_and_stores_nothing(read_only: Path) -> None:
    before = data_dir_state(read_only)
    ran = cli_process(read_only, "edit", "--quiet", "--model", "tiny-random", "--llm", "fast",
                      "--steps", "2", "--size", "32x32", "-s", "holiday", "a red fox",
                      permissions=True, timeout=300)  # fmt: skip
    assert_one_line_error(ran, mentions="read-only")
    assert data_dir_state(read_only) == before


def test_a_read_only_folder_without_a_database_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o555)
    try:
        ran = cli_process(empty, "sessions", permissions=True)
        assert_one_line_error(ran, mentions="read-only")
        assert list(empty.iterdir()) == []
    finally:
        empty.chmod(0o755)


# -- a full disk ----------------------------------------------------------------------------------------


@contextmanager
def full_disk() -> Iterator[None]:
    """Every SQLite connection opened meanwhile may not grow its database by a page."""

    def cap(connection: sqlite3.Connection, _record: object) -> None:
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(Pool, "connect", cap)
    try:
        yield
    finally:
        event.remove(Pool, "connect", cap)


def test_an_import_onto_a_full_disk_stores_nothing(data_dir: Path, tmp_path: Path) -> None:
    make_session(tmp_path / "source", "trip", ["a mountain " * 2000, "snow"])  # needs new pages
    archive = _export(tmp_path / "source", "trip", tmp_path / "trip.zip")
    before = data_dir_state(data_dir)
    with full_disk():
        ran = cli(data_dir, "import", str(archive))
    line = assert_one_line_error(ran, mentions="full")
    assert "free some space" in line
    assert data_dir_state(data_dir) == before


def test_an_edit_onto_a_full_disk_raises_storage_error_and_stores_nothing(data_dir: Path) -> None:
    before = data_dir_state(data_dir)
    with full_disk(), Studio(data_dir, planner=fake_planner, renderer=flat_renderer,
                             locator=None) as studio:  # fmt: skip
        session = studio.session("holiday", create=False)
        with pytest.raises(StorageError, match="full"):
            session.edit("add a very long description " * 500)
    assert data_dir_state(data_dir) == before


CAPS = {
    # SQLite cannot make its 32 KiB shared-memory file: even listing fails, and says so.
    "no room for the shared memory (listing)": (8_192, ("sessions",)),
    "no room for the shared memory (undo)": (8_192, ("undo", "-s", "holiday")),
    # Reading works, but the write-ahead log cannot take the import's commit.
    "no room for a commit (import)": (40_000, ("import", "ARCHIVE")),
}


@pytest.mark.parametrize("kind", list(CAPS))
def test_a_file_size_cap_is_reported_as_disk_trouble(
    data_dir: Path, tmp_path: Path, kind: str
) -> None:
    cap, command = CAPS[kind]
    archive = _export(data_dir, "holiday", tmp_path / "holiday.zip")
    args = [str(archive) if arg == "ARCHIVE" else arg for arg in command]
    before = data_dir_state(data_dir)
    ran = cli_process(data_dir, *args, max_file_bytes=cap)
    line = assert_one_line_error(ran, mentions=str(data_dir))
    assert "disk" in line
    assert data_dir_state(data_dir) == before


def _export(data_dir: Path, session: str, archive: Path) -> Path:
    ran = cli(data_dir, "export", session, str(archive))
    assert ran.exit_code == 0, str(ran)
    return archive
