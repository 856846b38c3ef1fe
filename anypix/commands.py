"""What chat and the TUI share about a conversation: the slash commands and a pending question.

A line that starts with ``/`` is a command (:func:`parse_command`), and so is a bare step through
the history ("undo", "go back", "redo"); anything else is an instruction. Both front ends offer
the same commands, listed once in :data:`COMMANDS`.

When the planner cannot tell what an instruction means it raises
:class:`~anypix.errors.ClarificationNeeded`; the front end shows the question and keeps a
:class:`PendingQuestion`. The person's next instruction line is the answer: it is appended to the
pending instruction in parentheses (a choice may be picked by its number), and the result is
planned as one instruction -- ``make it snowy`` + ``2`` -> ``make it snowy ([scene])``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from anypix.errors import (
    AnypixError,
    ClarificationNeeded,
    TurnFailed,
    UnknownAssetError,
    VerificationFailed,
)
from anypix.lexicon import history_step

Argument = Literal["none", "required", "optional"]
MAX_TURN_DIGITS = 9  # a turn number past this is a typo, and SQLite integers end at 2**63


@dataclass(frozen=True)
class CommandSpec:
    name: str
    usage: str  # e.g. "/attach NAME=PATH"
    summary: str
    argument: Argument = "none"


COMMANDS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in (
        CommandSpec("attach", "/attach NAME=PATH",
                    "attach a file; instructions then refer to it as [NAME] (a bare PATH is "
                    "named after the file)", "required"),
        CommandSpec("undo", "/undo", "step back to the previous turn"),
        CommandSpec("redo", "/redo", "step forward again after an undo"),
        CommandSpec("branch", "/branch N",
                    "continue from turn N (0: the start); the next edit starts a branch",
                    "required"),
        CommandSpec("show", "/show [N]",
                    "the history and the current images, or turn N's plan and outputs",
                    "optional"),
        CommandSpec("export", "/export PATH", "write this session to an archive (.zip)",
                    "required"),
        CommandSpec("help", "/help", "this list"),
        CommandSpec("quit", "/quit", "leave"),
    )
}  # fmt: skip
ALIASES = {"exit": "quit", "q": "quit"}


@dataclass(frozen=True)
class Command:
    name: str
    argument: str


def parse_command(text: str) -> Command | None:
    """The command in ``text``, or None if it is an instruction. Raises AnypixError for an
    unknown command, a missing argument or one given to a command that takes none. A bare step
    through the history ("undo", "go back") is that command (:func:`anypix.lexicon.history_step`)."""
    text = text.strip()
    step = history_step(text)
    if step is not None:
        return Command(step, "")
    if not text.startswith("/"):
        return None
    name, _, argument = text[1:].partition(" ")
    name, argument = name.lower(), argument.strip()
    name = ALIASES.get(name, name)
    spec = COMMANDS.get(name)
    if spec is None:
        known = ", ".join(f"/{known}" for known in COMMANDS)
        raise AnypixError(f"there is no command /{name}", f"the commands are {known}")
    if spec.argument == "required" and not argument:
        raise AnypixError(f"/{name} needs an argument", f"write {spec.usage}")
    if spec.argument == "none" and argument:
        raise AnypixError(f"/{name} takes no argument", f"write {spec.usage}")
    return Command(name, argument)


def turn_number(argument: str, usage: str) -> int:
    """The turn number in ``/branch N`` or ``/show N`` (``#2`` works too; 0 is the start)."""
    digits = argument.strip().removeprefix("#")
    if not digits.isdecimal() or len(digits) > MAX_TURN_DIGITS:
        raise AnypixError(
            f"{argument!r} is not a turn number", f"write {usage}, N from the history (0: the start)"
        )
    return int(digits)


def help_lines(keys: dict[str, str] | None = None) -> list[str]:
    """One line per command, aligned; ``keys`` adds a front end's key for a command
    (``{"undo": "ctrl+z"}``)."""
    width = max(len(spec.usage) for spec in COMMANDS.values()) + 2
    lines = []
    for spec in COMMANDS.values():
        key = f" ({keys[spec.name]})" if keys and spec.name in keys else ""
        lines.append(f"{spec.usage:<{width}}{spec.summary}{key}")
    return lines


def conversation_error(error: AnypixError) -> tuple[str, str | None]:
    """(message, hint) for an error shown in a conversation, where files are attached with
    ``/attach`` rather than the command line's ``--asset``."""
    cause = error.cause if isinstance(error, TurnFailed) else error
    if isinstance(cause, UnknownAssetError):
        return error.message, f"attach it with /attach {cause.name}=PATH"
    if isinstance(error, TurnFailed) and isinstance(cause, VerificationFailed):
        seq = error.turn.summary.seq  # its image is kept: the command line's flags do not apply
        return error.message, (f"say it again to draw it anew (new seeds), rephrase it, or "
                               f"continue from its image anyway: /branch {seq}")  # fmt: skip
    return error.message, error.hint


@dataclass(frozen=True)
class PendingQuestion:
    """An instruction the planner asked about, waiting for the person's answer."""

    instruction: str
    question: ClarificationNeeded

    def prompt(self) -> str:
        """The question and its numbered choices, as the person reads them."""
        choices = self.question.choices
        listed = "".join(f"\n  {n}. {choice}" for n, choice in enumerate(choices, 1))
        how = "a number or your own words" if choices else "your answer"
        return f"{self.question.question}{listed}\n(reply with {how})"

    def answer(self, reply: str) -> str:
        """The instruction to plan now: the pending one, with the reply (or the choice it picks
        by number or by name) appended in parentheses."""
        reply = reply.strip()
        choices = self.question.choices
        if reply.isdecimal() and len(reply) <= 3 and 1 <= int(reply) <= len(choices):
            chosen = choices[int(reply) - 1]
        else:
            bare = reply.strip("[]").lower()
            chosen = next((c for c in choices if c.strip("[]").lower() == bare), reply)
        return f"{self.instruction} ({chosen})"
