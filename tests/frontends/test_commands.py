"""The conversation rules chat and the TUI share (anypix/commands.py): one slash-command parser,
turn numbers, and how an answer joins the instruction the planner asked about."""

from __future__ import annotations

import pytest

from anypix.commands import (
    COMMANDS,
    Command,
    PendingQuestion,
    conversation_error,
    help_lines,
    parse_command,
    turn_number,
)
from anypix.errors import AnypixError, ClarificationNeeded, UnknownAssetError


@pytest.mark.parametrize(
    ("typed", "parsed"),
    [
        ("add [dog] to [photo]", None),  # an instruction
        ("/undo", Command("undo", "")),
        ("  /UNDO  ", Command("undo", "")),
        ("/attach dog=~/dog.png", Command("attach", "dog=~/dog.png")),
        ("/show", Command("show", "")),
        ("/show 3", Command("show", "3")),
        ("/q", Command("quit", "")),
        ("/exit", Command("quit", "")),
        # a step through the history typed without its slash is that command, not an edit
        ("undo", Command("undo", "")),
        ("oops, undo that", Command("undo", "")),
        ("go back", Command("undo", "")),
        ("Redo", Command("redo", "")),
        ("undo the ring", None),  # an edit of something called "the ring"
        ("go back to the beach", None),
    ],
)
def test_a_line_is_an_instruction_or_one_command(typed: str, parsed: Command | None) -> None:
    assert parse_command(typed) == parsed


@pytest.mark.parametrize(
    ("typed", "message", "hint"),
    [
        ("/frobnicate", "there is no command /frobnicate", "the commands are /attach"),
        ("/branch", "/branch needs an argument", "write /branch N"),
        ("/attach", "/attach needs an argument", "write /attach NAME=PATH"),
        ("/undo 3", "/undo takes no argument", "write /undo"),
    ],
)
def test_a_bad_command_says_what_to_write(typed: str, message: str, hint: str) -> None:
    with pytest.raises(AnypixError) as caught:
        parse_command(typed)
    assert caught.value.message == message and caught.value.hint is not None
    assert caught.value.hint.startswith(hint)


@pytest.mark.parametrize(("typed", "seq"), [("2", 2), ("#2", 2), ("0", 0), (" 17 ", 17)])
def test_turn_numbers(typed: str, seq: int) -> None:
    assert turn_number(typed, "/branch N") == seq


@pytest.mark.parametrize("typed", ["x", "-1", "2.5", "1" * 10, "10" + "0" * 29, "²"])
def test_what_is_not_a_turn_number_is_refused_in_one_line(typed: str) -> None:
    with pytest.raises(AnypixError, match="is not a turn number") as caught:
        turn_number(typed, "/branch N")
    assert caught.value.hint is not None and "/branch N" in caught.value.hint


def test_help_lists_every_command_once_with_the_front_ends_keys() -> None:
    lines = help_lines({"undo": "ctrl+z"})
    assert [line.split()[0] for line in lines] == [spec.usage.split()[0] for spec in
                                                   COMMANDS.values()]  # fmt: skip
    assert next(line for line in lines if line.startswith("/undo")).endswith("(ctrl+z)")
    assert not any(line.endswith(")") for line in help_lines() if line.startswith("/redo"))


def test_a_missing_name_is_attached_with_the_conversations_command() -> None:
    message, hint = conversation_error(UnknownAssetError("dog", ["photo"]))
    assert message == "[dog] is not in this session; this session has photo"
    assert hint == "attach it with /attach dog=PATH"  # not the command line's --asset


QUESTION = ClarificationNeeded("Which image should I make snowy?", ["[photo]", "[scene]"])


@pytest.mark.parametrize(
    ("reply", "instruction"),
    [
        ("2", "make it snowy ([scene])"),  # a choice by its number
        ("photo", "make it snowy ([photo])"),  # by its name, brackets optional
        ("[SCENE]", "make it snowy ([scene])"),
        ("3", "make it snowy (3)"),  # no third choice: the words as written
        ("the one with the lake", "make it snowy (the one with the lake)"),
    ],
)
def test_an_answer_joins_the_instruction_it_answers(reply: str, instruction: str) -> None:
    assert PendingQuestion("make it snowy", QUESTION).answer(reply) == instruction


def test_the_question_is_shown_with_numbered_choices() -> None:
    prompt = PendingQuestion("make it snowy", QUESTION).prompt()
    assert prompt.splitlines() == [
        "Which image should I make snowy?",
        "  1. [photo]",
        "  2. [scene]",
        "(reply with a number or your own words)",
    ]
