"""Migrations: a blank and an old-version database both end at exactly the schema tables.py declares."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import anypix.memory.tables  # noqa: F401 -- registers the tables on SQLModel.metadata
from anypix.errors import AnypixError
from anypix.memory.db import migrate, open_engine, schema_snapshot, schema_version
from anypix.memory.migrations import MIGRATIONS, SCHEMA_VERSION


def expected_schema(tmp_path: Path) -> dict:
    """The schema SQLAlchemy builds straight from the sqlmodel tables."""
    engine = create_engine(f"sqlite:///{tmp_path / 'expected.db'}")
    SQLModel.metadata.create_all(engine)
    with engine.connect() as conn:
        return schema_snapshot(conn)


def snapshot(engine) -> dict:
    with engine.connect() as conn:
        return schema_snapshot(conn)


def test_blank_database_migrates_to_the_exact_schema(tmp_path: Path) -> None:
    engine = open_engine(tmp_path / "blank.db")
    assert snapshot(engine) == expected_schema(tmp_path)
    with engine.connect() as conn:
        recorded = conn.exec_driver_sql(
            "SELECT version, name FROM schema_migrations ORDER BY version"
        ).all()
    assert recorded == [(m.version, m.name) for m in MIGRATIONS]
    assert schema_version(engine) == SCHEMA_VERSION
    assert migrate(engine) == []  # opening again applies nothing


def _fill_version_1(db: Path) -> None:
    """Rows as anypix wrote them at schema version 1 (plain sqlite3, no current code)."""
    provenance = json.dumps(
        {"preset": "sd15", "weight_hash": "ab" * 32, "seed": 42, "scheduler": "ddim", "steps": 30}
    )
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO sessions VALUES ('0123456789abcdef0123456789abcdef', 'old', 1.0, 2.0, 1, '[]')"
        )
        conn.execute(
            "INSERT INTO turns VALUES (1, '0123456789abcdef0123456789abcdef', 1, NULL, 'a cat', '{}', NULL,"
            " 'ok', NULL, '{}', 1.0, 2.0)"
        )
        conn.execute(f"INSERT INTO assets VALUES ('{'c' * 64}', 'image', 'png', 'png', 10, 8, 8, 'RGB', NULL,"
                     " 'rendered', 1.0)")  # fmt: skip
        conn.execute(
            "INSERT INTO renders VALUES (1, 1, 0, ?, NULL, ?, '{}')", ("c" * 64, provenance)
        )


def test_old_version_database_migrates_to_the_exact_schema_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    db = tmp_path / "old.db"
    open_engine(db, migrate_to=1).dispose()
    _fill_version_1(db)
    with sqlite3.connect(db) as conn:
        assert "duration_s" not in {r[1] for r in conn.execute("PRAGMA table_info(assets)")}

    engine = open_engine(db)

    assert snapshot(engine) == expected_schema(tmp_path)
    assert schema_version(engine) == SCHEMA_VERSION
    with engine.connect() as conn:
        # Migration 3's columns are computed from the provenance stored before they existed.
        render = conn.exec_driver_sql(
            "SELECT preset, weight_hash, seed, scheduler, steps FROM renders"
        ).one()
        turn = conn.exec_driver_sql("SELECT instruction, status FROM turns").one()
        audio = conn.exec_driver_sql("SELECT duration_s, sample_rate FROM assets").one()
    assert tuple(render) == ("sd15", "ab" * 32, 42, "ddim", 30)
    assert tuple(turn) == ("a cat", "ok")
    assert tuple(audio) == (None, None)


def test_a_database_from_a_newer_anypix_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    open_engine(db).dispose()
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?, 'from the future', 0)", (SCHEMA_VERSION + 1,)
        )
    with pytest.raises(AnypixError, match="newer than this anypix"):
        open_engine(db)


def test_connections_use_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = open_engine(tmp_path / "pragmas.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
