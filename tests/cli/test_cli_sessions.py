"""Which session an edit lands in: a new one by default, --session NAME (created when new),
-c/--continue (the most recent); edits refused before they run leave nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import FAST_RENDER, cli, stored_files


def edit(*args: str) -> dict:
    ran = cli("edit", "--json", "--quiet", *FAST_RENDER, *args)
    assert ran.exit_code == 0, ran.stderr
    return json.loads(ran.stdout)


def sessions() -> list[dict]:
    return json.loads(cli("sessions", "--json").stdout)


def test_one_off_edits_start_sessions_and_continue_picks_the_last(images: dict[str, Path]) -> None:
    photo = f"photo={images['photo']}"
    first = edit("-a", photo, "make [photo] brighter")
    second = edit("-a", photo, "make [photo] darker")
    assert first["session"] != second["session"] and len(sessions()) == 2
    continued = edit("-c", "make [last] brighter")
    assert continued["session"] == second["session"] and continued["seq"] == 2
    assert continued["parent"] == 1  # it edits the current image of the session it continues


def test_session_by_name_is_created_when_new_then_reused(images: dict[str, Path]) -> None:
    first = edit("-s", "holiday", "-a", f"photo={images['photo']}", "make [photo] brighter")
    again = edit("--session", "holiday", "make [photo] darker")  # [photo] is known by now
    assert first["session"] == again["session"] and again["seq"] == 2
    assert [(s["name"], s["turns"]) for s in sessions()] == [("holiday", 2)]
    assert Path(first["files"][0]).name == "holiday-t1-restyle.png"


def test_choosing_a_session_twice_or_continuing_nothing_is_a_one_line_error() -> None:
    both = cli("edit", "-s", "a", "-c", "make [last] brighter")
    assert both.exit_code == 2 and both.error_lines == [
        "error: --session and --continue both choose a session (give one of them)"
    ]
    nothing = cli("edit", "-c", "make [last] brighter")
    assert nothing.exit_code == 2 and len(nothing.error_lines) == 1
    assert "no sessions yet" in nothing.stderr and sessions() == []


def test_an_edit_refused_before_it_runs_stores_no_session_and_no_file(
    images: dict[str, Path], tmp_path: Path, _isolated_settings: Path
) -> None:
    photo = f"photo={images['photo']}"
    not_an_image = tmp_path / "notes.png"
    not_an_image.write_text("hello, these are only words " * 10)
    for args, fragment in (
        (["-a", photo, "add [dog] to [photo]"], "[dog] is not in this session"),
        (["-s", "trip", "-a", photo, "   "], "the instruction is empty"),
        (["-s", "trip", "-a", f"photo={not_an_image}", "remove the cat from [photo]"],
         "neither an image nor audio"),
    ):  # fmt: skip
        ran = cli("edit", *FAST_RENDER, *args)
        assert ran.exit_code == 2 and len(ran.error_lines) == 1, ran.stderr
        assert fragment in ran.stderr
    assert sessions() == [] and stored_files(_isolated_settings) == []


def test_history_json_lists_each_turns_outputs(images: dict[str, Path]) -> None:
    made = edit("-s", "garden", "-n", "2", "-a", f"photo={images['photo']}", "make [photo] brighter")
    shown = json.loads(cli("history", "--json", "-s", "garden").stdout)
    assert shown["name"] == "garden" and shown["session"] == made["session"]
    (turn,) = shown["turns"]
    assert turn["outputs"] == made["outputs"] and len(turn["outputs"]) == 2
    assert all(Path(p).is_file() for p in turn["outputs"])


def test_a_name_two_sessions_share_is_an_error_that_lists_them(images: dict[str, Path]) -> None:
    made = [edit("-a", f"photo={images['photo']}", "make [photo] brighter") for _ in range(2)]
    ran = cli("history", "-s", "untitled")  # both one-off edits made an untitled session
    assert ran.exit_code == 2 and len(ran.error_lines) == 1
    assert "2 sessions are named 'untitled'" in ran.stderr
    assert all(turn["session"][:8] in ran.stderr for turn in made)
    assert cli("history", "-s", made[0]["session"]).exit_code == 0  # an id still says which
