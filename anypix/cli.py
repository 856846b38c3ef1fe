"""The ``anypix`` command: thin typer commands over the core.

Heavy libraries (torch, diffusers, llama.cpp) are imported inside the commands that need them,
so ``anypix --help`` and a fast-path ``anypix plan`` start quickly. User errors
(:class:`anypix.errors.AnypixError`) are printed on one line without a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anypix.errors import AnypixError, EmptyInstructionError, NotAvailableError

if TYPE_CHECKING:
    from anypix.studio import Session, Studio

app = typer.Typer(
    name="anypix",
    help="A local, agentic, multimodal image-editing assistant.\n\n"
    'Example: anypix edit --asset photo=photo.png --asset dog=dog.png "add [dog] to [photo] on the left"',
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

AssetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--asset",
        "-a",
        metavar="NAME=PATH",
        help="Attach a file under a name the instruction refers to as [NAME]. Repeatable.",
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where sessions and assets live (default: the user data dir)."),
]


def _instruction(text: str) -> str:
    if not text.strip():
        raise EmptyInstructionError()
    return text.strip()


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


# -- planning and editing -------------------------------------------------------------------------

SessionOption = Annotated[
    str | None,
    typer.Option(
        "--session", "-s", help="Session id, id prefix or name (default: the most recent)."
    ),
]


def _studio():  # -> anypix.studio.Studio, imported lazily
    from anypix.studio import Studio

    return Studio()


LlmOption = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="Planner backend: auto (fast path, then SmolLM2), fast (grammar only), smollm2, "
        "openai (ANYPIX_LLM_BASE_URL / ANYPIX_LLM_MODEL), fake.",
    ),
]


@app.command()
def plan(
    instruction: Annotated[str, typer.Argument(help='What to do, e.g. "add [dog] to [photo]".')],
    asset: AssetOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan as one JSON object.")
    ] = False,
    llm: LlmOption = None,
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            "-s",
            help="Also let [refs] name this session's assets (id, prefix or name).",
        ),
    ] = None,
) -> None:
    """Turn an instruction into an edit plan and print it (nothing is rendered or stored)."""
    from anypix.agent.planner import planner_for
    from anypix.config import load_settings
    from anypix.media import parse_attachments

    text = _instruction(instruction)
    modalities = {n: a.modality for n, a in parse_attachments(asset or []).items()}
    if session is not None:
        with _studio() as studio:
            stored = studio.session(session, create=False).assets()
        modalities = {**{n: a.modality for n, a in stored.items()}, **modalities}
    planner = planner_for(load_settings(llm=llm))
    edit_plan = planner.plan(text, modalities).plan
    if as_json:
        _print_json(edit_plan.contract())
    else:
        sys.stdout.write(edit_plan.tokens() + "\n")


@app.command()
def edit(
    instruction: Annotated[str, typer.Argument(help="What to do.")],
    asset: AssetOption = None,
    model: Annotated[str | None, typer.Option("--model", help="Diffusion preset.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Sampling seed.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also copy the output here.")] = None,
    llm: LlmOption = None,
    session: SessionOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the turn as one JSON object.")
    ] = False,
) -> None:
    """Plan, render and store one edit; prints the output path(s)."""
    import os
    import shutil

    from anypix.agent.planner import SeededPlanner, planner_for
    from anypix.config import load_settings
    from anypix.studio import Studio

    text = _instruction(instruction)
    for name, value in (("ANYPIX_LLM", llm), ("ANYPIX_MODEL", model)):
        if value is not None:
            os.environ[name] = value  # the renderer reads the model preset through settings
    planner = planner_for(load_settings())
    with Studio(planner=planner if seed is None else SeededPlanner(planner, seed)) as studio:
        turn = studio.edit(text, asset or [], session=session)
    paths = [render.path for render in turn.renders]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        for index, path in enumerate(paths):
            target = out if index == 0 else out.with_name(f"{out.stem}_{index}{out.suffix}")
            shutil.copyfile(path, target)
            paths[index] = target
    if as_json:
        _print_json(
            {
                "seq": turn.summary.seq,
                "instruction": turn.summary.instruction,
                "plan": turn.plan,
                "outputs": [str(p) for p in paths],
                "provenance": [render.provenance for render in turn.renders],
                "steps": [
                    {"tool": s.tool, "seconds": s.seconds, "error": s.error} for s in turn.steps
                ],
            }
        )
    else:
        sys.stdout.write("".join(f"{p}\n" for p in paths))


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


ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="Diffusion preset (anypix models lists them)."),
]


def _chat_input(prompt: str) -> str:
    return input(prompt)  # builtins.input gets line editing from readline when it is there


@app.command()
def run(
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
    seed: Annotated[
        int | None, typer.Option("--seed", min=0, help="Replaces the seed in the file's defaults.")
    ] = None,
) -> None:
    """Run a script of instructions as one session, resumably (format: docs/scripts.md).

    OUT/manifest.json records each finished step; running again skips them and goes on where it
    stopped. Exit codes: 0 all ok, 1 a step failed, 2 a bad file, 3 a model is not available,
    130 interrupted.

    Example: anypix run examples/ten-steps.yaml --out out/ten --seed 1
    """
    from rich.console import Console

    from anypix.agent.planner import planner_for
    from anypix.config import load_settings
    from anypix.script import dry_run as plan_only
    from anypix.script import load_script, run_script

    script = load_script(file)
    settings = load_settings(model=model, llm=llm)
    planner = planner_for(settings)
    console = Console(highlight=False)
    if dry_run:
        raise typer.Exit(plan_only(script, planner, console, seed=seed))
    from anypix.studio import Studio
    from anypix.tools.preset import PresetRenderer

    renderer = PresetRenderer(settings)  # loads on the first step that renders
    folder = out or Path("out") / file.stem
    with Studio(planner=planner, renderer=renderer) as studio:
        result = run_script(script, studio, folder, console, model=settings.model, seed=seed)
    done = sum(step.status == "ok" for step in result.steps)
    console.print(
        f"{done}/{len(script.steps)} steps done ({len(result.skipped)} from before); "
        f"manifest: {result.manifest}"
    )
    if result.exit_code:
        step = result.steps[-1].index if result.steps else 0
        sys.stderr.write(f"error: step {step}: {result.message} (rerun to resume)\n")
    raise typer.Exit(result.exit_code)


def _chat_session(studio: Studio, ref: str | None) -> Session:
    """The session a chat continues: ``ref`` (a name not found starts a session so named)."""
    from anypix.memory.turns import SessionNotFoundError

    if ref is None:
        return studio.session()
    try:
        return studio.session(ref, create=False)
    except SessionNotFoundError:
        return studio.new_session(ref)


@app.command()
def chat(
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            "-s",
            help="Session id, prefix or name to continue; a new name starts a session "
            "(default: the most recent).",
        ),
    ] = None,
    model: ModelOption = None,
    llm: LlmOption = None,
) -> None:
    """A plain prompt loop: each line is an instruction, or a command.

    Commands: /attach NAME=PATH, /undo, /redo, /branch N, /show [N], /export PATH, /help, /quit.
    Ctrl-C cancels a render (not the chat); Ctrl-D leaves.

    Example: anypix chat --session holiday, then: /attach beach=beach.jpg, then:
    add a red umbrella to [beach]
    """
    from rich.console import Console

    from anypix.agent.planner import planner_for
    from anypix.chat import run_chat
    from anypix.config import load_settings
    from anypix.studio import Studio
    from anypix.tools.preset import PresetRenderer

    settings = load_settings(model=model, llm=llm)
    renderer = PresetRenderer(settings)
    with Studio(planner=planner_for(settings), renderer=renderer) as studio:
        run_chat(studio, _chat_session(studio, session), _chat_input, Console())


@app.command()
def tui(session: SessionOption = None) -> None:
    """The full-screen terminal UI: history, images, plans and a prompt in one screen.

    Example: anypix tui --session holiday
    """
    from anypix.config import load_settings

    try:
        from anypix.tui import run_tui
    except ImportError as exc:
        raise NotAvailableError(
            f"the terminal UI cannot start: {exc}", "use anypix chat, or reinstall anypix"
        ) from None
    run_tui(load_settings(), session)


@app.command()
def serve(
    http: Annotated[
        bool, typer.Option("--http", help="Serve over local HTTP instead of stdio.")
    ] = False,
    host: Annotated[str, typer.Option(help="Address to listen on (with --http).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port (with --http).")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="ANYPIX_SERVE_TOKEN",
            help="Bearer token HTTP clients must send (or set ANYPIX_SERVE_TOKEN; default: a "
            "new one, printed when the server starts).",
        ),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option(
            "--session",
            "-s",
            help="Session the tools act on; a new name creates it (default: the most recent).",
        ),
    ] = None,
    allow_dir: Annotated[
        list[Path] | None,
        typer.Option(
            "--allow-dir",
            help="With --http: a folder whose files clients may name by path (repeatable; "
            "default: the current folder). Other files must be sent as base64.",
        ),
    ] = None,
) -> None:
    """Serve anypix's tools to other agents over MCP (stdio by default, or local HTTP).

    Example (an MCP client config): command "anypix", args ["serve"].
    Example: anypix serve --http --port 8765 --token s3cret
    """
    from anypix.config import load_settings

    try:
        from anypix.api import server
    except ImportError as exc:
        raise NotAvailableError(
            f"the MCP server cannot start: {exc}", "reinstall anypix with its mcp dependency"
        ) from None
    settings = load_settings()
    if http:
        server.serve_http(settings, host=host, port=port, token=token, session=session,
                          file_roots=allow_dir or None)  # fmt: skip
    else:
        server.serve_stdio(settings, session=session)


@app.command()
def tools(
    as_json: Annotated[bool, typer.Option("--json", help="OpenAI-style function schemas.")] = False,
) -> None:
    """List the tools the planner, the CLI and the MCP server share."""
    from anypix.tools.registry import all_tools

    found = all_tools()
    if as_json:
        _print_json([t.openai_schema() for t in found])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("tool", "description")
    for t in found:
        table.add_row(t.name, t.description)
    Console().print(table if found else "no tools are registered yet")


# -- models and benchmarks ------------------------------------------------------------------------


@app.command()
def models() -> None:
    """List the model presets and where each loads from."""
    from rich.console import Console
    from rich.table import Table

    from anypix.config import config_file, load_settings
    from anypix.models.registry import PRESETS, local_path

    settings = load_settings()
    table = Table("preset", "kind", "source", "description", title="model presets")
    for preset in PRESETS.values():
        local = local_path(preset.name, settings)
        source = f"{local} (local)" if local else preset.source
        table.add_row(preset.name, preset.kind, source, preset.description)
    console = Console()
    console.print(table)
    console.print(f"Point a preset at a local directory with model_paths in {config_file()}.")


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="Benchmark to run: startup, engine, memory, ...")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run one of the benchmarks in benchmarks/ and print its table."""
    import runpy

    script = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    if not script.exists():
        found = sorted(p.stem for p in script.parent.glob("*.py") if not p.stem.startswith("_"))
        raise AnypixError(
            f"no benchmark named {name!r}", f"choose one of {', '.join(found) or 'none'}"
        )
    sys.argv = [str(script), *(["--json"] if as_json else [])]
    runpy.run_path(str(script), run_name="__main__")


# -- memory: sessions, history, undo/redo/branch, export/import ------------------------------------


def _when(timestamp: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


@app.command()
def sessions(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list.")] = False,
) -> None:
    """List sessions, the most recently used first."""
    from dataclasses import asdict

    with _studio() as studio:
        found = studio.sessions()
    if as_json:
        _print_json([asdict(s) for s in found])
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table("id", "name", "turns", "at turn", "last used")
    for s in found:
        row = (s.id[:12], escape(s.name), str(s.turns), str(s.cursor or "-"), _when(s.updated_at))
        table.add_row(*row)
    Console().print(table if found else "no sessions yet: anypix edit starts one")


@app.command()
def history(
    session: SessionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show a session's turns as a tree: '>' marks the current turn, '*' the path to it."""
    from dataclasses import asdict

    with _studio() as studio:
        current = studio.session(session, create=False)
        turns = current.history()
    if as_json:
        _print_json({"session": current.id, "turns": [asdict(t) for t in turns]})
        return
    from rich.console import Console
    from rich.markup import escape  # instructions are full of [names], which rich reads as markup
    from rich.table import Table

    title = f"session {current.id[:12]}"
    table = Table("", "turn", "from", "status", "images", "instruction", title=title)
    for t in turns:
        mark = ">" if t.current else "*" if t.on_path else ""
        parent = str(t.parent or "-")
        table.add_row(mark, str(t.seq), parent, t.status, str(t.outputs), escape(t.instruction))
    Console().print(table if turns else "no turns yet")


def _moved(label: str, seq: int | None) -> None:
    sys.stdout.write(f"{label}: now at turn {seq}\n" if seq else f"{label}: now at the start\n")


@app.command()
def undo(session: SessionOption = None) -> None:
    """Step back to the previous turn (the next edit continues from there)."""
    with _studio() as studio:
        _moved("undo", studio.session(session, create=False).undo())


@app.command()
def redo(session: SessionOption = None) -> None:
    """Step forward again along the way the last undo came."""
    with _studio() as studio:
        _moved("redo", studio.session(session, create=False).redo())


@app.command()
def branch(
    turn: Annotated[int, typer.Argument(help="Turn to continue from (0: the start).", min=0)],
    session: SessionOption = None,
) -> None:
    """Continue from an earlier turn; the next edit starts a new branch."""
    with _studio() as studio:
        _moved("branch", studio.session(session, create=False).branch(turn))


@app.command("export")
def export_session(
    session: Annotated[str, typer.Argument(help="Session id, id prefix or name.")],
    file: Annotated[Path, typer.Argument(help="The archive to write (a .zip file).")],
) -> None:
    """Write a session (turns, plans, provenance and assets) to one archive."""
    with _studio() as studio:
        path = studio.session(session, create=False).export(file)
    sys.stdout.write(f"{path}\n")


@app.command("import")
def import_session(
    file: Annotated[Path, typer.Argument(help="An archive written by anypix export.")],
) -> None:
    """Import a session archive into this data dir; prints the new session's id."""
    with _studio() as studio:
        imported = studio.import_session(file)
    sys.stdout.write(f"{imported.id}\n")


# -- training ---------------------------------------------------------------------------------------

train_app = typer.Typer(
    help="Train anypix's own models (CPU works; a GPU is faster).", no_args_is_help=True
)
app.add_typer(train_app, name="train")


@train_app.command("prior")
def train_prior_command(
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
    from anypix.config import load_settings
    from anypix.models.prior import PriorConfig
    from anypix.models.prior_training import TrainPriorConfig, train_prior

    if data is not None and not data.exists():
        raise AnypixError(f"{data} does not exist", "give a .npz of pairs or leave --data out")
    folder = out or load_settings().data_dir / "prior" / f"synthetic-{dim}"
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
        report = train_prior(folder, config, prior_config, resume=not fresh, log=print)
    except ValueError as exc:  # a checkpoint or data file that does not fit this config
        raise AnypixError(str(exc), "use --fresh or another --out") from None
    sys.stdout.write(
        f"held-out L2 to the clean embedding: prior {report.prior_l2:.4f}, "
        f"identity {report.identity_l2:.4f}\ncheckpoint: {report.checkpoint}\n"
    )


@train_app.command("miniworld")
def train_miniworld_command(
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
    from anypix.config import load_settings
    from anypix.models.miniworld.recipe import Recipe, train_miniworld

    weights = out or load_settings().data_dir / "models" / "miniworld"
    recipe = Recipe(binding_steps=binding_steps, prior_steps=prior_steps, unet_steps=unet_steps,
                    unet_batch=batch, threads=threads, device=device, seed=seed)  # fmt: skip
    try:
        train_miniworld(run_dir, weights, recipe)
    except KeyboardInterrupt:
        raise AnypixError(
            "training interrupted", f"run it again to resume from {run_dir}"
        ) from None
    sys.stdout.write(f"weights: {weights}\nuse them: ANYPIX_MODEL_PATHS__MINIWORLD={weights}\n")


# -- entry point ------------------------------------------------------------------------------------


@app.callback()
def _root(data_dir: DataDirOption = None) -> None:
    if data_dir is not None:
        import os

        os.environ["ANYPIX_DATA_DIR"] = str(data_dir)


def main() -> None:
    import os

    # transformers warns on every load that torchvision is missing; here it must stay missing
    # (only a CUDA build exists and it breaks diffusers), so the warning only adds noise.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        app()
    except AnypixError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
