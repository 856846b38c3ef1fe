"""Sessions as trees of turns: list and show turns, undo, redo, branch, collect garbage.

A session's cursor is the turn whose output is "the current image". A new turn becomes a child of
the cursor and the new cursor. ``undo`` moves the cursor to its parent and remembers where it came
from; ``redo`` goes back down that way; ``branch N`` puts the cursor on any earlier turn, so the
next turn starts a new branch beside the old one, which stays in the history. Failed and
cancelled turns are kept (children of the cursor they ran from) and do not become the cursor on
their own; a person may ``branch`` to one that failed its checks, to go on from its image.

Export/import live in ``archive.py``, replay in ``replay.py``, turn commits in ``turns.py``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from anypix.errors import HistoryError
from anypix.memory.assets import AssetStore
from anypix.memory.db import database_path, sqlite_errors, write_session
from anypix.memory.tables import AssetRow, RenderRow, SessionRow, ToolCallRow, TurnRow
from anypix.memory.turns import SessionNotFoundError, StepRecord

LAST = "last"  # the name under which the cursor's output is offered to the planner
MAX_SEQ = 2**63 - 1  # SQLite's largest integer


@dataclass(slots=True)  # not frozen: frozen init is several times slower on 10k turns
class TurnSummary:
    seq: int
    parent: int | None
    status: str
    instruction: str
    created_at: float
    outputs: int
    current: bool
    on_path: bool  # on the way from the root to the cursor (the cursor included)


@dataclass(frozen=True)
class RenderInfo:
    id: int
    position: int
    sha256: str
    path: Path
    parent: tuple[int, int] | None  # (turn seq, position) of the render this one edited
    provenance: dict[str, Any]
    timings: dict[str, float]


@dataclass(frozen=True)
class TurnDetail:
    summary: TurnSummary
    attachments: dict[str, str]
    plan: dict[str, Any] | None
    error: str | None
    timings: dict[str, float]
    steps: list[StepRecord]
    renders: list[RenderInfo]

    def to_json(self) -> dict[str, Any]:
        """The turn as one JSON-able object (what ``anypix edit --json``, ``history --json`` and
        the MCP server print): ``outputs`` are the image files, ``renders`` their provenance."""
        return {
            **asdict(self.summary),
            "attachments": self.attachments,
            "plan": self.plan,
            "error": self.error,
            "timings": self.timings,
            "outputs": [str(render.path) for render in self.renders],
            "renders": [
                {**asdict(render), "path": str(render.path)} for render in self.renders
            ],
            "steps": [
                {"tool": s.tool, "arguments": s.arguments, "result": s.result,
                 "seconds": s.seconds, "error": s.error}
                for s in self.steps
            ],
        }


@dataclass(frozen=True)
class AssetInfo:
    name: str
    sha256: str
    modality: str
    format: str
    path: Path
    origin: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None


# -- turns -------------------------------------------------------------------------------------------

_TURNS_SQL = """
SELECT t.id, t.seq, t.parent_id, t.status, t.instruction, t.created_at,
       (SELECT COUNT(*) FROM renders r WHERE r.turn_id = t.id)
FROM turns t WHERE t.session_id = ? ORDER BY t.seq
"""


def _cursor_id(conn: Any, session_id: str) -> int | None:
    row = conn.exec_driver_sql(
        "SELECT cursor_turn_id FROM sessions WHERE id = ?", (session_id,)
    ).first()
    if row is None:
        raise SessionNotFoundError(session_id)
    return row[0]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Building 10k acyclic records can trigger a full cyclic-GC pass over the whole process
    (100 ms in a process with torch loaded) that frees nothing; pause it, then restore it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def list_turns(engine: Engine, session_id: str) -> list[TurnSummary]:
    """Every turn of the session in order, marking the cursor and the path that leads to it."""
    with _gc_paused():
        return _list_turns(engine, session_id)


def _list_turns(engine: Engine, session_id: str) -> list[TurnSummary]:
    with engine.begin() as conn:  # one snapshot for the cursor and the turns
        cursor = _cursor_id(conn, session_id)
        # The raw cursor: SQLAlchemy's Row objects would cost more than the query on 10k turns.
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        with sqlite_errors(database_path(engine)):
            rows = dbapi.execute(_TURNS_SQL, (session_id,)).fetchall()
    seq_of = {row[0]: row[1] for row in rows}
    parent_of = {row[0]: row[2] for row in rows}
    path: set[int] = set()
    node = cursor
    while node is not None:
        path.add(node)
        node = parent_of.get(node)
    return [
        TurnSummary(
            seq=seq,
            parent=seq_of.get(parent) if parent is not None else None,
            status=status,
            instruction=instruction,
            created_at=created_at,
            outputs=outputs,
            current=turn_id == cursor,
            on_path=turn_id in path,
        )
        for turn_id, seq, parent, status, instruction, created_at, outputs in rows
    ]


def _no_turn(seq: object) -> HistoryError:
    return HistoryError(f"this session has no turn {seq}", "list its turns with: anypix history")


def _checked_seq(seq: int) -> int:
    """A turn number SQLite can look up (its integers end at 2**63); others name no turn."""
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        raise _no_turn(seq)
    return seq


def _turn_row(db: DbSession, session_id: str, seq: int) -> TurnRow:
    _checked_seq(seq)
    turn = db.exec(
        select(TurnRow).where(TurnRow.session_id == session_id, TurnRow.seq == seq)
    ).first()
    if turn is None:
        raise _no_turn(seq)
    return turn


_ONE_TURN_SQL = """
SELECT t.id, t.seq, p.seq, t.status, t.instruction, t.created_at,
       (SELECT COUNT(*) FROM renders r WHERE r.turn_id = t.id), s.cursor_turn_id,
       EXISTS (  -- is t an ancestor of the cursor (or the cursor itself)?
         WITH RECURSIVE path(id) AS (
           SELECT s.cursor_turn_id
           UNION ALL
           SELECT up.parent_id FROM turns up JOIN path ON up.id = path.id
           WHERE up.parent_id IS NOT NULL
         )
         SELECT 1 FROM path WHERE path.id = t.id)
FROM turns t JOIN sessions s ON s.id = t.session_id LEFT JOIN turns p ON p.id = t.parent_id
WHERE t.session_id = ? AND t.seq = ?
"""


def turn_summary(engine: Engine, session_id: str, seq: int) -> TurnSummary:
    """One turn's summary, without listing the whole session."""
    with engine.connect() as conn:
        return _summary(conn, session_id, seq)


def _summary(conn: Connection, session_id: str, seq: int) -> TurnSummary:
    row = conn.exec_driver_sql(_ONE_TURN_SQL, (session_id, _checked_seq(seq))).first()
    if row is None:
        raise _no_turn(seq)
    turn_id, seq, parent, status, instruction, created_at, outputs, cursor, on_path = row
    current = turn_id == cursor
    return TurnSummary(
        seq, parent, status, instruction, created_at, outputs, current, bool(on_path)
    )


def show_turn(engine: Engine, store: AssetStore, session_id: str, seq: int) -> TurnDetail:
    """Everything stored about one turn."""
    with DbSession(engine, expire_on_commit=False) as db, db.begin():
        summary = _summary(db.connection(), session_id, seq)
        turn = _turn_row(db, session_id, seq)
        query = (
            select(ToolCallRow)
            .where(ToolCallRow.turn_id == turn.id)
            .order_by(col(ToolCallRow.position))
        )
        calls = db.exec(query).all()
        steps = [StepRecord(c.tool, c.arguments, c.result, c.seconds, c.error) for c in calls]
        renders = [_render_info(db, store, r) for r in _renders_of(db, turn.id)]
    return TurnDetail(
        summary, turn.attachments, turn.plan, turn.error, turn.timings, steps, renders
    )


def _renders_of(db: DbSession, turn_id: int | None) -> list[RenderRow]:
    query = select(RenderRow).where(RenderRow.turn_id == turn_id).order_by(col(RenderRow.position))
    return list(db.exec(query).all())


def _render_info(db: DbSession, store: AssetStore, render: RenderRow) -> RenderInfo:
    asset = db.get(AssetRow, render.sha256)
    assert asset is not None and render.id is not None
    parent = None
    if render.parent_id is not None:
        row = db.exec(
            select(TurnRow.seq, RenderRow.position)
            .join(TurnRow, col(TurnRow.id) == col(RenderRow.turn_id))
            .where(RenderRow.id == render.parent_id)
        ).first()
        parent = (row[0], row[1]) if row else None
    return RenderInfo(
        id=render.id,
        position=render.position,
        sha256=render.sha256,
        path=store.path(asset.sha256, asset.format),
        parent=parent,
        provenance=render.provenance,
        timings=render.timings,
    )


# -- the cursor --------------------------------------------------------------------------------------


def _session_row(db: DbSession, session_id: str) -> SessionRow:
    session = db.get(SessionRow, session_id)
    if session is None:
        raise SessionNotFoundError(session_id)
    return session


def _seq(db: DbSession, turn_id: int | None) -> int | None:
    return None if turn_id is None else db.get(TurnRow, turn_id).seq  # type: ignore[union-attr]


def undo(engine: Engine, session_id: str) -> int | None:
    """Move the cursor to its parent; returns the new cursor's seq (None: before the first turn)."""
    with write_session(engine) as db:
        session = _session_row(db, session_id)
        if session.cursor_turn_id is None:
            raise HistoryError("nothing to undo: the session is at its start", "make an edit first")
        current = db.get(TurnRow, session.cursor_turn_id)
        assert current is not None and current.id is not None
        session.redo_stack = [*session.redo_stack, current.id]
        session.cursor_turn_id = current.parent_id
        session.updated_at = time.time()
        db.add(session)
        return _seq(db, current.parent_id)


def redo(engine: Engine, session_id: str) -> int:
    """Go back down the way the last undo came up; returns the new cursor's seq."""
    with write_session(engine) as db:
        session = _session_row(db, session_id)
        if not session.redo_stack:
            raise HistoryError(
                "nothing to redo", "redo follows an undo, until a new edit or branch"
            )
        *rest, target_id = session.redo_stack
        session.redo_stack = rest
        session.cursor_turn_id = target_id
        session.updated_at = time.time()
        db.add(session)
        seq = _seq(db, target_id)
        assert seq is not None
        return seq


def branch(engine: Engine, session_id: str, seq: int) -> int | None:
    """Put the cursor on turn ``seq`` (0: before the first turn); the next edit starts a branch.
    A turn that failed its checks keeps its image, and the person may continue from it anyway
    (it stays marked failed); a turn without an image cannot be continued from."""
    with write_session(engine) as db:
        session = _session_row(db, session_id)
        target_id = None
        if seq != 0:
            turn = _turn_row(db, session_id, seq)
            drawn = db.exec(select(RenderRow.id).where(RenderRow.turn_id == turn.id)).first()
            if turn.status != "ok" and (turn.status != "failed" or drawn is None):
                raise HistoryError(
                    f"turn {seq} {turn.status}, so it has no image to continue from",
                    "branch from a turn whose status is ok",
                )
            target_id = turn.id
        session.cursor_turn_id = target_id
        session.redo_stack = []
        session.updated_at = time.time()
        db.add(session)
    return seq or None


# -- assets ------------------------------------------------------------------------------------------

_NAMES_SQL = """
SELECT sa.name, a.sha256, a.modality, a.format, a.origin, a.width, a.height, a.duration_s
FROM session_assets sa JOIN assets a ON a.sha256 = sa.sha256
WHERE sa.session_id = ? ORDER BY sa.id
"""
_LAST_SQL = """
SELECT 'last', a.sha256, a.modality, a.format, a.origin, a.width, a.height, a.duration_s
FROM renders r JOIN assets a ON a.sha256 = r.sha256
WHERE r.turn_id = ? ORDER BY r.position LIMIT 1
"""


def session_state(
    engine: Engine, store: AssetStore, session_id: str
) -> tuple[int | None, dict[str, AssetInfo]]:
    """The cursor's turn id and the names the session knows, from one snapshot: the names
    (the latest binding of each) plus ``last``, the cursor's image."""
    with engine.begin() as conn:
        cursor = _cursor_id(conn, session_id)
        rows = [
            *conn.exec_driver_sql(_NAMES_SQL, (session_id,)),
            *conn.exec_driver_sql(_LAST_SQL, (cursor,)),
        ]
    return cursor, {
        name: AssetInfo(
            name, sha, modality, fmt, store.path(sha, fmt), origin, width, height, duration
        )
        for name, sha, modality, fmt, origin, width, height, duration in rows
    }


def session_assets(engine: Engine, store: AssetStore, session_id: str) -> dict[str, AssetInfo]:
    """The names a session knows, plus ``last`` (the cursor's image) once there is one."""
    return session_state(engine, store, session_id)[1]


def collect_garbage(engine: Engine, store: AssetStore, grace_s: float = 3600.0) -> list[Path]:
    """Remove files no row references (left by a killed process) once older than ``grace_s``.

    The grace period protects files another process has placed for a turn it has not committed
    yet; the write lock keeps a commit from claiming a file while it is being removed."""
    removed: list[Path] = []
    cutoff = time.time() - grace_s
    with write_session(engine) as db:
        known = set(db.exec(select(AssetRow.sha256)).all())
        for sha, path in store.files().items():
            if sha not in known and path.stat().st_mtime <= cutoff:
                path.unlink(missing_ok=True)
                removed.append(path)
        for path in store.stray_temp_files(grace_s):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def render_of_image(engine: Engine, session_id: str, sha256: str) -> int | None:
    """The latest render of this session that produced this image (for lineage), if any."""
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT r.id FROM renders r JOIN turns t ON t.id = r.turn_id "
            "WHERE t.session_id = ? AND r.sha256 = ? ORDER BY r.id DESC LIMIT 1",
            (session_id, sha256),
        ).first()
    return None if row is None else int(row[0])
