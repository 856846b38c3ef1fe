"""The ordered list of schema migrations, recorded in ``schema_migrations``.

Never edit a migration that has shipped: append a new one. Each runs inside the same ``BEGIN
IMMEDIATE`` transaction as its ``schema_migrations`` row, so a database is always at exactly one
version, even when two processes open a fresh data dir at once. The DDL spells types the way
SQLAlchemy does for ``tables.py`` (VARCHAR, FLOAT, JSON...), which a test checks column by column.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    applied_at FLOAT NOT NULL,
    PRIMARY KEY (version)
)"""

_INITIAL = (
    """CREATE TABLE sessions (
        id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        created_at FLOAT NOT NULL,
        updated_at FLOAT NOT NULL,
        cursor_turn_id INTEGER,
        redo_stack JSON NOT NULL,
        PRIMARY KEY (id)
    )""",
    "CREATE INDEX ix_sessions_updated_at ON sessions (updated_at)",
    """CREATE TABLE turns (
        id INTEGER NOT NULL,
        session_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        parent_id INTEGER,
        instruction VARCHAR NOT NULL,
        attachments JSON NOT NULL,
        "plan" JSON,
        status VARCHAR NOT NULL,
        error VARCHAR,
        timings JSON NOT NULL,
        created_at FLOAT NOT NULL,
        finished_at FLOAT NOT NULL,
        PRIMARY KEY (id),
        FOREIGN KEY(session_id) REFERENCES sessions (id),
        FOREIGN KEY(parent_id) REFERENCES turns (id)
    )""",
    "CREATE UNIQUE INDEX ix_turns_session_seq ON turns (session_id, seq)",
    """CREATE TABLE tool_calls (
        id INTEGER NOT NULL,
        turn_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        tool VARCHAR NOT NULL,
        arguments JSON NOT NULL,
        result VARCHAR NOT NULL,
        seconds FLOAT NOT NULL,
        error VARCHAR,
        PRIMARY KEY (id),
        FOREIGN KEY(turn_id) REFERENCES turns (id)
    )""",
    "CREATE INDEX ix_tool_calls_turn_id ON tool_calls (turn_id)",
    """CREATE TABLE assets (
        sha256 VARCHAR NOT NULL,
        modality VARCHAR NOT NULL,
        format VARCHAR NOT NULL,
        source_format VARCHAR NOT NULL,
        bytes INTEGER NOT NULL,
        width INTEGER,
        height INTEGER,
        mode VARCHAR,
        caption VARCHAR,
        origin VARCHAR NOT NULL,
        created_at FLOAT NOT NULL,
        PRIMARY KEY (sha256)
    )""",
    """CREATE TABLE session_assets (
        id INTEGER NOT NULL,
        session_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        turn_id INTEGER,
        created_at FLOAT NOT NULL,
        PRIMARY KEY (id),
        FOREIGN KEY(session_id) REFERENCES sessions (id),
        FOREIGN KEY(sha256) REFERENCES assets (sha256),
        FOREIGN KEY(turn_id) REFERENCES turns (id)
    )""",
    "CREATE INDEX ix_session_assets_session_name ON session_assets (session_id, name)",
    """CREATE TABLE renders (
        id INTEGER NOT NULL,
        turn_id INTEGER NOT NULL,
        position INTEGER NOT NULL,
        sha256 VARCHAR NOT NULL,
        parent_id INTEGER,
        provenance JSON NOT NULL,
        timings JSON NOT NULL,
        PRIMARY KEY (id),
        FOREIGN KEY(turn_id) REFERENCES turns (id),
        FOREIGN KEY(sha256) REFERENCES assets (sha256),
        FOREIGN KEY(parent_id) REFERENCES renders (id)
    )""",
    "CREATE INDEX ix_renders_turn_id ON renders (turn_id)",
)


def _computed(column: str, sql_type: str) -> str:
    return (
        f"ALTER TABLE renders ADD COLUMN {column} {sql_type} "
        f"GENERATED ALWAYS AS (json_extract(provenance, '$.{column}')) VIRTUAL"
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _INITIAL),
    Migration(
        2,
        "audio assets: duration, sample rate, channels",
        (
            "ALTER TABLE assets ADD COLUMN duration_s FLOAT",
            "ALTER TABLE assets ADD COLUMN sample_rate INTEGER",
            "ALTER TABLE assets ADD COLUMN channels INTEGER",
        ),
    ),
    Migration(
        3,
        "queryable provenance columns on renders; renders by image",
        (
            _computed("preset", "VARCHAR"),
            _computed("weight_hash", "VARCHAR"),
            _computed("seed", "INTEGER"),
            _computed("scheduler", "VARCHAR"),
            _computed("steps", "INTEGER"),
            "CREATE INDEX ix_renders_sha256 ON renders (sha256)",
        ),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version
