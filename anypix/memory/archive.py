"""Export a session to one archive and import it elsewhere, losslessly.

The archive is a zip file holding ``manifest.json`` (format, versions, members and their sha256),
``rows.json`` (the session's rows, with turns named by their ``seq`` instead of database ids) and
``assets/<sha256>.<format>`` (``docs/archives.md``; the rows' schema and limits are in
:mod:`anypix.memory.archive_format`).

Export writes a temp file beside the target and renames it over the target, which must be
missing or a regular file the user may write; a folder, a device, a link, or the data dir's own
files are refused. Import treats the archive as untrusted input and checks all of it
before anything is written: members are looked up by the names the rows imply (never extracted
by their own names), only stored or deflated and unencrypted, sizes are checked before reading,
every asset's sha256 is recomputed and its content validated like an upload, and all rows land
in one transaction, so a bad archive stores nothing. An imported session whose name is taken is
renamed ``NAME (2)``, ``NAME (3)``...
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
import uuid
import zipfile
import zlib
from contextlib import suppress
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Engine, func
from sqlalchemy.dialects.sqlite import insert
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from anypix.errors import ArchiveError, AssetError, UserError
from anypix.memory.archive_format import (
    ARCHIVE_FORMAT,
    ARCHIVE_VERSION,
    MAX_MANIFEST_BYTES,
    MAX_MEMBERS,
    MAX_ROWS_BYTES,
    ArchivedAsset,
    ArchivedBinding,
    ArchivedRender,
    ArchivedSession,
    ArchivedToolCall,
    ArchivedTurn,
    ArchiveRows,
    first_problem,
    member,
    parse_manifest,
    parse_rows,
)
from anypix.memory.assets import AssetStore, PreparedAsset
from anypix.memory.db import database_path, write_session
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

__all__ = ["ArchiveError", "ArchiveRows", "collect_rows", "export_session", "import_session"]

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


_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
}


def export_target(path: Path, protected: list[Path]) -> None:
    """Refuse (:class:`UserError`) a ``path`` an export may not replace: anything but a missing
    or regular file (a link too, whatever it names: a planted link must not redirect the
    export), a read-only file, a folder that does not exist, and the ``protected`` files."""
    hint = "give the path of a new .zip file, or of a regular file to replace"
    try:
        if any(path.resolve() == p.resolve() for p in protected):
            raise UserError(f"{path} is a file of anypix's data dir", "choose a file outside it")
        info = path.lstat()
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise UserError(f"the folder {path.parent} does not exist", "create it first") from None
        return
    except (OSError, RuntimeError) as exc:  # a loop of links, a name too long, a file as folder
        raise UserError(
            f"cannot write {path}: {getattr(exc, 'strerror', None) or exc}", hint
        ) from None
    if stat.S_ISLNK(info.st_mode):
        raise UserError(f"{path} is a link; anypix replaces only regular files", hint)
    kind = _KINDS.get(stat.S_IFMT(info.st_mode))
    if kind is not None:
        raise UserError(f"{path} is {kind}, not a file anypix may replace", hint)
    if not info.st_mode & 0o222 or not os.access(path, os.W_OK):
        raise UserError(f"{path} is read-only", "make it writable first, or choose another name")


def export_session(engine: Engine, store: AssetStore, session_id: str, path: Path) -> ArchiveRows:
    """Write the session to ``path`` (a new file, or a regular file replaced atomically);
    returns what was written."""
    db_file = database_path(engine)
    protected = [db_file, *(db_file.with_name(db_file.name + s) for s in ("-wal", "-shm"))]
    export_target(path, protected)
    try:
        rows = collect_rows(engine, session_id)
    except ValidationError as exc:
        raise ArchiveError(
            f"this session does not fit in an archive: it {first_problem(exc)}",
            "see docs/archives.md for the limits",
        ) from None
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
        "assets": {member(a): a.sha256 for a in rows.assets},
    }
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest, indent=1))
            archive.writestr("rows.json", rows_json)
            for asset in rows.assets:
                # Already-compressed media are stored as they are.
                archive.write(
                    store.path(asset.sha256, asset.format), member(asset), zipfile.ZIP_STORED
                )
        with temp.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        raise UserError(
            f"cannot write {path}: {exc.strerror or exc}",
            "choose a folder you can write to, on a disk with free space",
        ) from None
    finally:
        temp.unlink(missing_ok=True)
    return rows


# -- import ------------------------------------------------------------------------------------------


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
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
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


def import_session(engine: Engine, store: AssetStore, path: Path) -> str:
    """Import an archive as a session; returns its id (a new one if this data dir has the
    archive's). A session name already in use gets a number: ``holiday (2)``."""
    rows, assets = read_archive(store, path)
    created: list[PreparedAsset] = []
    try:
        with write_session(engine) as db:
            session_id = _insert_rows(db, rows, assets)
            created = [asset for asset in assets if store.place(asset)]
    except BaseException:
        with suppress(Exception):
            discard_unreferenced(engine, store, created)
        raise
    return session_id


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


def _insert_rows(db: DbSession, rows: ArchiveRows, assets: list[PreparedAsset]) -> str:
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
    db.add(
        SessionRow(
            id=session_id,
            name=distinct_name(db, meta.name),
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
    return session_id


def _bulk(db: DbSession, table: type, values: list[dict]) -> None:
    if values:
        db.execute(insert(table), values)
