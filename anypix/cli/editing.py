"""``anypix plan``, ``edit``, ``report`` and ``demo``: planning and editing from the shell."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from anypix.cli.app import app, image_model, instruction_text, open_studio, print_json, talk_console
from anypix.cli.options import (
    AssetOption,
    AttemptsOption,
    GuidanceOption,
    LlmOption,
    ModelOption,
    NegativeOption,
    SeedOption,
    SizeOption,
    StepsOption,
    StrengthOption,
    VariationsOption,
    VerifyOption,
)
from anypix.console import visible
from anypix.errors import UserError
from anypix.knobs import EditOptions

if TYPE_CHECKING:
    from rich.console import Console

    from anypix.memory.history import TurnDetail
    from anypix.studio import Session, Studio


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
    text = instruction_text(instruction)
    options = EditOptions.parse(dict(seed=seed, steps=steps, guidance=guidance, strength=strength,
                                     size=size, negative=negative), flags=True)  # fmt: skip
    with open_studio(ctx, llm=llm) as studio:
        target = studio.session(session, create=False) if session else studio.new_session()
        result = target.plan(text, asset or [], options=options)
    if as_json:
        print_json(result.plan.contract())
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
    from anypix.console import (
        cancel_on_interrupt,
        print_notice,
        print_plan,
        render_progress,
        verification_line,
    )

    def show_plan(step: StepRecord) -> None:
        print_notice(talk, step)
        if (made := plan_of(step)) is not None:
            print_plan(talk, made, located=step.tool == "locate")
        if (checked := verification_line(step)) is not None:  # each attempt's checks, as they come
            talk.print(checked, markup=False)

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
    verify: VerifyOption = True,
    attempts: AttemptsOption = None,
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
    text = instruction_text(instruction)
    options = EditOptions.parse(dict(seed=seed, steps=steps, guidance=guidance, strength=strength,
                                     size=size, negative=negative, variations=variations,
                                     verify=verify, attempts=attempts), flags=True)  # fmt: skip
    talk = talk_console(quiet)
    with open_studio(ctx, model=image_model(model), llm=llm) as studio:
        target = _target(studio, session, continue_last)
        turn = _edit_turn(target, text, asset or [], options, talk)
        saved = _save(target, turn, out, studio.data_dir)
        where = f"session {visible(target.name, newlines=False)} ({target.id[:8]})"
    seconds = turn.timings.get("total_s", 0.0)
    talk.print(f"{where}, turn {turn.summary.seq}: {len(saved)} image(s) in {seconds:.1f} s",
               style="green", markup=False)  # fmt: skip
    if as_json:
        print_json({**turn.to_json(), "session": target.id, "files": [str(p) for p in saved]})
    else:
        sys.stdout.write("".join(f"{visible(str(p))}\n" for p in saved))


@app.command()
def worker(
    ctx: typer.Context,
    action: Annotated[str, typer.Argument(help="status or stop.")] = "status",
) -> None:
    """Show or stop the warm worker: after an edit, a process keeps the model loaded so the
    next 'anypix edit' of the same data dir starts at once. It quits by itself after
    warm_idle_s seconds without an edit (ANYPIX_WARM_IDLE_S; 0: never start one).

    Example: anypix worker stop
    """
    from anypix.cli import warm
    from anypix.cli.app import settings_for

    if action not in ("status", "stop"):
        raise UserError(f"unknown action {action!r}", "use 'anypix worker status' or 'stop'")
    settings = settings_for(ctx)
    pid = warm.stop(settings.data_dir) if action == "stop" else warm.status(settings.data_dir)
    if pid is None:
        sys.stdout.write(f"no warm worker for {visible(str(settings.data_dir))}\n")
        return
    done = "stopped" if action == "stop" else f"keeps edits warm for {settings.warm_idle_s:g} s idle"
    log = warm.socket_path(settings.data_dir).with_suffix(".log")
    sys.stdout.write(f"worker {pid} {done} (log: {visible(str(log))})\n")


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
