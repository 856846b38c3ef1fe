"""The other front doors: ``anypix run`` (scripts), ``batch``, ``chat``, ``tui`` and ``serve``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from anypix.cli.app import app, image_model, open_studio, settings_for, talk_console
from anypix.cli.options import (
    AssetOption,
    GuidanceOption,
    LlmOption,
    ModelOption,
    NegativeOption,
    SeedOption,
    SessionOption,
    SizeOption,
    StepsOption,
    StrengthOption,
    VariationsOption,
)
from anypix.console import visible
from anypix.errors import NotAvailableError, UserError
from anypix.knobs import EditOptions


def _chat_input(prompt: str) -> str:
    return input(prompt)  # builtins.input gets line editing from readline when it is there


@app.command()
def run(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="A script file: YAML (.yaml/.yml/.json) or JSON lines (.jsonl).")
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the images and manifest.json (default: out/FILE-STEM)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only plan every step and print the plans.")
    ] = False,
    model: ModelOption = None,
    llm: LlmOption = None,
    seed: SeedOption = None,
    steps: StepsOption = None,
    guidance: GuidanceOption = None,
    strength: StrengthOption = None,
    size: SizeOption = None,
    negative: NegativeOption = None,
) -> None:
    """Run a script of instructions as one session, resumably (format: docs/scripts.md).

    OUT/manifest.json records each finished step; running again skips them and goes on where it
    stopped. Knob flags replace the file's defaults (a step's own knobs still win). Exit codes:
    0 all ok, 1 a step's result is not what the file expects, 2 a bad file or instruction, 3 a
    model is not available, 130 interrupted.

    Example: anypix run examples/ten-steps.yaml --out out/ten --seed 1
    """
    from rich.console import Console

    from anypix.script import dry_run as plan_only
    from anypix.script import load_script, run_script

    options = EditOptions.parse(dict(seed=seed, steps=steps, guidance=guidance, strength=strength,
                                     size=size, negative=negative), flags=True)  # fmt: skip
    script = load_script(file)
    knobs = {k: v for k, v in options.knobs().items() if k != "seed"}
    if knobs:
        script = script.model_copy(update={"defaults": {**script.defaults, **knobs}})
    console = Console(highlight=False)
    with open_studio(ctx, model=image_model(model), llm=llm) as studio:
        if dry_run:
            raise typer.Exit(plan_only(script, studio.planner, console, seed=options.seed))
        folder = out or Path("out") / file.stem
        result = run_script(script, studio, folder, console, model=studio.settings.model,
                            seed=options.seed)  # fmt: skip
    done = sum(step.status == "ok" for step in result.steps)
    console.print(f"{done}/{len(script.steps)} steps done ({len(result.skipped)} from before); "
                  f"manifest: {visible(str(result.manifest))}", markup=False)  # fmt: skip
    if result.exit_code:
        step = result.steps[-1].index if result.steps else 0
        hint = f" ({result.hint})" if result.hint else ""  # in the script's terms (run.py)
        sys.stderr.write(f"error: step {step}: {visible(result.message + hint, newlines=False)}\n")
    raise typer.Exit(result.exit_code)


@app.command()
def batch(
    ctx: typer.Context,
    instruction: Annotated[str, typer.Argument(help='What to do to each file, which it names in '
                                               'brackets: "make [photo] warmer".')],
    files: Annotated[list[Path], typer.Argument(help="The files to edit, one turn each.")],
    input_name: Annotated[
        str | None, typer.Option("--as", metavar="NAME", help="The [NAME] each file goes by "
                                 "(default: the instruction's one [name] no --asset gives).")
    ] = None,
    asset: AssetOption = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the outputs and batch.json.")
    ] = Path("out/batch"),
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Render workers: local processes, or "
                                 "Ray actors with --ray (default there: one per GPU, else per CPU).")
    ] = None,
    ray: Annotated[
        str | None, typer.Option("--ray", metavar="ADDRESS", help="Render on Ray actors: auto "
                                 "(a local Ray instance) or a cluster's address (anypix[ray]).")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Seconds one render may take.")
    ] = None,
    model: ModelOption = None,
    llm: LlmOption = None,
    seed: SeedOption = None,
    steps: StepsOption = None,
    guidance: GuidanceOption = None,
    strength: StrengthOption = None,
    size: SizeOption = None,
    negative: NegativeOption = None,
    variations: VariationsOption = None,
) -> None:  # fmt: skip
    """Edit many files with one instruction: a turn per file, each in its own session, in
    parallel on --workers or Ray, resumably (docs/batch.md).

    A rerun of the same command skips the files already done (by their content, the instruction
    and the knobs) and retries the rest. Exit codes: 0 all done, 1 some edits failed (the
    summary says why), 2 a bad instruction, file or flag, 3 no workers, 130 interrupted.

    Example: anypix batch "make [photo] warmer" photos/*.jpg --out out/warm --seed 1

    Example: anypix batch "add a yellow ring to [photo]" scenes/*.png --steps 4 --ray auto
    """
    from anypix.batch.command import batch as run_batch_command

    options = EditOptions.parse(dict(seed=seed, steps=steps, guidance=guidance, strength=strength,
                                     size=size, negative=negative, variations=variations),
                                flags=True)  # fmt: skip
    settings = settings_for(ctx, model=image_model(model), llm=llm)
    run_batch_command(instruction, files, settings, talk_console(), options=options, out=out,
                      input_name=input_name, assets=asset, workers=workers, ray=ray,
                      timeout_s=timeout)  # fmt: skip


@app.command()
def chat(
    ctx: typer.Context,
    session: Annotated[
        str | None,
        typer.Option("--session", "-s", help="Session id, prefix or name to continue; a new name "
                     "starts a session (default: the most recent)."),
    ] = None,
    model: ModelOption = None,
    llm: LlmOption = None,
) -> None:  # fmt: skip
    """A plain prompt loop: each line is an instruction, or a command.

    Commands: /attach NAME=PATH, /undo, /redo, /branch N, /show [N], /export PATH, /help, /quit.
    Ctrl-C cancels a render (not the chat); Ctrl-D leaves.

    Example: anypix chat --session holiday, then: /attach beach=beach.jpg, then: add a red
    umbrella to [beach]
    """
    from rich.console import Console

    from anypix.chat import run_chat

    with open_studio(ctx, model=image_model(model), llm=llm) as studio:
        run_chat(studio.session(session), _chat_input, Console())


@app.command()
def tui(ctx: typer.Context, session: SessionOption = None) -> None:
    """The full-screen terminal UI: history, images, plans and a prompt in one screen.

    Example: anypix tui --session holiday
    """
    try:
        from anypix.tui import run_tui
    except ImportError as exc:
        raise NotAvailableError(
            f"the terminal UI cannot start: {exc}", "use anypix chat, or reinstall anypix"
        ) from None
    run_tui(settings_for(ctx), session)


@app.command()
def serve(
    ctx: typer.Context,
    http: Annotated[bool, typer.Option("--http", help="Serve over local HTTP instead of stdio.")] = False,
    host: Annotated[str, typer.Option(help="Address to listen on (with --http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (with --http; 1 to 65535).")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(envvar="ANYPIX_SERVE_TOKEN",
                     help="Bearer token HTTP clients must send (or set ANYPIX_SERVE_TOKEN; "
                     "default: a new one, printed when the server starts)."),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option("--session", "-s", help="Session the tools act on; a new name creates it "
                     "(default: the most recent)."),
    ] = None,
    allow_dir: Annotated[
        list[Path] | None,
        typer.Option("--allow-dir", help="With --http: a folder whose files clients may name by "
                     "path (repeatable; default: the current folder). Other files must be sent "
                     "as base64."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", "-w", help="Render on this many workers (local "
                                 "processes, or Ray actors with --ray), so calls on different "
                                 "sessions run side by side.")
    ] = None,
    ray: Annotated[
        str | None, typer.Option("--ray", metavar="ADDRESS", help="Render on Ray actors: auto "
                                 "(a local Ray instance) or a cluster's address (anypix[ray]).")
    ] = None,
) -> None:  # fmt: skip
    """Serve anypix's tools to other agents over MCP (stdio by default, or local HTTP).

    Example (an MCP client config): command "anypix", args ["serve"].

    Example: anypix serve --http --port 8765 --token s3cret

    Example: anypix serve --http --workers 4   (renders of different sessions in parallel)
    """
    if not 1 <= port <= 65535:
        raise UserError(f"--port {port} is out of range", "use 1 to 65535")
    if token is not None and not token.strip():
        raise UserError("the token is empty", "give a non-empty --token, or leave it out for a "
                        "new one")  # fmt: skip
    try:
        from anypix.api import server
    except ImportError as exc:
        raise NotAvailableError(
            f"the MCP server cannot start: {exc}", "reinstall anypix with its mcp dependency"
        ) from None
    from functools import partial

    from anypix.batch.command import pool_studio, serving_pool

    settings = settings_for(ctx)
    pool = serving_pool(settings, workers=workers, ray=ray)  # None: render in this process
    opener = None if pool is None else partial(pool_studio, settings, pool)
    try:
        if http:
            server.serve_http(settings, host=host, port=port, token=token, session=session,
                              file_roots=allow_dir or None, open_studio=opener,
                              parallel=pool is not None)  # fmt: skip
        else:
            server.serve_stdio(settings, session=session, open_studio=opener,
                               parallel=pool is not None)  # fmt: skip
    finally:
        if pool is not None:
            pool.close()
