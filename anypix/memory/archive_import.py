"""Importing a session archive: read and check all of it, then store it in one transaction.

The archive is untrusted input (:mod:`anypix.memory.archive` describes the format,
:mod:`anypix.memory.archive_format` the checks of its rows and the limits). Members are looked up
by the names the rows imply (never extracted by their own names), only stored or deflated and
unencrypted, sizes are checked before reading, every asset's sha256 is recomputed and its content
validated like an upload; only then are the rows inserted (in bulk, with ids chosen under the
write lock) and the files placed, so a bad archive stores nothing.
"""

from __future__ import annotations

import hashlib
import time
import uuid
import zipfile
import zlib
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func
from sqlalchemy.dialects.sqlite import insert
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from anypix.errors import ArchiveError, AssetError
from anypix.memory.archive_format import (
    MAX_MANIFEST_BYTES,
    MAX_MEMBERS,
    MAX_ROWS_BYTES,
    ArchivedAsset,
    ArchiveRows,
    member,
    parse_manifest,
    parse_rows,
)
from anypix.memory.assets import AssetStore, PreparedAsset
from anypix.memory.db import write_session
from anypix.memory.tables import (
    AssetRow,
    RenderRow,
    SessionAssetRow,
    SessionRow,
    ToolCallRow,
    TurnRow,
)
from anypix.memory.turns import discard_unreferenced


def _read(archive: zipfile.ZipFile, name: str, limit: int, where: str) -> bytes:
    """One member's bytes, read only if it is plainly stored or deflated and within ``limit``."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise ArchiveError(f"{where} has no {name}", "export the session again") from None
    if info.flag_bits & 0x1:
        raise ArchiveError(f"{where}: {name} is encrypted", "export the session again, unencrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ArchiveError(
            f"{where}: {name} is compressed with method {info.compress_type}; anypix reads "
            "stored or deflated members",
            "export the session again with anypix",
        )
    if info.file_size > limit:
        raise ArchiveError(
            f"{where}: {name} is {info.file_size:,} bytes, over the limit of {limit:,}",
            "see docs/archives.md for the limits",
        )
    with archive.open(info) as handle:
        data = handle.read(limit + 1)  # a member may declare less than it holds
    if len(data) > limit:
        raise ArchiveError(f"{where}: {name} holds more than it declares", "export it again")
    return data


def read_archive(store: AssetStore, path: Path) -> tuple[ArchiveRows, list[PreparedAsset]]:
    """Read and check an archive completely, before anything is stored."""
    where = str(path)
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a file"
        raise ArchiveError(f"{where} {what}", "give the path of an archive from anypix export")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if len(names) > MAX_MEMBERS or len(set(names)) != len(names):
                problem = "too many members" if len(names) > MAX_MEMBERS else "a repeated member"
                raise ArchiveError(f"{where} has {problem}", "export the session again")
            manifest = parse_manifest(
                _read(archive, "manifest.json", MAX_MANIFEST_BYTES, where), where
            )
            rows_json = _read(archive, "rows.json", MAX_ROWS_BYTES, where)
            if hashlib.sha256(rows_json).hexdigest() != manifest.rows_sha256:
                raise ArchiveError(
                    f"{where}: rows.json does not match its manifest (damaged?)",
                    "export the session again",
                )
            rows = parse_rows(rows_json, where)
            if manifest.assets != {member(a): a.sha256 for a in rows.assets}:
                raise ArchiveError(
                    f"{where}: the manifest and rows.json list different assets",
                    "export the session again",
                )
            assets = [_read_asset(store, archive, where, a) for a in rows.assets]
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ArchiveError(
            f"{where} is not a readable zip archive ({exc})", "export the session again"
        ) from None
    except OSError as exc:
        raise ArchiveError(
            f"cannot read {where}: {exc.strerror or exc}", "check the path"
        ) from None
    return rows, assets


def _read_asset(
    store: AssetStore, archive: zipfile.ZipFile, where: str, row: ArchivedAsset
) -> PreparedAsset:
    limit = (
        store.limits.max_image_bytes if row.modality == "image" else store.limits.max_audio_bytes
    )
    data = _read(archive, member(row), limit, where)
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise ArchiveError(
            f"{where}: {member(row)} does not match its sha256 (damaged?)",
            "export the session again",
        )
    try:
        checked = store.prepare_bytes(data, row.modality, f"{member(row)} in {Path(where).name}")
    except AssetError as exc:
        raise ArchiveError(f"{where}: {exc.message}", "export the session again") from None
    if checked.source_format != row.format:
        raise ArchiveError(
            f"{where}: {member(row)} holds {checked.source_format}, not {row.format}",
            "export the session again",
        )
    # Keep the archived bytes (the address is their sha256); what they hold is as validated.
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


@dataclass(frozen=True)
class ImportedSession:
    """What an import stored: the session's id and name, and the name the archive gave it
    (they differ when that name was taken here)."""

    id: str
    name: str
    archived_name: str

    @property
    def renamed(self) -> bool:
        return self.name != self.archived_name


def import_archive(engine: Engine, store: AssetStore, path: Path) -> ImportedSession:
    """Import an archive as a session (a new id if this data dir has the archive's; a name
    already in use gets a number: ``holiday (2)``)."""
    rows, assets = read_archive(store, path)
    created: list[PreparedAsset] = []
    try:
        with write_session(engine) as db:
            imported = _insert_rows(db, rows, assets)
            created = [asset for asset in assets if store.place(asset)]
    except BaseException:
        with suppress(Exception):
            discard_unreferenced(engine, store, created)
        raise
    return imported


def import_session(engine: Engine, store: AssetStore, path: Path) -> str:
    """:func:`import_archive`, returning only the new session's id."""
    return import_archive(engine, store, path).id


def distinct_name(db: DbSession, name: str) -> str:
    """``name``, or ``name (N)`` with the smallest N >= 2 that no session has."""
    taken = set(db.exec(select(SessionRow.name).where(col(SessionRow.name).startswith(name))))
    if name not in taken:
        return name
    number = 2
    while f"{name} ({number})" in taken:
        number += 1
    return f"{name} ({number})"


def _next_id(db: DbSession, table: type[TurnRow] | type[RenderRow]) -> int:
    """The first free id of ``table``; the write lock keeps it free until the commit."""
    return (db.exec(select(func.max(table.id))).one() or 0) + 1


def _insert_rows(db: DbSession, rows: ArchiveRows, assets: list[PreparedAsset]) -> ImportedSession:
    """All of an archive's rows (checked by ``parse_rows``), as bulk inserts with ids chosen
    here: turns and renders refer to each other by id."""
    meta, now = rows.session, time.time()
    session_id = meta.id if db.get(SessionRow, meta.id) is None else uuid.uuid4().hex
    archived_at = {asset.sha256: asset.created_at for asset in rows.assets}
    for asset in assets:  # the row says what validation found, not what the archive claims
        values = asset.row_values(archived_at.get(asset.sha256, now))
        db.execute(insert(AssetRow).values(**values).on_conflict_do_nothing())
    turns = sorted(rows.turns, key=lambda t: t.seq)
    first_turn = _next_id(db, TurnRow)
    turn_ids = {turn.seq: first_turn + index for index, turn in enumerate(turns)}
    renders = sorted(rows.renders, key=lambda r: (r.turn, r.position))
    first_render = _next_id(db, RenderRow)
    render_ids = {(r.turn, r.position): first_render + i for i, r in enumerate(renders)}
    name = distinct_name(db, meta.name)
    db.add(
        SessionRow(
            id=session_id,
            name=name,
            created_at=meta.created_at,
            updated_at=meta.updated_at,
            cursor_turn_id=None if meta.cursor is None else turn_ids[meta.cursor],
            redo_stack=[turn_ids[seq] for seq in meta.redo],
        )
    )
    db.flush()
    _bulk(db, TurnRow, [
        {**t.model_dump(exclude={"parent"}), "id": turn_ids[t.seq], "session_id": session_id,
         "parent_id": None if t.parent is None else turn_ids[t.parent]}
        for t in turns
    ])  # fmt: skip
    _bulk(db, ToolCallRow, [
        {**c.model_dump(exclude={"turn"}), "turn_id": turn_ids[c.turn]} for c in rows.tool_calls
    ])  # fmt: skip
    _bulk(db, RenderRow, [
        {**r.model_dump(exclude={"turn", "parent"}), "id": render_ids[(r.turn, r.position)],
         "turn_id": turn_ids[r.turn],
         "parent_id": None if r.parent is None else render_ids[r.parent]}
        for r in renders
    ])  # fmt: skip
    _bulk(db, SessionAssetRow, [
        {**b.model_dump(exclude={"turn"}), "session_id": session_id,
         "turn_id": None if b.turn is None else turn_ids[b.turn]}
        for b in rows.bindings
    ])  # fmt: skip
    return ImportedSession(session_id, name, meta.name)


def _bulk(db: DbSession, table: type, values: list[dict]) -> None:
    if values:
        db.execute(insert(table), values)
