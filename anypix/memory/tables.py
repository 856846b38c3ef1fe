"""The SQLite schema as sqlmodel tables.

These classes are what the code reads and writes; ``migrations.py`` holds the DDL that builds the
same schema step by step in existing databases. A test checks that the two agree exactly, so a
change here needs a new migration (append to ``MIGRATIONS``; columns added by ``ALTER TABLE`` go
last and must be nullable).

Times are Unix seconds (float): exact through JSON, so export/import round-trips them unchanged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column, Computed, Index, Integer, String
from sqlmodel import Field, SQLModel

from anypix.errors import UserError

TURN_STATUSES = ("ok", "failed", "cancelled")
ASSET_ORIGINS = ("uploaded", "rendered")
MAX_NAME = 1_000  # characters of a session's name
MAX_TEXT = 1_000_000  # characters of an instruction, an error or a tool's result


def check_text(text: str, what: str, limit: int) -> str:
    """``text`` if it can be stored and shown: at most ``limit`` characters of real Unicode (a
    name read from a terminal with bytes that are not UTF-8 holds lone surrogates)."""
    if len(text) > limit:
        raise UserError(f"{what} is {len(text):,} characters long", f"keep it under {limit:,}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UserError(
            f"{what} holds bytes that are not UTF-8 text", "type it again in a UTF-8 terminal"
        ) from None
    return text


def _from_provenance(key: str, sql_type: type) -> Any:
    """A read-only column computed from the provenance JSON: queryable, yet one record."""
    expression = f"json_extract(provenance, '$.{key}')"
    return Field(default=None, sa_column=Column(sql_type, Computed(expression, persisted=False)))


class MigrationRow(SQLModel, table=True):
    """One applied migration (see ``migrations.MIGRATIONS``)."""

    __tablename__ = "schema_migrations"

    version: int = Field(primary_key=True)
    name: str
    applied_at: float


class SessionRow(SQLModel, table=True):
    """A session: a tree of turns and a cursor into it."""

    __tablename__ = "sessions"

    id: str = Field(primary_key=True, description="uuid4 hex, unique across data dirs")
    name: str
    created_at: float
    updated_at: float = Field(index=True, description="the most recent session is the default")
    # The cursor is the turn whose output is "the current image"; None is before the first turn.
    # No foreign key: sessions and turns would reference each other.
    cursor_turn_id: int | None = None
    # Turn ids undone from the cursor, most recent last; redo pops, a new turn or a branch clears.
    redo_stack: list[int] = Field(default_factory=list, sa_type=JSON)


class TurnRow(SQLModel, table=True):
    """One instruction and what came of it. ``seq`` is the number people see (1, 2, ...)."""

    __tablename__ = "turns"
    __table_args__ = (Index("ix_turns_session_seq", "session_id", "seq", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="sessions.id")
    seq: int
    # The turn this one continues (the cursor when it ran): sessions are trees.
    parent_id: int | None = Field(default=None, foreign_key="turns.id")
    instruction: str
    attachments: dict[str, str] = Field(
        default_factory=dict, sa_type=JSON, description="name -> sha256"
    )
    plan: dict[str, Any] | None = Field(
        default=None, sa_type=JSON, description="EditPlan.model_dump()"
    )
    status: str = Field(description="ok, failed or cancelled")
    error: str | None = None
    timings: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    created_at: float
    finished_at: float


class ToolCallRow(SQLModel, table=True):
    """One step of a turn: which tool ran, with what, what it gave back and how long it took."""

    __tablename__ = "tool_calls"

    id: int | None = Field(default=None, primary_key=True)
    turn_id: int = Field(foreign_key="turns.id", index=True)
    position: int
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    result: str = ""
    seconds: float = 0.0
    error: str | None = None


class AssetRow(SQLModel, table=True):
    """A validated file in the content-addressed store (``assets/<sha[:2]>/<sha>.<format>``)."""

    __tablename__ = "assets"

    sha256: str = Field(primary_key=True)
    modality: str = Field(description="image or audio")
    format: str = Field(description="format of the stored bytes: png, wav, flac, ogg, mp3")
    source_format: str = Field(description="format of the file as it came in, e.g. jpeg")
    bytes: int
    width: int | None = None
    height: int | None = None
    mode: str | None = Field(default=None, description="PIL mode of a stored image: RGB or RGBA")
    caption: str | None = None
    origin: str = Field(description="uploaded or rendered")
    created_at: float
    # -- migration 2: audio
    duration_s: float | None = None
    sample_rate: int | None = None
    channels: int | None = None


class SessionAssetRow(SQLModel, table=True):
    """A name a session uses for an asset (``[dog]``); the latest binding of a name wins."""

    __tablename__ = "session_assets"
    __table_args__ = (Index("ix_session_assets_session_name", "session_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(foreign_key="sessions.id")
    name: str
    sha256: str = Field(foreign_key="assets.sha256")
    turn_id: int | None = Field(default=None, foreign_key="turns.id")
    created_at: float


class RenderRow(SQLModel, table=True):
    """One output image of a turn with its full provenance and the render it edited (lineage)."""

    __tablename__ = "renders"

    id: int | None = Field(default=None, primary_key=True)
    turn_id: int = Field(foreign_key="turns.id", index=True)
    position: int = Field(description="index of the image in the render's batch")
    sha256: str = Field(foreign_key="assets.sha256", index=True)
    parent_id: int | None = Field(
        default=None, foreign_key="renders.id", description="the render whose image was the [base]"
    )
    provenance: dict[str, Any] = Field(sa_type=JSON, description="records.Provenance, as is")
    timings: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    # -- migration 3: queryable provenance fields, computed from the JSON (never stored twice)
    preset: str | None = _from_provenance("preset", String)
    weight_hash: str | None = _from_provenance("weight_hash", String)
    seed: int | None = _from_provenance("seed", Integer)
    scheduler: str | None = _from_provenance("scheduler", String)
    steps: int | None = _from_provenance("steps", Integer)
