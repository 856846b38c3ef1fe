"""The history commands: ``sessions``, ``history``, ``undo``, ``redo``, ``branch``, ``export``
and ``import``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from anypix.cli.app import MAX_TURN, app, open_studio, print_json
from anypix.cli.options import JsonOption, SessionOption
from anypix.console import visible
from anypix.errors import UserError


@app.command()
def sessions(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List sessions, the most recently used first."""
    from dataclasses import asdict

    from rich.console import Console

    from anypix.console import sessions_table

    with open_studio(ctx) as studio:
        found = studio.sessions()
    if as_json:
        print_json([asdict(s) for s in found])
        return
    Console().print(sessions_table(found) if found else "no sessions yet: anypix edit starts one")


@app.command()
def history(ctx: typer.Context, session: SessionOption = None, as_json: JsonOption = False) -> None:
    """Show a session's turns as a tree: '>' marks the current turn, '*' the path to it."""
    from dataclasses import asdict

    from rich.console import Console

    from anypix.console import history_table

    with open_studio(ctx) as studio:
        current = studio.session(session, create=False)
        turns = current.history()
        outputs = {t.seq: [str(r.path) for r in current.show(t.seq).renders]
                   for t in turns if t.outputs}  # fmt: skip
        name = current.name
    if as_json:
        listed = [{**asdict(t), "outputs": outputs.get(t.seq, [])} for t in turns]
        print_json({"session": current.id, "name": name, "turns": listed})
        return
    title = f"session {name} ({current.id[:12]})"
    Console().print(history_table(turns, title) if turns else "no turns yet")


def _moved(label: str, seq: int | None) -> None:
    sys.stdout.write(f"{label}: now at turn {seq}\n" if seq else f"{label}: now at the start\n")


@app.command()
def undo(ctx: typer.Context, session: SessionOption = None) -> None:
    """Step back to the previous turn (the next edit continues from there)."""
    with open_studio(ctx) as studio:
        _moved("undo", studio.session(session, create=False).undo())


@app.command()
def redo(ctx: typer.Context, session: SessionOption = None) -> None:
    """Step forward again along the way the last undo came."""
    with open_studio(ctx) as studio:
        _moved("redo", studio.session(session, create=False).redo())


@app.command()
def branch(
    ctx: typer.Context,
    turn: Annotated[int, typer.Argument(help="Turn to continue from (0: the start).")],
    session: SessionOption = None,
) -> None:
    """Continue from an earlier turn; the next edit starts a new branch."""
    if not 0 <= turn <= MAX_TURN:
        raise UserError(f"turn {turn} is out of range", "give a turn number from anypix history "
                        "(0: the start)")  # fmt: skip
    with open_studio(ctx) as studio:
        _moved("branch", studio.session(session, create=False).branch(turn))


@app.command("export")
def export_session(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Session id, id prefix or name.")],
    file: Annotated[Path, typer.Argument(help="The archive to write (a .zip file).")],
) -> None:
    """Write a session (turns, plans, provenance and assets) to one archive.

    The archive is written beside FILE and renamed into place; FILE may be missing or a
    regular file (replaced), nothing else.
    """
    with open_studio(ctx) as studio:
        path = studio.session(session, create=False).export(file)
    sys.stdout.write(f"{visible(str(path))}\n")


@app.command("import")
def import_session(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="An archive written by anypix export.")],
    as_json: JsonOption = False,
) -> None:
    """Import a session archive into this data dir; says under which name and id it is stored
    (a name already in use gets a number: "holiday (2)")."""
    with open_studio(ctx) as studio:
        imported = studio.import_session(file)
        info = imported.info()
    if as_json:
        print_json({"id": info.id, "name": info.name, "turns": info.turns})
        return
    name = visible(info.name, newlines=False)
    sys.stdout.write(f"imported session '{name}' ({info.turns} turns), id {info.id}\n")
