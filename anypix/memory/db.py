"""Opening the database: WAL, a busy time-out, foreign keys, migrations, write transactions.

Every write runs in ``BEGIN IMMEDIATE``: the writer takes SQLite's write lock before it reads, so
two processes that both read-then-write (next turn number, the cursor) wait for each other under
the busy time-out instead of failing with "database is locked" half-way. Reads use plain
``BEGIN`` and, in WAL mode, never wait for a writer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlmodel import Session as DbSession

from anypix.errors import AnypixError
from anypix.memory.migrations import MIGRATIONS, MIGRATIONS_TABLE, SCHEMA_VERSION

BUSY_TIMEOUT_S = 30.0


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to the "begin" hook below (pysqlite's own is unreliable).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA journal_mode = WAL")
    # NORMAL in WAL mode: a committed turn survives a killed process; only a power cut can lose
    # the last few commits, never corrupt the file.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _on_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get("anypix_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def open_engine(db_path: Path, *, migrate_to: int | None = None) -> Engine:
    """An engine on ``db_path`` (created if missing), migrated to ``migrate_to`` (default: latest)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    # Pooled connections: closing SQLite's last connection checkpoints the WAL, which costs
    # milliseconds, so connections are kept open until ``engine.dispose()``.
    engine = create_engine(
        f"sqlite:///{db_path}",
        connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    migrate(engine, upto=migrate_to)
    return engine


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


def _refuse_newer(done: set[int]) -> None:
    newer = [v for v in done if v > SCHEMA_VERSION]
    if newer:
        raise AnypixError(
            f"this database has schema version {max(newer)}, newer than this anypix "
            f"understands ({SCHEMA_VERSION})",
            "upgrade anypix, or point --data-dir elsewhere",
        )


def migrate(engine: Engine, upto: int | None = None) -> list[int]:
    """Apply the migrations this database lacks, in order; returns the versions applied."""
    target = SCHEMA_VERSION if upto is None else upto
    wanted = {m.version for m in MIGRATIONS if m.version <= target}
    with engine.connect() as conn:  # the common case, up to date, needs no write lock
        done = _applied(conn)
    _refuse_newer(done)
    if wanted <= done:
        return []
    applied: list[int] = []
    with writer(engine).begin() as conn:
        conn.exec_driver_sql(MIGRATIONS_TABLE)
        done = _applied(conn)  # again, under the lock: another process may have migrated
        _refuse_newer(done)
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
