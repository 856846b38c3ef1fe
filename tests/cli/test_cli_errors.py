"""One error path: every user error from a command is one line (what was wrong, how to fix it)
on stderr and the error class's exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import FAST_RENDER, Ran, cli, cli_process

from anypix.cli import benchmarks_dir


def one_line(ran: Ran, code: int = 2) -> str:
    assert ran.exit_code == code, ran.stderr
    assert len(ran.error_lines) == 1 and ran.error_lines[0].startswith("error: "), ran.stderr
    assert "Traceback" not in ran.stderr
    return ran.stderr


def test_a_data_dir_that_is_a_file(tmp_path: Path) -> None:
    regular = tmp_path / "data"
    regular.write_text("not a folder")
    for command in (["sessions"], ["history"], ["plan", "make it so"]):
        assert "is not a folder" in one_line(cli_process("--data-dir", str(regular), *command))
    assert regular.read_text() == "not a folder"


def test_usage_mistakes_are_one_line_with_the_help_to_read() -> None:
    assert "(see anypix edit --help)" in one_line(cli("edit", "--bogus", "x"))
    assert "(see anypix plan --help)" in one_line(cli("plan"))


def test_model_choices_are_image_models_only() -> None:
    message = one_line(cli("edit", "--model", "minilm", "make [last] brighter"))
    assert "'minilm' is not an image-model preset" in message
    assert "miniworld" in message and "tiny-random" in message
    assert "smollm2" not in message and "vicuna" not in message


def test_numbers_that_cannot_be_turns() -> None:
    assert "turn 1000000000000000000000000000000 is out of range" in one_line(
        cli("branch", str(10**30))
    )
    assert "turn -1 is out of range" in one_line(cli("branch", "--", "-1"))
    assert "No such option: -1" in one_line(cli("branch", "-1"))  # read as an option: one line too


def test_export_refuses_anything_but_a_regular_file(images: dict[str, Path], tmp_path: Path) -> None:
    made = cli("edit", "--quiet", *FAST_RENDER, "-s", "kept", "-a", f"photo={images['photo']}",
               "make [photo] brighter")  # fmt: skip
    assert made.exit_code == 0, made.stderr
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert "is a folder, not a file" in one_line(cli("export", "kept", str(folder)))
    assert list(folder.iterdir()) == []
    assert "does not exist" in one_line(cli("export", "kept", str(tmp_path / "no" / "s.zip")))
    old = tmp_path / "old.zip"
    old.write_text("an older archive")
    assert cli("export", "kept", str(old)).exit_code == 0  # a regular file is replaced
    assert old.read_bytes()[:2] == b"PK"


def test_serve_with_an_empty_token() -> None:
    assert "the token is empty" in one_line(cli("serve", "--http", "--token", ""))


def test_benchmarks_are_found_in_a_checkout_only(tmp_path: Path) -> None:
    assert (benchmarks_dir() / "startup.py").is_file()  # this checkout, wherever the cwd is
    assert "startup" in one_line(cli("bench", "nope"))
    from anypix.errors import UserError

    elsewhere = tmp_path / "site-packages"
    elsewhere.mkdir()
    with pytest.raises(UserError, match="checkout of the anypix repository"):
        benchmarks_dir(package_root=elsewhere, start=tmp_path)
