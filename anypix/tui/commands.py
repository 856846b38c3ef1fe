"""Slash commands typed in the instruction box: ``/attach NAME=PATH``, ``/undo``, ``/redo``,
``/branch N``, ``/help``. Anything not starting with ``/`` is an instruction."""

from __future__ import annotations

from dataclasses import dataclass

from anypix.errors import AnypixError

COMMANDS: dict[str, str] = {
    "attach": "/attach NAME=PATH   store a file under a name, then write [NAME] in instructions",
    "undo": "/undo               move back to the previous image (ctrl+z)",
    "redo": "/redo               go forward again after an undo (ctrl+y)",
    "branch": "/branch N           continue from turn N (0: from the start); the old branch stays",
    "help": "/help               this list",
}


@dataclass(frozen=True)
class Command:
    name: str
    argument: str


def parse_command(text: str) -> Command | None:
    """The command in ``text``, or None if it is an instruction. Raises AnypixError for an
    unknown command or a missing argument."""
    text = text.strip()
    if not text.startswith("/"):
        return None
    name, _, argument = text[1:].partition(" ")
    name, argument = name.lower(), argument.strip()
    if name not in COMMANDS:
        known = ", ".join(f"/{known}" for known in COMMANDS)
        raise AnypixError(f"there is no command /{name}", f"the commands are {known}")
    if name in ("attach", "branch") and not argument:
        raise AnypixError(f"/{name} needs an argument", f"write {COMMANDS[name].split('  ')[0]}")
    return Command(name, argument)


def branch_target(argument: str) -> int:
    """The turn number in ``/branch N``."""
    try:
        seq = int(argument.removeprefix("#"))
    except ValueError:
        seq = -1
    if seq < 0:
        raise AnypixError(
            f"{argument!r} is not a turn number", "write /branch 2 (see the history pane)"
        )
    return seq
