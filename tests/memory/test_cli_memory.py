"""The memory commands: sessions, history, undo, redo, branch, export, import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from memory_fakes import fake_planner, flat_renderer
from typer.testing import CliRunner

from anypix.cli import app
from anypix.memory.history import HistoryError
from anypix.studio import Session, Studio

runner = CliRunner()


@pytest.fixture
def session() -> Session:
    with Studio(planner=fake_planner, renderer=flat_renderer) as studio:
        made = studio.new_session("garden")
        for text in ("new a rose", "make it red", "add a [bee]"):
            made.edit(text)
        return made


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def history_json(*args: str) -> dict:
    return json.loads(cli("history", "--json", *args))


def test_sessions_lists_sessions_with_their_turns(session: Session) -> None:
    listed = json.loads(cli("sessions", "--json"))
    assert [(s["id"], s["name"], s["turns"], s["cursor"]) for s in listed] == [
        (session.id, "garden", 3, 3)
    ]
    assert "garden" in cli("sessions")


def test_history_marks_the_cursor_and_undo_redo_branch_move_it(session: Session) -> None:
    shown = history_json("--session", "garden")
    assert shown["session"] == session.id
    assert [(t["seq"], t["parent"], t["current"]) for t in shown["turns"]] == [
        (1, None, False),
        (2, 1, False),
        (3, 2, True),
    ]
    assert "now at turn 2" in cli("undo")
    assert "now at turn 3" in cli("redo", "--session", session.id[:8])
    assert "now at turn 1" in cli("branch", "1")
    assert [t["current"] for t in history_json()["turns"]] == [True, False, False]
    table = cli("history")
    assert "make it red" in table and "add a [bee]" in table and ">" in table


def test_export_and_import_round_trip_through_the_cli(session: Session, tmp_path: Path) -> None:
    archive = tmp_path / "garden.zip"
    assert cli("export", "garden", str(archive)).strip() == str(archive)
    imported = json.loads(cli("import", "--json", str(archive)))
    new_id = imported["id"]
    assert (imported["name"], imported["turns"]) == ("garden (2)", 3)  # the name is taken
    assert new_id != session.id  # same data dir: imported beside the original
    original, copy = history_json("--session", session.id), history_json("--session", new_id)
    assert copy["turns"] == original["turns"]


def test_user_errors_are_one_line_messages(session: Session, tmp_path: Path) -> None:
    branched = runner.invoke(app, ["branch", "9"], catch_exceptions=False)
    assert branched.exit_code == HistoryError.exit_code == 2
    assert branched.stderr == "error: this session has no turn 9 (list its turns with: anypix history)\n"
    done = subprocess.run(
        [sys.executable, "-m", "anypix.cli", "import", str(tmp_path / "missing.zip")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: ") and "does not exist" in done.stderr
    assert "Traceback" not in done.stderr
