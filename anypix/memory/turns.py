"""Recording a turn: everything about it in one transaction.

A turn is written once, when it has finished (ok, failed or cancelled), in a single ``BEGIN
IMMEDIATE`` transaction with its tool calls, renders, asset rows and the session's cursor. A
process killed before that commit leaves no trace of the turn; one killed after leaves all of it.

Asset files are placed (temp file, fsync, rename) *inside* that transaction, just before the
commit, so a committed row never names a missing file. If the commit fails, the files this turn
created are removed again, under the write lock and only if no committed row uses them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Engine, func
from sqlalchemy.dialects.sqlite import insert
from sqlmodel import Session as DbSession
from sqlmodel import select

from anypix.errors import SessionNotFoundError
from anypix.memory.archive_format import provenance_problem
from anypix.memory.assets import AssetStore, PreparedAsset
from anypix.memory.db import write_session
from anypix.memory.tables import (
    MAX_TEXT,
    AssetRow,
    RenderRow,
    SessionAssetRow,
    SessionRow,
    ToolCallRow,
    TurnRow,
    check_text,
)
from anypix.records import StepRecord as StepRecord  # re-exported for memory.history


@dataclass
class RenderDraft:
    """One output image of a turn, before it is stored."""

    asset: PreparedAsset
    provenance: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    parent_render_id: int | None = None


@dataclass
class TurnDraft:
    """A finished turn, ready to be committed."""

    session_id: str
    instruction: str
    # The turn this one continues: the cursor when it *started* (what its plan's [last] was), so
    # a turn that raced another writer still hangs under the image it edited. "cursor": the
    # session's cursor at commit time.
    parent_id: int | Literal["cursor"] | None = "cursor"
    status: str = "ok"
    attachments: dict[str, PreparedAsset] = field(default_factory=dict)
    plan: dict[str, Any] | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    steps: list[StepRecord] = field(default_factory=list)
    renders: list[RenderDraft] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class CommittedTurn:
    id: int
    seq: int
    status: str
    render_ids: tuple[int, ...]


def record_assets(
    db: DbSession,
    store: AssetStore,
    assets: Iterable[PreparedAsset],
    now: float,
    created: list[PreparedAsset],
) -> None:
    """Insert asset rows (once per sha256) and place their files, appending to ``created`` the
    ones whose file this call wrote (as it goes, so a failure half-way knows what to remove)."""
    for asset in assets:
        db.execute(insert(AssetRow).values(**asset.row_values(now)).on_conflict_do_nothing())
        if store.place(asset):
            created.append(asset)


def bind_names(
    db: DbSession, session_id: str, names: dict[str, PreparedAsset], turn_id: int | None, now: float
) -> None:
    for name, asset in names.items():
        db.add(
            SessionAssetRow(
                session_id=session_id,
                name=name,
                sha256=asset.sha256,
                turn_id=turn_id,
                created_at=now,
            )
        )


def discard_unreferenced(
    engine: Engine, store: AssetStore, assets: Iterable[PreparedAsset]
) -> None:
    """Remove files that a failed commit created, unless a committed row has claimed them since."""
    assets = list(assets)
    if not assets:
        return
    with write_session(engine) as db:
        for asset in assets:
            if db.get(AssetRow, asset.sha256) is None:
                store.remove(asset.sha256, asset.format)


def _insert_turn(db: DbSession, draft: TurnDraft, session: SessionRow, now: float) -> TurnRow:
    last_seq = db.exec(
        select(func.max(TurnRow.seq)).where(TurnRow.session_id == draft.session_id)
    ).one()
    turn = TurnRow(
        session_id=draft.session_id,
        seq=(last_seq or 0) + 1,
        parent_id=session.cursor_turn_id if draft.parent_id == "cursor" else draft.parent_id,
        instruction=draft.instruction,
        attachments={name: asset.sha256 for name, asset in draft.attachments.items()},
        plan=draft.plan,
        status=draft.status,
        error=draft.error,
        timings=draft.timings,
        created_at=draft.created_at,
        finished_at=now,
    )
    db.add(turn)
    db.flush()
    return turn


def _insert_steps_and_renders(db: DbSession, draft: TurnDraft, turn_id: int) -> list[int]:
    for position, step in enumerate(draft.steps):
        db.add(
            ToolCallRow(
                turn_id=turn_id,
                position=position,
                tool=step.tool,
                arguments=step.arguments,
                result=step.result,
                seconds=step.seconds,
                error=step.error,
            )
        )
    rows = [
        RenderRow(
            turn_id=turn_id,
            position=position,
            sha256=render.asset.sha256,
            parent_id=render.parent_render_id,
            provenance=render.provenance,
            timings=render.timings,
        )
        for position, render in enumerate(draft.renders)
    ]
    db.add_all(rows)
    db.flush()
    return [row.id for row in rows if row.id is not None]


def commit_turn(engine: Engine, store: AssetStore, draft: TurnDraft) -> CommittedTurn:
    """Record a finished turn; an ``ok`` turn becomes the session's cursor (and clears redo)."""
    if draft.status not in ("ok", "failed", "cancelled"):
        raise ValueError(f"turn status must be ok, failed or cancelled, not {draft.status!r}")
    check_text(draft.instruction, "the instruction", MAX_TEXT)
    for render in draft.renders:
        # Every entry (CLI, scripts, MCP) range-checks its numbers; a render that still records
        # one that replay could not read back is a bug, refused here rather than stored.
        problem = provenance_problem(render.provenance)
        if problem:
            raise ValueError(f"a render's provenance {problem}")
    created: list[PreparedAsset] = []
    try:
        with write_session(engine) as db:
            now = time.time()
            session = db.get(SessionRow, draft.session_id)
            if session is None:
                raise SessionNotFoundError(draft.session_id)
            assets = [*draft.attachments.values(), *(r.asset for r in draft.renders)]
            record_assets(db, store, assets, now, created)
            turn = _insert_turn(db, draft, session, now)
            assert turn.id is not None
            bind_names(db, draft.session_id, draft.attachments, turn.id, now)
            render_ids = _insert_steps_and_renders(db, draft, turn.id)
            if draft.status == "ok":
                session.cursor_turn_id = turn.id
                session.redo_stack = []
            session.updated_at = now
            db.add(session)
            committed = CommittedTurn(turn.id, turn.seq, turn.status, tuple(render_ids))
    except BaseException:
        # Best effort: a file left behind here is an orphan that history.collect_garbage removes.
        with suppress(Exception):
            discard_unreferenced(engine, store, created)
        raise
    return committed


def attach_assets(
    engine: Engine, store: AssetStore, session_id: str, names: dict[str, PreparedAsset]
) -> None:
    """Bind names to assets outside any turn (``Session.attach``), in one transaction."""
    created: list[PreparedAsset] = []
    try:
        with write_session(engine) as db:
            now = time.time()
            session = db.get(SessionRow, session_id)
            if session is None:
                raise SessionNotFoundError(session_id)
            record_assets(db, store, names.values(), now, created)
            bind_names(db, session_id, names, None, now)
            session.updated_at = now
            db.add(session)
    except BaseException:
        with suppress(Exception):
            discard_unreferenced(engine, store, created)
        raise
