"""Brackets are the tool's own syntax: help, tables and errors print [name] as written, and text
from outside never sends control characters to the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import FAST_RENDER, cli, cli_process


def test_help_examples_keep_their_brackets() -> None:
    root = cli_process("--help")  # as a person's terminal gets it, through the real entry point
    assert root.exit_code == 0
    assert '"add [dog] to [photo] on the left"' in " ".join(root.stdout.split())
    plan = cli("plan", "--help")
    assert 'e.g. "add [dog] to [photo]"' in " ".join(plan.stdout.split())
    edit = cli("edit", "--help")
    assert '"add [dog] to [photo] on the left"' in " ".join(edit.stdout.split())
    assert "the instruction refers to as [NAME]" in " ".join(edit.stdout.split())


@pytest.mark.parametrize("command", ["plan", "edit", "run", "chat", "tui", "serve", "report"])
def test_every_front_door_explains_with_an_example(command: str) -> None:
    shown = cli(command, "--help")
    assert shown.exit_code == 0 and "Example: anypix" in shown.stdout


def test_tool_table_keeps_bracketed_names() -> None:
    from anypix.tools.registry import all_tools

    shown = " ".join(cli("tools").stdout.split())
    bracketed = [t for t in all_tools() if "[" in t.description]
    assert bracketed, "no tool description names a [token]: this test checks nothing"
    for tool in bracketed:
        words = " ".join(tool.description.split())
        first = words[: words.index("]") + 1].split()[-1]  # the first bracketed word, e.g. [base]
        assert first in shown, first


def test_error_lines_keep_brackets_and_hide_control_characters(images: dict[str, Path]) -> None:
    ran = cli("plan", "-a", f"photo={images['photo']}", "add [dog] to [photo]")
    assert ran.error_lines == [
        "error: [dog] is not in this session; this session has photo (attach it with --asset "
        "dog=PATH)"
    ]
    hostile = cli("history", "-s", "\x1b[2Jgone\x07")
    assert hostile.exit_code == 2 and "\x1b" not in hostile.stderr and "\x07" not in hostile.stderr
    assert "\\x1b[2Jgone\\x07" in hostile.stderr


def test_history_shows_instructions_as_written(images: dict[str, Path]) -> None:
    made = cli("edit", "--quiet", *FAST_RENDER, "-s", "odd", "-a", f"photo={images['photo']}",
               "make [photo] brighter \x1b[31mred\x1b[0m")  # fmt: skip
    assert made.exit_code == 0, made.stderr
    table = cli("history", "-s", "odd").stdout
    assert "make [photo] brighter \\x1b[31mred\\x1b[0m" in table and "\x1b" not in table


def test_json_output_escapes_control_characters_and_reads_back() -> None:
    import json

    from anypix.console import json_text

    value = {"name": "trip \x9b2J caf\u00e9 \u202egpj.exe", "steps": ["a\tb\nc"]}
    text = json_text(value)
    assert json.loads(text) == value
    assert "\x9b" not in text and "\u202e" not in text and "café" in text
    assert "\\u009b" in text and "\\u202e" in text
