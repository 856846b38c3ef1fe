"""Export a session to one archive and import it elsewhere, losslessly.

The archive is a zip file holding ``manifest.json`` (format, versions, members and their sha256),
``rows.json`` (the session's rows, with turns named by their ``seq`` instead of database ids) and
``assets/<sha256>.<format>`` (``docs/archives.md``; the rows' schema and limits are in
:mod:`anypix.memory.archive_format`).

Export writes a temp file beside the target and renames it over the target, which must be
missing or a regular file the user may write; a folder, a device, a link, or the data dir's own
files are refused. Import (:mod:`anypix.memory.archive_import`, its functions re-exported here)
checks the whole archive before anything is written, so a bad archive stores nothing; an
imported session whose name is taken is renamed ``NAME (2)``, ``NAME (3)``...
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
import uuid
import zipfile
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from anypix.errors import ArchiveError, UserError
from anypix.memory.archive_format import (
    ARCHIVE_FORMAT,
    ARCHIVE_VERSION,
    ArchivedAsset,
    ArchivedBinding,
    ArchivedRender,
    ArchivedSession,
    ArchivedToolCall,
    ArchivedTurn,
    ArchiveRows,
    first_problem,
    member,
)
from anypix.memory.archive_import import ImportedSession, import_archive, import_session
from anypix.memory.assets import AssetStore
from anypix.memory.db import database_path
from anypix.memory.migrations import SCHEMA_VERSION
from anypix.memory.tables import (
    AssetRow,
    RenderRow,
    SessionAssetRow,
    SessionRow,
    ToolCallRow,
    TurnRow,
)
from anypix.memory.turns import SessionNotFoundError

__all__ = [
    "ArchiveError",
    "ArchiveRows",
    "ImportedSession",
    "collect_rows",
    "export_session",
    "import_archive",
    "import_session",
]

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
