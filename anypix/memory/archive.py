"""Export a session to one archive and import it elsewhere, losslessly.

The archive is a zip file holding ``manifest.json`` (format, versions, members and their sha256),
``rows.json`` (the session's rows, with turns named by their ``seq`` instead of database ids) and
``assets/<sha256>.<format>``. Import treats the archive as untrusted input: members are looked up
by the names the rows imply (never extracted by their own names), sizes are checked before
reading, every asset's sha256 is recomputed and its content validated like an upload, and all rows
land in one transaction, so a bad archive stores nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
import zipfile
from contextlib import suppress
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine
from sqlalchemy.dialects.sqlite import insert
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from anypix.errors import ArchiveError, AssetError
from anypix.memory.assets import SHA256, AssetStore, PreparedAsset
from anypix.memory.db import write_session
from anypix.memory.migrations import SCHEMA_VERSION
from anypix.memory.tables import (
    AssetRow,
    RenderRow,
    SessionAssetRow,
    SessionRow,
    ToolCallRow,
    TurnRow,
)
from anypix.memory.turns import SessionNotFoundError, discard_unreferenced

ARCHIVE_FORMAT = "anypix-session"
ARCHIVE_VERSION = 1
_MAX_JSON_BYTES = 256 * 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArchivedSession(_Strict):
    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    name: str
    created_at: float
    updated_at: float
    cursor: int | None
    redo: list[int]


class ArchivedTurn(_Strict):
    seq: int = Field(ge=1)
    parent: int | None
    instruction: str
    attachments: dict[str, str]
    plan: dict[str, Any] | None
    status: str = Field(pattern=r"^(ok|failed|cancelled)$")
    error: str | None
    timings: dict[str, float]
    created_at: float
    finished_at: float


class ArchivedToolCall(_Strict):
    turn: int
    position: int
    tool: str
    arguments: dict[str, Any]
    result: str
    seconds: float
    error: str | None


class ArchivedRender(_Strict):
    turn: int
    position: int
    sha256: str
    parent: tuple[int, int] | None
    provenance: dict[str, Any]
    timings: dict[str, float]


class ArchivedBinding(_Strict):
    name: str
    sha256: str
    turn: int | None
    created_at: float


class ArchivedAsset(_Strict):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    modality: str = Field(pattern=r"^(image|audio)$")
    format: str = Field(pattern=r"^(png|wav|flac|ogg|mp3)$")
    source_format: str
    bytes: int = Field(ge=1)
    width: int | None
    height: int | None
    mode: str | None
    caption: str | None
    origin: str = Field(pattern=r"^(uploaded|rendered)$")
    created_at: float
    duration_s: float | None
    sample_rate: int | None
    channels: int | None


class ArchiveRows(_Strict):
    session: ArchivedSession
    turns: list[ArchivedTurn]
    tool_calls: list[ArchivedToolCall]
    renders: list[ArchivedRender]
    bindings: list[ArchivedBinding]
    assets: list[ArchivedAsset]


def _member(asset: ArchivedAsset | AssetRow) -> str:
    return f"assets/{asset.sha256}.{asset.format}"


# -- export ------------------------------------------------------------------------------------------


def collect_rows(engine: Engine, session_id: str) -> ArchiveRows:
    """A session's rows with database ids replaced by turn numbers (one read snapshot)."""
    with DbSession(engine, expire_on_commit=False) as db, db.begin():
        session = db.get(SessionRow, session_id)
        if session is None:
            raise SessionNotFoundError(session_id)
        turns = db.exec(
            select(TurnRow).where(TurnRow.session_id == session_id).order_by(col(TurnRow.seq))
        ).all()
        seq_of = {t.id: t.seq for t in turns}
        calls = db.exec(
            select(ToolCallRow)
            .where(col(ToolCallRow.turn_id).in_(seq_of))
            .order_by(col(ToolCallRow.id))
        ).all()
        renders = db.exec(
            select(RenderRow).where(col(RenderRow.turn_id).in_(seq_of)).order_by(col(RenderRow.id))
        ).all()
        where_render = {r.id: (seq_of[r.turn_id], r.position) for r in renders}
        bindings = db.exec(
            select(SessionAssetRow)
            .where(SessionAssetRow.session_id == session_id)
            .order_by(col(SessionAssetRow.id))
        ).all()
        shas = {r.sha256 for r in renders} | {b.sha256 for b in bindings}
        shas |= {sha for t in turns for sha in t.attachments.values()}
        assets = db.exec(
            select(AssetRow).where(col(AssetRow.sha256).in_(shas)).order_by(col(AssetRow.sha256))
        ).all()
        return ArchiveRows(
            session=ArchivedSession(
                id=session.id,
                name=session.name,
                created_at=session.created_at,
                updated_at=session.updated_at,
                cursor=seq_of.get(session.cursor_turn_id),
                redo=[seq_of[i] for i in session.redo_stack],
            ),
            turns=[
                ArchivedTurn(
                    parent=seq_of.get(t.parent_id),
                    **t.model_dump(include=set(ArchivedTurn.model_fields) - {"parent"}),
                )
                for t in turns
            ],
            tool_calls=[
                ArchivedToolCall(turn=seq_of[c.turn_id], **c.model_dump(exclude={"id", "turn_id"}))
                for c in calls
            ],
            renders=[
                ArchivedRender(
                    turn=seq_of[r.turn_id],
                    position=r.position,
                    sha256=r.sha256,
                    parent=where_render.get(r.parent_id),
                    provenance=r.provenance,
                    timings=r.timings,
                )
                for r in renders
            ],
            bindings=[
                ArchivedBinding(
                    name=b.name,
                    sha256=b.sha256,
                    turn=seq_of.get(b.turn_id),
                    created_at=b.created_at,
                )
                for b in bindings
            ],
            assets=[
                ArchivedAsset(**a.model_dump(include=set(ArchivedAsset.model_fields)))
                for a in assets
            ],
        )


def export_session(engine: Engine, store: AssetStore, session_id: str, path: Path) -> ArchiveRows:
    """Write the session to ``path`` (replaced atomically); returns what was written."""
    rows = collect_rows(engine, session_id)
    missing = [a.sha256[:12] for a in rows.assets if not store.path(a.sha256, a.format).exists()]
    if missing:
        raise ArchiveError(
            f"{len(missing)} asset file(s) of this session are missing from {store.root} "
            f"({', '.join(missing[:3])})",
            "the data dir was changed by hand; restore its assets folder",
        )
    rows_json = rows.model_dump_json(indent=1).encode()
    manifest = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "schema_version": SCHEMA_VERSION,
        "exported_at": time.time(),
        "session": rows.session.id,
        "turns": len(rows.turns),
        "rows_sha256": hashlib.sha256(rows_json).hexdigest(),
        "assets": {_member(a): a.sha256 for a in rows.assets},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest, indent=1))
            archive.writestr("rows.json", rows_json)
            for asset in rows.assets:
                # Already-compressed media are stored as they are.
                archive.write(
                    store.path(asset.sha256, asset.format), _member(asset), zipfile.ZIP_STORED
                )
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return rows


# -- import ------------------------------------------------------------------------------------------


def _read(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ArchiveError(f"the archive has no {name}", "export the session again") from None
    if info.file_size > limit:
        raise ArchiveError(f"{name} in the archive is too large ({info.file_size:,} bytes)")
    with archive.open(info) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ArchiveError(f"{name} in the archive is larger than it declares")
    return data


def read_archive(store: AssetStore, path: Path) -> tuple[ArchiveRows, list[PreparedAsset]]:
    """Read and check an archive completely, before anything is stored."""
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(_read(archive, "manifest.json", 16 * 1024 * 1024))
            if (
                manifest.get("format") != ARCHIVE_FORMAT
                or manifest.get("version") != ARCHIVE_VERSION
            ):
                raise ArchiveError(
                    f"{path} is not an anypix session archive (version {ARCHIVE_VERSION})"
                )
            rows_json = _read(archive, "rows.json", _MAX_JSON_BYTES)
            if hashlib.sha256(rows_json).hexdigest() != manifest.get("rows_sha256"):
                raise ArchiveError(f"{path}: rows.json does not match its manifest (damaged?)")
            rows = ArchiveRows.model_validate_json(rows_json)
            assets = [_read_asset(store, archive, path, a) for a in rows.assets]
    except FileNotFoundError:
        raise ArchiveError(f"{path} does not exist", "check the path") from None
    except zipfile.BadZipFile:
        raise ArchiveError(f"{path} is not a zip archive", "export the session again") from None
    except (ValueError, ValidationError) as exc:  # json.JSONDecodeError is a ValueError
        raise ArchiveError(f"{path} has malformed rows: {str(exc)[:300]}") from None
    return rows, assets


def _read_asset(
    store: AssetStore, archive: zipfile.ZipFile, path: Path, row: ArchivedAsset
) -> PreparedAsset:
    limit = (
        store.limits.max_image_bytes if row.modality == "image" else store.limits.max_audio_bytes
    )
    data = _read(archive, _member(row), limit)
    if not SHA256.match(row.sha256) or hashlib.sha256(data).hexdigest() != row.sha256:
        raise ArchiveError(f"{path}: {_member(row)} does not match its sha256 (damaged?)")
    try:
        checked = store.prepare_bytes(data, row.modality, f"{_member(row)} in {path.name}")
    except AssetError as exc:
        raise ArchiveError(f"{path}: {exc.message}") from None
    # Keep the archived bytes (the address is their sha256); validation only had to succeed.
    return PreparedAsset(
        sha256=row.sha256,
        data=data,
        modality=row.modality,
        format=row.format,
        source_format=row.source_format,
        origin=row.origin,
        width=checked.width,
        height=checked.height,
        mode=checked.mode,
        duration_s=checked.duration_s,
        sample_rate=checked.sample_rate,
        channels=checked.channels,
    )


def import_session(engine: Engine, store: AssetStore, path: Path) -> str:
    """Import an archive as a session (a new id if this data dir has its id); returns the id."""
    rows, assets = read_archive(store, path)
    by_sha = {a.sha256: a for a in assets}
    created: list[PreparedAsset] = []
    try:
        with write_session(engine) as db:
            try:
                session_id = _insert_rows(db, rows, by_sha)
            except (KeyError, ValueError) as exc:
                raise ArchiveError(
                    f"{path} has inconsistent rows ({exc})", "export the session again"
                ) from None
            created = [asset for asset in by_sha.values() if store.place(asset)]
    except BaseException:
        with suppress(Exception):
            discard_unreferenced(engine, store, created)
        raise
    return session_id


def _insert_rows(db: DbSession, rows: ArchiveRows, by_sha: dict[str, PreparedAsset]) -> str:
    """All of an archive's rows; KeyError or ValueError if they do not fit together."""
    meta = rows.session
    used = {sha for t in rows.turns for sha in t.attachments.values()}
    used |= {r.sha256 for r in rows.renders} | {b.sha256 for b in rows.bindings}
    if used - set(by_sha):
        raise ValueError(f"rows use assets the archive lacks: {sorted(used - set(by_sha))[:3]}")
    session_id = meta.id if db.get(SessionRow, meta.id) is None else uuid.uuid4().hex
    session = SessionRow(
        id=session_id, name=meta.name, created_at=meta.created_at, updated_at=meta.updated_at
    )
    db.add(session)
    for asset in rows.assets:
        db.execute(insert(AssetRow).values(**asset.model_dump()).on_conflict_do_nothing())
    turn_ids = _insert_turns(db, session_id, rows)
    _insert_renders(db, rows, turn_ids)
    for binding in rows.bindings:
        turn_id = None if binding.turn is None else turn_ids[binding.turn]
        fields = binding.model_dump(exclude={"turn"})
        db.add(SessionAssetRow(session_id=session_id, turn_id=turn_id, **fields))
    session.cursor_turn_id = None if meta.cursor is None else turn_ids[meta.cursor]
    session.redo_stack = [turn_ids[seq] for seq in meta.redo]
    db.add(session)
    return session_id


def _insert_turns(db: DbSession, session_id: str, rows: ArchiveRows) -> dict[int, int]:
    """Turns (parents first: a parent always has a smaller seq) and their tool calls."""
    turn_ids: dict[int, int] = {}
    for turn in sorted(rows.turns, key=lambda t: t.seq):
        parent = None if turn.parent is None else turn_ids[turn.parent]
        fields = turn.model_dump(exclude={"parent"})
        row = TurnRow(session_id=session_id, parent_id=parent, **fields)
        db.add(row)
        db.flush()
        assert row.id is not None
        turn_ids[turn.seq] = row.id
    for call in rows.tool_calls:
        db.add(ToolCallRow(turn_id=turn_ids[call.turn], **call.model_dump(exclude={"turn"})))
    return turn_ids


def _insert_renders(db: DbSession, rows: ArchiveRows, turn_ids: dict[int, int]) -> None:
    """Renders in turn order, so the render each one edited is already there."""
    render_ids: dict[tuple[int, int], int] = {}
    for render in sorted(rows.renders, key=lambda r: (r.turn, r.position)):
        parent = None if render.parent is None else render_ids[render.parent]
        row = RenderRow(
            turn_id=turn_ids[render.turn],
            position=render.position,
            sha256=render.sha256,
            parent_id=parent,
            provenance=render.provenance,
            timings=render.timings,
        )
        db.add(row)
        db.flush()
        assert row.id is not None
        render_ids[(render.turn, render.position)] = row.id
