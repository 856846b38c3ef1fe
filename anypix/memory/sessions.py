"""Sessions: create one, list them (most recently used first), find one by id, prefix or name."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine

from anypix.memory.db import write_session
from anypix.memory.history import HistoryError
from anypix.memory.tables import MAX_NAME, SessionRow, check_text
from anypix.memory.turns import SessionNotFoundError


@dataclass(frozen=True)
class SessionInfo:
    id: str
    name: str
    created_at: float
    updated_at: float
    turns: int
    cursor: int | None = None  # seq of the cursor turn; None: at the start


_SESSIONS_SQL = """
SELECT s.id, s.name, s.created_at, s.updated_at,
       (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id),
       (SELECT seq FROM turns t WHERE t.id = s.cursor_turn_id)
FROM sessions s ORDER BY s.updated_at DESC, s.created_at DESC
"""


def create_session(engine: Engine, name: str | None = None) -> SessionInfo:
    """A new session; ``name`` None or blank: "untitled"."""
    name = check_text(name, "the session name", MAX_NAME) if name and name.strip() else "untitled"
    now = time.time()
    row = SessionRow(id=uuid.uuid4().hex, name=name, created_at=now, updated_at=now)
    with write_session(engine) as db:
        db.add(row)
    return SessionInfo(row.id, row.name, now, now, 0, None)


def list_sessions(engine: Engine) -> list[SessionInfo]:
    """All sessions, the most recently used first."""
    with engine.connect() as conn:
        return [SessionInfo(*row) for row in conn.exec_driver_sql(_SESSIONS_SQL)]


def find_session(engine: Engine, ref: str | None = None) -> SessionInfo:
    """A session by id, unique id prefix or name; ``None`` is the most recent one."""
    found = list_sessions(engine)
    if ref is None:
        if not found:
            raise HistoryError("there are no sessions yet", 'start one with: anypix edit "..."')
        return found[0]
    for matches in (
        [s for s in found if s.id == ref],
        [s for s in found if len(ref) >= 4 and s.id.startswith(ref)],
        [s for s in found if s.name == ref],
    ):
        if len(matches) == 1 or (matches and matches[0].name == ref):
            return matches[0]  # a repeated name means its most recent session
        if matches:
            ids = ", ".join(s.id[:8] for s in matches)
            raise HistoryError(f"{ref!r} matches several sessions ({ids})", "give more of the id")
    raise SessionNotFoundError(ref)
