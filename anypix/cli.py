"""The ``anypix`` command: thin typer commands over :mod:`anypix.studio`.

Heavy libraries (torch, diffusers, llama.cpp) are imported inside the commands that need them,
so ``anypix --help`` and a fast-path ``anypix plan`` start quickly. Results go to stdout (paths,
or JSON with ``--json``); what a person reads while it runs (the plan, progress, the
verification) goes to stderr, and ``--quiet`` silences it.

Errors have one path: :class:`AnypixGroup` turns every :class:`~anypix.errors.AnypixError` (and
every usage error) into one line on stderr and the error class's exit code
(:mod:`anypix.console`). Help is printed as plain text, so ``[name]`` stays ``[name]``.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

try:  # typer carries its own copy of click since 0.2x
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # older typer uses click itself
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError  # type: ignore

from anypix.console import error_line, exit_code, visible
from anypix.errors import AnypixError, NotAvailableError, TurnFailed, UserError
from anypix.knobs import MAX_VARIATIONS, SIDE_RANGE, EditOptions, knob_range

if TYPE_CHECKING:
    from rich.console import Console

    from anypix.config import Settings
    from anypix.memory.history import TurnDetail
    from anypix.studio import Session, Studio

MAX_TURN = 10**9  # a turn number past this is a typo (and SQLite integers end at 2**63)


class AnypixGroup(TyperGroup):
    """The one place a command's error becomes a line on stderr and an exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:  # fmt: skip
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except TurnFailed as exc:
            if not isinstance(exc.cause, AnypixError | KeyboardInterrupt):
                raise exc.cause from None  # a bug in anypix: keep its traceback
            _fail(error_line(exc), exit_code(exc))
        except AnypixError as exc:
            _fail(error_line(exc), exit_code(exc))
        except (typer.Abort, KeyboardInterrupt):
            _fail("interrupted", 130)
        except NoArgsIsHelpError as exc:
            exc.show()  # the help, as asked for by giving no arguments
            sys.exit(0)
        except ClickException as exc:
            where = exc.ctx.command_path if isinstance(exc, UsageError) and exc.ctx else ""
            hint = f" (see {where} --help)" if where else ""
            _fail(f"error: {visible(exc.format_message(), newlines=False)}{hint}", exc.exit_code)
        sys.exit(code if isinstance(code, int) else 0)


def _fail(line: str, code: int) -> None:
    sys.stderr.write(line + "\n")
    sys.exit(code)


app = typer.Typer(
    name="anypix",
    cls=AnypixGroup,
    help="A local, agentic, multimodal image-editing assistant.\n\n"
    'Example: anypix edit --asset photo=photo.png --asset dog=dog.png "add [dog] to [photo] on '
    'the left"',
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: Rich markup would eat [name]
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _quiet_libraries() -> None:
    """Library warnings a person cannot act on stay off the terminal (transformers asking for
    torchvision, which must stay uninstalled here; deprecations inside diffusers...)."""
    import logging
    import os

    for variable in ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY"):
        os.environ.setdefault(variable, "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for library in ("transformers", "diffusers", "torch", "huggingface_hub", "accelerate"):
        logging.getLogger(library).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=rf"{library}(\.|$)")


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Where sessions and assets live (default: the user data dir)."
        ),
    ] = None,
) -> None:
    _quiet_libraries()
    ctx.obj = {"data_dir": data_dir}


def _overrides(ctx: typer.Context, **overrides: Any) -> dict[str, Any]:
    return {"data_dir": (ctx.obj or {}).get("data_dir"), **overrides}


def _settings(ctx: typer.Context, **overrides: Any) -> Settings:
    from anypix.config import load_settings

    return load_settings(**_overrides(ctx, **overrides))


def open_studio(ctx: typer.Context, **overrides: Any) -> Studio:
    """The studio the settings, ``--data-dir`` and a command's ``overrides`` describe."""
    from anypix.studio import Studio

    return Studio.from_settings(**_overrides(ctx, **overrides))


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _talk(quiet: bool = False) -> Console:
    """Where a command talks to the person while it works: stderr (stdout holds results)."""
    from rich.console import Console

    return Console(stderr=True, quiet=quiet, highlight=False)


# -- options shared by commands ------------------------------------------------------------------

AssetOption = Annotated[
    list[str] | None,
    typer.Option("--asset", "-a", metavar="NAME=PATH",
                 help="Attach a file under a name the instruction refers to as [NAME]. Repeatable."),
]  # fmt: skip
LlmOption = Annotated[
    str | None,
    typer.Option("--llm", help="Planner backend: auto (fast path, then SmolLM2), fast (grammar "
                 "only), smollm2, openai (ANYPIX_LLM_BASE_URL / ANYPIX_LLM_MODEL), fake."),
]  # fmt: skip
ModelOption = Annotated[
    str | None, typer.Option("--model", help="Image-model preset (anypix models lists them).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
SessionOption = Annotated[
    str | None,
    typer.Option("--session", "-s", help="Session id, id prefix or name (default: the most "
                 "recent)."),
]  # fmt: skip


def _described(name: str, extra: str = "") -> str:
    info = EditOptions.model_fields[name]
    return f"{(info.description or '').capitalize()}{extra}."


def _span(name: str) -> str:
    low, high = knob_range(name)
    return f" ({low} to {high})"


SeedOption = Annotated[int | None, typer.Option("--seed", help=_described("seed", _span("seed")))]
StepsOption = Annotated[
    int | None, typer.Option("--steps", help=_described("steps", _span("steps")))
]
GuidanceOption = Annotated[
    float | None, typer.Option("--guidance", help=_described("guidance", _span("guidance")))
]
StrengthOption = Annotated[
    float | None, typer.Option("--strength", help=_described("strength", " (0 to 1)"))
]
SizeOption = Annotated[
    str | None,
    typer.Option("--size", metavar="WxH",
                 help=_described("size", f" ({SIDE_RANGE[0]} to {SIDE_RANGE[1]} a side)")),
]  # fmt: skip
NegativeOption = Annotated[str | None, typer.Option("--negative", help=_described("negative"))]
VariationsOption = Annotated[
    int | None,
    typer.Option("--variations", "-n", help=_described("variations", f" (1 to {MAX_VARIATIONS})")),
]  # fmt: skip


def _instruction(text: str) -> str:
    from anypix.errors import EmptyInstructionError

    if not text.strip():
        raise EmptyInstructionError()
    return text.strip()


def _image_model(model: str | None) -> str | None:
    """``--model``, checked against the image-model presets (not the LLM or encoder ones)."""
    if model is None:
        return None
    from anypix.models.registry import presets

    names = [p.name for p in presets().values() if p.kind == "diffusion"]
    if model not in names:
        raise UserError(f"{model!r} is not an image-model preset", f"choose one of "
                        f"{', '.join(names)} (anypix models lists them)")  # fmt: skip
    return model


# -- planning and editing ------------------------------------------------------------------------


@app.command()
def plan(
    ctx: typer.Context,
    instruction: Annotated[str, typer.Argument(help='What to do, e.g. "add [dog] to [photo]".')],
    asset: AssetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as one JSON object.")] = False,
    llm: LlmOption = None,
    session: Annotated[
        str | None,
        typer.Option("--session", "-s",
                     help="Also let [refs] name this session's assets (id, prefix or name)."),
    ] = None,
    seed: SeedOption = None,
    steps: StepsOption = None,
    guidance: GuidanceOption = None,
    strength: StrengthOption = None,
    size: SizeOption = None,
    negative: NegativeOption = None,
) -> None:  # fmt: skip
    """Turn an instruction into an edit plan and print it (nothing is rendered or stored).

    Example: anypix plan -a photo=photo.png "remove the cat from [photo]"
    """
    text = _instruction(instruction)
    options = EditOptions.parse(dict(seed=seed, steps=steps, guidance=guidance, strength=strength,
                                     size=size, negative=negative), flags=True)  # fmt: skip
    with open_studio(ctx, llm=llm) as studio:
        target = studio.session(session, create=False) if session else studio.new_session()
        result = target.plan(text, asset or [], options=options)
    if as_json:
        _print_json(result.plan.contract())
    else:
        sys.stdout.write(result.plan.tokens() + "\n")


def _target(studio: Studio, session: str | None, continue_last: bool) -> Session:
    """The session an edit goes to: ``--session`` (created when new), ``-c`` (the most
    recent), or else a new one."""
    if session is not None and continue_last:
        raise UserError("--session and --continue both choose a session", "give one of them")
    if continue_last:
        return studio.session(None, create=False)
    return studio.session(session) if session is not None else studio.new_session()


def _edit_turn(target: Session, text: str, asset: list[str], options: EditOptions,
               talk: Console) -> TurnDetail:  # fmt: skip
    """Run the edit, showing the plan as soon as it exists and the render's progress."""
    from anypix.agent.steps import StepRecord
    from anypix.agent.turn import plan_of
    from anypix.console import cancel_on_interrupt, print_plan, render_progress

    def show_plan(step: StepRecord) -> None:
        if (made := plan_of(step)) is not None:
            print_plan(talk, made, located=step.tool == "locate")

    with cancel_on_interrupt() as cancel, render_progress(talk, "rendering") as (progress, _):
        return target.edit(text, asset, options=options, progress=progress, cancel=cancel,
                           on_step=show_plan)  # fmt: skip


def _save(target: Session, turn: TurnDetail, out: Path | None, data_dir: Path) -> list[Path]:
    """Readable copies of the outputs: under ``out`` if it is a folder (or ends with /), as
    ``out`` (then ``out-2``...) if it is a file name, else in ``<data dir>/outputs``."""
    import shutil

    if out is None or out.is_dir() or str(out).endswith(("/", "\\")):
        return target.save_outputs(turn, out or data_dir / "outputs")
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = []
    for index, render in enumerate(turn.renders):
        path = out if index == 0 else out.with_stem(f"{out.stem}-{index + 1}")
        shutil.copyfile(render.path, path)
        saved.append(path)
    return saved


@app.command()
def edit(
    ctx: typer.Context,
    instruction: Annotated[str, typer.Argument(help="What to do.")],
    asset: AssetOption = None,
    session: Annotated[
        str | None,
        typer.Option("--session", "-s",
                     help="Session id, id prefix or name; a new name starts a session so named."),
    ] = None,
    continue_last: Annotated[
        bool, typer.Option("--continue", "-c", help="Continue the most recent session.")
    ] = False,
    model: ModelOption = None,
    llm: LlmOption = None,
    seed: SeedOption = None,
    steps: StepsOption = None,
    guidance: GuidanceOption = None,
    strength: StrengthOption = None,
    size: SizeOption = None,
    negative: NegativeOption = None,
    variations: VariationsOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write the image(s) here: a file name, or a folder "
                     "(default: <data dir>/outputs, named session-turn-op)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the turn as one JSON object.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the output paths (or the JSON).")
    ] = False,
) -> None:  # fmt: skip
    """Plan, render and store one edit; prints the image file(s).

    Each edit starts a new session unless it names one (--session) or continues the most recent
    (-c). The plan and a progress bar appear on stderr while it runs.

    Example: anypix edit -a photo=photo.png -a dog=dog.png "add [dog] to [photo] on the left"

    Example: anypix edit -c "make [last] brighter" --strength 0.4 -n 2
    """
    text = _instruction(instruction)
    options = EditOptions.parse(dict(seed=seed, steps=steps, guidance=guidance, strength=strength,
                                     size=size, negative=negative, variations=variations),
                                flags=True)  # fmt: skip
    talk = _talk(quiet)
    with open_studio(ctx, model=_image_model(model), llm=llm) as studio:
        target = _target(studio, session, continue_last)
        turn = _edit_turn(target, text, asset or [], options, talk)
        saved = _save(target, turn, out, studio.data_dir)
        where = f"session {visible(target.name, newlines=False)} ({target.id[:8]})"
    seconds = turn.timings.get("total_s", 0.0)
    talk.print(f"{where}, turn {turn.summary.seq}: {len(saved)} image(s) in {seconds:.1f} s",
               style="green", markup=False)  # fmt: skip
    from anypix.console import verification_lines

    for line in verification_lines(turn):
        talk.print(line, markup=False)
    if as_json:
        _print_json({**turn.to_json(), "session": target.id, "files": [str(p) for p in saved]})
    else:
        sys.stdout.write("".join(f"{visible(str(p))}\n" for p in saved))


@app.command()
def report(
    ctx: typer.Context,
    session: Annotated[
        str | None, typer.Argument(help="Session id, id prefix or name (default: the most recent).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="The page to write (default: "
                                  "SESSION-report.html in the current folder).")
    ] = None,
) -> None:  # fmt: skip
    """Write a session as one self-contained HTML page: each turn's before and after images,
    its plan and verification. Opens nothing; prints the page's path.

    Example: anypix report holiday --out holiday.html
    """
    from anypix.report import write_report

    with open_studio(ctx) as studio:
        target = studio.session(session, create=False)
        page = write_report(target, out)
    sys.stdout.write(f"{visible(str(page))}\n")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's images and report.")] = Path(
        "out/demo"
    ),
) -> None:
    """Run the offline demo: plan a few instructions and render them."""
    from anypix.demo import run_demo

    run_demo(out)


# -- front ends -----------------------------------------------------------------------------------


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
    with open_studio(ctx, model=_image_model(model), llm=llm) as studio:
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
    settings = _settings(ctx, model=_image_model(model), llm=llm)
    run_batch_command(instruction, files, settings, _talk(), options=options, out=out,
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

    with open_studio(ctx, model=_image_model(model), llm=llm) as studio:
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
    run_tui(_settings(ctx), session)


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

    settings = _settings(ctx)
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


@app.command()
def tools(as_json: Annotated[bool, typer.Option("--json", help="OpenAI-style function schemas.")] = False) -> None:  # fmt: skip
    """List the tools the planner, the CLI and the MCP server share."""
    from anypix.tools.registry import all_tools

    found = all_tools()
    if as_json:
        _print_json([t.openai_schema() for t in found])
        return
    from rich.console import Console
    from rich.table import Table

    from anypix.console import markup_safe

    table = Table("tool", "description")
    for t in found:
        table.add_row(t.name, markup_safe(t.description))
    Console().print(table if found else "no tools are registered yet")


# -- models and benchmarks ------------------------------------------------------------------------


@app.command()
def models(ctx: typer.Context) -> None:
    """List the model presets and where each loads from."""
    from rich.console import Console
    from rich.table import Table

    from anypix.config import config_file
    from anypix.console import markup_safe
    from anypix.models.registry import local_path, presets

    settings = _settings(ctx)
    table = Table("preset", "kind", "source", "description", title="model presets")
    for preset in presets().values():
        local = local_path(preset.name, settings)
        source = f"{local} (local)" if local else preset.source
        table.add_row(markup_safe(preset.name), preset.kind, markup_safe(source),
                      markup_safe(preset.description))  # fmt: skip
    console = Console()
    console.print(table)
    console.print(
        f"Point a preset at a local directory with model_paths in {config_file()}, or let Hub "
        "presets download with ANYPIX_ALLOW_DOWNLOADS=1.",
        markup=False,
        highlight=False,
    )


def benchmarks_dir(package_root: Path | None = None, start: Path | None = None) -> Path:
    """benchmarks/ of the checkout anypix runs from (an editable install), else of the checkout
    ``start`` (the current folder) is in: the benchmarks are not part of the installed package."""
    import anypix

    package_root = package_root or Path(anypix.__file__).resolve().parent.parent
    start = (start or Path.cwd()).resolve()
    for folder in (package_root, start, *start.parents):
        if (folder / "benchmarks").is_dir() and (folder / "pyproject.toml").is_file():
            return folder / "benchmarks"
    raise UserError("the benchmarks are not here: they live in a checkout of the anypix "
                    "repository, not in the installed package",
                    "run anypix bench from inside a clone of the repository")  # fmt: skip


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="Benchmark to run: startup, engine, memory, ...")],
    as_json: JsonOption = False,
) -> None:
    """Run one of the benchmarks in a checkout's benchmarks/ folder and print its table."""
    import runpy

    folder = benchmarks_dir()
    script = folder / f"{name}.py"
    if not script.is_file():
        found = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
        raise UserError(
            f"no benchmark named {name!r}", f"choose one of {', '.join(found) or 'none'}"
        )
    sys.argv = [str(script), *(["--json"] if as_json else [])]
    runpy.run_path(str(script), run_name="__main__")


# -- memory: sessions, history, undo/redo/branch, export/import ------------------------------------


@app.command()
def sessions(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List sessions, the most recently used first."""
    from dataclasses import asdict

    from rich.console import Console

    from anypix.console import sessions_table

    with open_studio(ctx) as studio:
        found = studio.sessions()
    if as_json:
        _print_json([asdict(s) for s in found])
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
        _print_json({"session": current.id, "name": name, "turns": listed})
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
) -> None:
    """Import a session archive into this data dir; prints the new session's id."""
    with open_studio(ctx) as studio:
        imported = studio.import_session(file)
    sys.stdout.write(f"{imported.id}\n")


# -- training ---------------------------------------------------------------------------------------

train_app = typer.Typer(
    help="Train anypix's own models (CPU works; a GPU is faster).", no_args_is_help=True
)
app.add_typer(train_app, name="train")


@train_app.command("prior")
def train_prior_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for prior.pt (default: <data dir>/prior/synthetic-DIM)."),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="Pairs .npz (source, modality, score, target); default: synthetic pairs."
        ),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Total optimiser steps.")] = 3000,
    batch: Annotated[int, typer.Option(min=1)] = 256,
    lr: Annotated[float, typer.Option(min=0)] = 5e-4,
    dim: Annotated[
        int, typer.Option(min=2, help="Embedding size (MiniLM 384, ImageBind 1024).")
    ] = 384,
    width: Annotated[int, typer.Option(min=8)] = 256,
    layers: Annotated[int, typer.Option(min=1)] = 4,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda...")] = "auto",
    fresh: Annotated[bool, typer.Option("--fresh", help="Ignore an existing checkpoint.")] = False,
) -> None:
    """Train the refinement prior (text/audio embedding + score -> image embedding); resumes."""
    from anypix.models.prior import PriorConfig
    from anypix.models.prior_training import TrainPriorConfig, train_prior

    if data is not None and not data.exists():
        raise UserError(f"{data} does not exist", "give a .npz of pairs or leave --data out")
    folder = out or _settings(ctx).data_dir / "prior" / f"synthetic-{dim}"
    config = TrainPriorConfig(
        steps=steps,
        batch=batch,
        lr=lr,
        data=str(data) if data else None,
        device=device,
        checkpoint_every=max(1, min(500, steps // 4)),
    )
    heads = 4 if width % 4 == 0 else 1
    prior_config = PriorConfig(dim=dim, width=width, layers=layers, heads=heads)
    try:
        trained = train_prior(folder, config, prior_config, resume=not fresh, log=print)
    except ValueError as exc:  # a checkpoint or data file that does not fit this config
        raise UserError(str(exc), "use --fresh or another --out") from None
    sys.stdout.write(
        f"held-out L2 to the clean embedding: prior {trained.prior_l2:.4f}, "
        f"identity {trained.identity_l2:.4f}\ncheckpoint: {trained.checkpoint}\n"
    )


@train_app.command("miniworld")
def train_miniworld_command(
    ctx: typer.Context,
    run_dir: Annotated[
        Path, typer.Option("--run", help="Folder for checkpoints (resumes from it).")
    ] = Path("runs/miniworld"),
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the finished weights (default: <data dir>/models/miniworld)."
        ),
    ] = None,
    unet_steps: Annotated[int, typer.Option(min=1, help="Diffusion UNet steps.")] = 2700,
    binding_steps: Annotated[int, typer.Option(min=1, help="Binding encoder steps.")] = 1800,
    prior_steps: Annotated[int, typer.Option(min=1, help="Refinement prior steps.")] = 2000,
    batch: Annotated[int, typer.Option(min=1, help="Scenes per UNet step.")] = 32,
    threads: Annotated[int, typer.Option(min=0, help="CPU threads (0: torch's default).")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda...")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed for every stage's data and initial weights.")] = 0,
) -> None:
    """Train the miniworld models from scratch: binding encoder + prior, then the diffusion UNet.

    Every stage resumes from its checkpoint under --run (Ctrl-C saves one). When done, point
    anypix at the weights: ANYPIX_MODEL_PATHS__MINIWORLD=<out>. On CPU the recipe that made the
    shipped weights took about 1.5 hours on one CPU thread.
    """
    from anypix.models.miniworld.recipe import Recipe, train_miniworld

    weights = out or _settings(ctx).data_dir / "models" / "miniworld"
    recipe = Recipe(binding_steps=binding_steps, prior_steps=prior_steps, unet_steps=unet_steps,
                    unet_batch=batch, threads=threads, device=device, seed=seed)  # fmt: skip
    try:
        train_miniworld(run_dir, weights, recipe)
    except KeyboardInterrupt:
        raise UserError("training interrupted", f"run it again to resume from {run_dir}") from None
    sys.stdout.write(f"weights: {weights}\nuse them: ANYPIX_MODEL_PATHS__MINIWORLD={weights}\n")


# -- entry point ------------------------------------------------------------------------------------


def main() -> None:
    app()


if __name__ == "__main__":
    main()
