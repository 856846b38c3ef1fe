"""Opening the database: WAL, a busy time-out, foreign keys, migrations, write transactions, and
what to tell a person when the database or its folder cannot be used.

Every write runs in ``BEGIN IMMEDIATE``: the writer takes SQLite's write lock before it reads, so
two processes that both read-then-write (next turn number, the cursor) wait for each other under
the busy time-out instead of failing with "database is locked" half-way. Reads use plain
``BEGIN`` and, in WAL mode, never wait for a writer.

Trouble with the file itself (damaged, read-only, a full disk, locked too long) is SQLite's error
code, not a bug: :func:`open_engine` installs one handler that turns those codes into a
:class:`StorageError` naming the file and what to do, wherever the query ran. A data dir that this
process cannot write is opened read-only (``mode=ro``, or ``immutable`` when SQLite would need to
create its shared-memory file there), so sessions can still be listed and read.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlmodel import Session as DbSession

from anypix.errors import UserError
from anypix.memory.migrations import MIGRATIONS, MIGRATIONS_TABLE, SCHEMA_VERSION

BUSY_TIMEOUT_S = 30.0


class StorageError(UserError):
    """The database or the data dir cannot be used: damaged, read-only, full, not a folder."""


# SQLite's primary result codes (the low byte of an extended code) that describe the file or the
# disk rather than a query anypix got wrong.
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 11, 13, 14
_SQLITE_NOTADB = 26


def storage_error(exc: BaseException, db_path: Path) -> StorageError | None:
    """What a person should know about an SQLite error on ``db_path``; None for anything that is
    not about the file or the disk (a bug in anypix, which keeps its traceback)."""
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", -1) & 0xFF
    elsewhere = "or point --data-dir (ANYPIX_DATA_DIR) at another folder"
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return StorageError(
            f"{db_path} stayed locked by another anypix process for {BUSY_TIMEOUT_S:.0f} s",
            "try again when that process has finished",
        )
    if code in (_SQLITE_READONLY, _SQLITE_PERM):
        return StorageError(
            f"cannot change {db_path}: the database or its folder is read-only",
            f"make the data dir writable, {elsewhere}; reading works as it is",
        )
    if code == _SQLITE_FULL:
        return StorageError(
            f"the disk holding {db_path} is full; nothing was stored",
            f"free some space, {elsewhere}",
        )
    if code == _SQLITE_IOERR:
        return StorageError(
            f"cannot read or write {db_path}: disk I/O error ({exc})",
            f"check the disk and its free space, {elsewhere}",
        )
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return StorageError(
            f"{db_path} is damaged or not an anypix database ({exc})",
            f"restore it from a backup, or move it aside to start afresh, {elsewhere}",
        )
    if code == _SQLITE_CANTOPEN:
        return StorageError(
            f"cannot open {db_path}", f"check that you may read and write its folder, {elsewhere}"
        )
    return None


@contextmanager
def sqlite_errors(db_path: Path) -> Iterator[None]:
    """Turn SQLite errors about the file into :class:`StorageError` for code that uses the raw
    DB-API cursor (SQLAlchemy's own queries go through the engine's handler)."""
    try:
        yield
    except sqlite3.Error as exc:
        trouble = storage_error(exc, db_path)
        if trouble is None:
            raise
        raise trouble from None


def database_path(engine: Engine) -> Path:
    """The file an engine of :func:`open_engine` reads and writes."""
    return Path(engine.url.database or "")


# -- opening -----------------------------------------------------------------------------------------


def _connect(db_path: Path, writable: bool) -> sqlite3.Connection:
    """One DB-API connection; transactions are begun by the "begin" hook below (pysqlite's own
    transaction handling is unreliable), hence ``isolation_level=None``."""
    options: dict[str, Any] = {
        "timeout": BUSY_TIMEOUT_S,
        "check_same_thread": False,
        "isolation_level": None,
    }
    connect = sqlite3.connect if writable else _connect_read_only
    conn = connect(db_path, **options)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    if writable:
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode: a committed turn survives a killed process; only a power cut can
        # lose the last few commits, never corrupt the file.
        conn.execute("PRAGMA synchronous = NORMAL")
    else:
        conn.execute("PRAGMA query_only = ON")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _connect_read_only(db_path: Path, **options: Any) -> sqlite3.Connection:
    """``mode=ro`` reads a WAL database when its ``-shm`` file exists or can be created; in a
    folder nobody may write, a database with no pending ``-wal`` is read as ``immutable``."""
    uri = f"file:{urllib.parse.quote(os.fsencode(db_path))}"  # bytes: a name need not be UTF-8
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, **options)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StorageError(
            f"{db_path} has changes in {wal.name} that cannot be read without writing to "
            f"{db_path.parent}",
            "make the data dir writable once (any anypix command then reads it)",
        )
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, **options)


def _on_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("anypix_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _writable_folder(db_path: Path) -> bool:
    """Create the data dir if needed; whether this process may write the database there."""
    folder = db_path.parent
    if folder.exists() and not folder.is_dir():
        raise StorageError(
            f"the data dir {folder} is not a folder",
            "point --data-dir (ANYPIX_DATA_DIR) at a folder",
        )
    if db_path.exists() and not db_path.is_file():
        raise StorageError(
            f"{db_path} is not a database file", "move it aside, or point --data-dir elsewhere"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create the data dir {folder}: {exc.strerror or exc}",
            "point --data-dir (ANYPIX_DATA_DIR) at a folder you can write to",
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    return not db_path.exists() or os.access(db_path, os.R_OK | os.W_OK)


def open_engine(db_path: Path, *, migrate_to: int | None = None) -> Engine:
    """An engine on ``db_path`` (created if missing), migrated to ``migrate_to`` (default:
    latest). Where this process cannot write, the engine only reads: listing and showing work,
    and a write raises :class:`StorageError`."""
    writable = _writable_folder(db_path)
    if not writable and not db_path.exists():
        raise StorageError(
            f"the data dir {db_path.parent} is read-only and holds no anypix database",
            "point --data-dir (ANYPIX_DATA_DIR) at a folder you can write to",
        )

    def on_error(context: ExceptionContext) -> None:
        trouble = storage_error(context.original_exception, db_path)
        if trouble is not None:
            raise trouble from None

    # Pooled connections: closing SQLite's last connection checkpoints the WAL, which costs
    # milliseconds, so connections are kept open until ``engine.dispose()``. The URL only names
    # the file (built, not parsed: a folder may hold '?' or '#'); the creator opens it.
    engine = create_engine(
        URL.create("sqlite", database=str(db_path)),
        creator=lambda: _connect(db_path, writable),
    )
    event.listen(engine, "begin", _on_begin)
    event.listen(engine, "handle_error", on_error)
    try:
        if writable:
            migrate(engine, upto=migrate_to)
        else:
            _check_version(engine, db_path)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _check_version(engine: Engine, db_path: Path) -> None:
    """A database opened read-only can be read only at the schema this anypix knows."""
    with engine.connect() as conn:
        done = _applied(conn)
    _refuse_newer(done, database_path(engine))
    version = max(done, default=0)
    if version < SCHEMA_VERSION:
        raise StorageError(
            f"{db_path} has schema version {version}; this anypix reads version "
            f"{SCHEMA_VERSION} and upgrading it needs write access",
            "make the data dir writable once (any anypix command then upgrades it)",
        )


def writer(engine: Engine) -> Engine:
    """The same engine, with every transaction opened as ``BEGIN IMMEDIATE``."""
    return engine.execution_options(anypix_immediate=True)


@contextmanager
def write_session(engine: Engine) -> Iterator[DbSession]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    with DbSession(writer(engine), expire_on_commit=False) as db, db.begin():
        yield db


def schema_version(engine: Engine) -> int:
    with engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT MAX(version) FROM schema_migrations").one()
    return int(row[0] or 0)


def _applied(conn: Connection) -> set[int]:
    table = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).first()
    if table is None:
        return set()
    return {row[0] for row in conn.exec_driver_sql("SELECT version FROM schema_migrations")}


def _refuse_newer(done: set[int], db_path: Path) -> None:
    newer = [v for v in done if v > SCHEMA_VERSION]
    if newer:
        raise StorageError(
            f"{db_path} has schema version {max(newer)}, newer than this anypix "
            f"understands ({SCHEMA_VERSION})",
            "upgrade anypix, or point --data-dir elsewhere",
        )


def migrate(engine: Engine, upto: int | None = None) -> list[int]:
    """Apply the migrations this database lacks, in order; returns the versions applied."""
    target = SCHEMA_VERSION if upto is None else upto
    wanted = {m.version for m in MIGRATIONS if m.version <= target}
    with engine.connect() as conn:  # the common case, up to date, needs no write lock
        done = _applied(conn)
        foreign = not done and conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).first()
    if foreign:  # another program's database: adding anypix's tables would change it
        raise StorageError(
            f"{database_path(engine)} is an SQLite database of another program",
            "move it aside, or point --data-dir (ANYPIX_DATA_DIR) at another folder",
        )
    _refuse_newer(done, database_path(engine))
    if wanted <= done:
        return []
    applied: list[int] = []
    with writer(engine).begin() as conn:
        conn.exec_driver_sql(MIGRATIONS_TABLE)
        done = _applied(conn)  # again, under the lock: another process may have migrated
        _refuse_newer(done, database_path(engine))
        for migration in MIGRATIONS:
            if migration.version in done or migration.version > target:
                continue
            for statement in migration.statements:
                conn.exec_driver_sql(statement)
            conn.exec_driver_sql(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
            applied.append(migration.version)
    return applied


def schema_snapshot(conn: Connection) -> dict[str, Any]:
    """Every table's columns (incl. generated ones), foreign keys and indexes, as plain data."""
    tables = [
        row[0]
        for row in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    snapshot: dict[str, Any] = {}
    for table in tables:
        columns = [tuple(r[1:]) for r in conn.exec_driver_sql(f'PRAGMA table_xinfo("{table}")')]
        foreign = sorted(
            tuple(r[2:5]) for r in conn.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")')
        )
        indexes = {}
        for index in conn.exec_driver_sql(f'PRAGMA index_list("{table}")'):
            name, unique, origin = index[1], index[2], index[3]
            cols = [r[2] for r in conn.exec_driver_sql(f'PRAGMA index_info("{name}")')]
            # Automatic indexes (sqlite_autoindex_*) are named by position; key them by origin.
            key = name if origin == "c" else f"{origin}:{','.join(cols)}"
            indexes[key] = (bool(unique), cols)
        snapshot[table] = {"columns": columns, "foreign_keys": foreign, "indexes": indexes}
    return snapshot
