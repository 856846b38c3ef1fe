"""The ``anypix`` command: thin typer commands over :mod:`anypix.studio`.

Heavy libraries (torch, diffusers, llama.cpp) are imported inside the commands that need them,
so ``anypix --help`` and a fast-path ``anypix plan`` start quickly. Results go to stdout (paths,
or JSON with ``--json``); what a person reads while it runs (the plan, progress, the
verification) goes to stderr, and ``--quiet`` silences it. Every error takes one path
(:class:`~anypix.cli.app.AnypixGroup`): one line on stderr, the error class's exit code.

The commands live by concern: :mod:`~anypix.cli.editing` (plan, edit, report, demo),
:mod:`~anypix.cli.frontends` (run, batch, chat, tui, serve), :mod:`~anypix.cli.memory` (sessions,
history, undo, redo, branch, export, import), :mod:`~anypix.cli.catalog` (tools, models, bench)
and :mod:`~anypix.cli.train`; :mod:`~anypix.cli.options` holds the options they share.
"""

from __future__ import annotations

# Importing a module registers its commands; --help lists them in this order.
# isort: off
from anypix.cli import editing, frontends, memory, catalog, train  # noqa: F401

# isort: on
from anypix.cli.app import app
from anypix.cli.catalog import benchmarks_dir


def main() -> None:
    import sys

    from anypix.cli import warm

    code: object = 0
    route = warm.route(sys.argv[1:])
    if route is not None and (forwarded := route.forward()) is not None:
        sys.exit(forwarded)  # this data dir's warm worker ran it
    try:
        app()
    except SystemExit as done:
        code = done.code
    finally:
        if route is not None:
            route.start()  # the next edit finds the model loaded
    _exit(code)


def _exit(code: object) -> None:
    """Exit with ``code``. After torch was imported, without the interpreter's teardown: freeing
    torch's and diffusers' modules took 1.5 s of a cold edit after its image was saved (the
    exit handlers still run, and the output is flushed, first)."""
    import atexit
    import contextlib
    import os
    import sys

    status = code if isinstance(code, int) else (0 if code is None else 1)
    if code is not None and not isinstance(code, int):
        sys.stderr.write(f"{code}\n")  # sys.exit("message") prints it
    if "torch" not in sys.modules:
        sys.exit(status)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (| head)
            stream.flush()
    os._exit(status)


__all__ = ["app", "benchmarks_dir", "main"]
