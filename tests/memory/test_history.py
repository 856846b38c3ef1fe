"""Sessions as trees: undo, redo, branch, lineage, and turns that fail or are cancelled."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from memory_fakes import assert_no_orphans, flat_renderer, image_file, stored_files
from PIL import Image

from anypix.errors import CancelledError, PlanParseError, TurnFailed
from anypix.memory import turns as turns_module
from anypix.memory.history import HistoryError
from anypix.studio import Session, Studio


def tree(session: Session) -> list[tuple[int, int | None, str]]:
    """(turn, parent, mark) with '>' for the cursor and '*' for the path to it."""
    return [
        (t.seq, t.parent, ">" if t.current else "*" if t.on_path else "") for t in session.history()
    ]


def test_undo_redo_and_branch_move_a_cursor_through_a_tree(studio: Studio) -> None:
    session = studio.session()
    for text in ("new a red ball", "make it bigger", "make it blue"):
        session.edit(text)
    assert tree(session) == [(1, None, "*"), (2, 1, "*"), (3, 2, ">")]

    assert session.undo() == 2
    assert session.undo() == 1
    assert session.redo() == 2
    assert tree(session) == [(1, None, "*"), (2, 1, ">"), (3, 2, "")]

    session.edit("make it green")  # a new turn from 2: a second child, and redo is gone
    assert tree(session) == [(1, None, "*"), (2, 1, "*"), (3, 2, ""), (4, 2, ">")]
    with pytest.raises(HistoryError, match="nothing to redo"):
        session.redo()

    assert session.branch(1) == 1
    with pytest.raises(HistoryError, match="nothing to redo"):
        session.redo()
    session.edit("make it square")
    assert tree(session) == [(1, None, "*"), (2, 1, ""), (3, 2, ""), (4, 2, ""), (5, 1, ">")]
    # One turn's summary (a recursive query) agrees with the listing (a walk in Python).
    assert [session.show(t.seq).summary for t in session.history()] == session.history()

    assert session.branch(0) is None  # back to the start: the next turn is a new root
    session.edit("new a tree")
    assert [t.parent for t in session.history()][-1] is None
    assert session.undo() is None
    with pytest.raises(HistoryError, match="nothing to undo"):
        session.undo()


def test_each_edit_continues_from_the_cursor_image(studio: Studio) -> None:
    session = studio.session()
    first = session.edit("new a red ball")
    second = session.edit("make it bigger")
    assert second.plan is not None and second.plan["base"] == "last"
    # The render records which image it edited (lineage) and which files it read.
    assert second.renders[0].parent == (1, 0)
    assert second.renders[0].provenance["inputs"] == {"last": first.renders[0].sha256}
    session.undo()
    assert session.assets()["last"].sha256 == first.renders[0].sha256
    third = session.edit("make it blue")
    assert third.summary.parent == 1 and third.renders[0].parent == (1, 0)


def test_show_returns_the_plan_steps_timings_and_attachments(
    studio: Studio, tmp_path: Path
) -> None:
    session = studio.session()
    photo = image_file(tmp_path / "photo.png")
    turn = session.edit("new a scene with [dog]", {"dog": photo})
    shown = session.show(turn.summary.seq)
    assert shown == turn
    assert [s.tool for s in shown.steps] == ["plan", "check", "render"]
    assert shown.steps[0].result.startswith("[sub] dog")
    assert shown.steps[2].arguments == {"assets": {"dog": shown.attachments["dog"]}}
    assert {"plan_s", "render_s", "total_s"} <= set(shown.timings)
    assert shown.renders[0].provenance["preset"] == "flat"
    assert session.assets()["dog"].sha256 == shown.attachments["dog"]
    with Image.open(shown.renders[0].path) as image:
        assert image.size == (8, 8)


def test_a_crashing_render_leaves_a_failed_turn_and_no_orphan_files(
    studio: Studio, tmp_path: Path
) -> None:
    session = studio.session()
    session.edit("new a red ball")
    studio.renderer.failure = RuntimeError("the GPU caught fire")
    with pytest.raises(TurnFailed, match="caught fire") as raised:
        session.edit("add [dog]", {"dog": image_file(tmp_path / "dog.png")})
    failed = session.show(2)
    assert raised.value.turn == failed
    assert failed.summary.status == "failed" and "caught fire" in (failed.error or "")
    assert failed.renders == [] and failed.steps[-1].error is not None
    assert failed.attachments.keys() == {"dog"}  # what was attached is kept with the turn
    assert tree(session) == [(1, None, ">"), (2, 1, "")]  # the cursor did not move
    assert_no_orphans(studio)
    with pytest.raises(HistoryError, match="failed"):
        session.branch(2)


def test_a_cancelled_render_leaves_a_cancelled_turn(studio: Studio) -> None:
    session = studio.session()
    with pytest.raises(TurnFailed) as raised:
        session.edit("new a red ball", cancel=lambda: True)
    assert raised.value.cancelled and isinstance(raised.value.cause, CancelledError)
    assert [(t.status, t.outputs) for t in session.history()] == [("cancelled", 0)]
    assert stored_files(studio) == {}
    assert session.assets() == {}


def test_a_planner_error_stores_nothing(tmp_path: Path) -> None:
    def refusing_planner(text: str, _: dict) -> None:
        raise PlanParseError("cannot read that")

    with Studio(tmp_path / "data", planner=refusing_planner, renderer=flat_renderer) as studio:
        session = studio.session()
        with pytest.raises(PlanParseError):
            session.edit("???", {"dog": image_file(tmp_path / "dog.png")})
        assert studio.sessions() == [] and stored_files(studio) == {}  # not even the attachment


def test_a_failed_commit_removes_the_files_it_created(
    studio: Studio, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    session = studio.session()
    session.edit("new a red ball")
    before = set(stored_files(studio))

    def broken(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(turns_module, "_insert_steps_and_renders", broken)
    with pytest.raises(OSError, match="disk full"):
        session.edit("add [cat]", {"cat": image_file(tmp_path / "cat.png", (1, 2, 3))})
    assert set(stored_files(studio)) == before
    assert [t.seq for t in session.history()] == [1]
    assert_no_orphans(studio)


def test_garbage_collection_removes_only_old_unreferenced_files(studio: Studio) -> None:
    session = studio.session()
    kept = session.edit("new a red ball").renders[0].path
    orphan = studio.store.path("f" * 64, "png")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a killed process")
    assert studio.collect_garbage(grace_s=3600) == []  # too recent: maybe a turn in flight
    half_written = orphan.parent / ".tmp-123-abc"  # a process killed inside AssetStore.place
    half_written.write_bytes(b"half")
    old = time.time() - 7200
    for path in (orphan, kept, half_written):
        os.utime(path, (old, old))
    assert sorted(studio.collect_garbage(grace_s=3600)) == sorted([orphan, half_written])
    assert kept.exists()
    assert_no_orphans(studio)


def test_sessions_are_found_by_id_prefix_or_name_and_most_recent_first(studio: Studio) -> None:
    first = studio.new_session("first")
    first.ensure_stored()
    second = studio.new_session("second")
    second.ensure_stored()  # a new session is stored on first use; this is its first use
    first.edit("new a red ball")
    assert [s.name for s in studio.sessions()] == ["first", "second"]
    assert studio.session().id == first.id
    assert studio.session("second").id == second.id
    assert studio.session(second.id[:6]).id == second.id
    info = studio.sessions()[0]
    assert (info.turns, info.cursor) == (1, 1)
    with pytest.raises(Exception, match="no session 'nope'"):
        studio.session("nope", create=False)


def test_the_renderer_gets_only_the_files_the_plan_names(studio: Studio, tmp_path: Path) -> None:
    seen = studio.renderer.seen
    session = studio.session()
    session.attach("cat", image_file(tmp_path / "cat.png", (1, 1, 1)))
    session.edit("new a picture of [dog]", {"dog": image_file(tmp_path / "dog.png")})
    assert list(seen[0]) == ["dog"]
    assert seen[0]["dog"] == session.assets()["dog"].path
