"""Running a script: one turn per step in one session, resumable through the manifest; and the
dry run, which only plans.

A step that fails stops the run with the error's own exit code (:mod:`anypix.errors`), and the
message and hint a person reads say what to change *in the script*: a missing name goes under
``assets:``, a step that missed its ``expect`` is edited; only a cancelled run or a model that is
not there yet is resumed by running the same command again.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from anypix.agent.protocol import KnobOverrides, as_planner
from anypix.console import visible
from anypix.errors import (
    AnypixError,
    CancelledError,
    ClarificationNeeded,
    ExpectationError,
    TurnFailed,
    UnavailableError,
    UnknownAssetError,
)
from anypix.script.format import DrawnAsset, Expect, Script, Step
from anypix.script.manifest import MANIFEST, Manifest, StepState, step_key

if TYPE_CHECKING:
    from rich.console import Console

    from anypix.agent.protocol import PlanFunction, PlannerBase
    from anypix.memory.history import TurnDetail
    from anypix.studio import Session, Studio

EXIT_OK = 0
EXIT_STEP_FAILED = ExpectationError.exit_code  # 1: a step ran but missed its expect
EXIT_BAD_FILE = AnypixError.exit_code  # 2: the file or an instruction needs fixing
EXIT_NO_MODEL = UnavailableError.exit_code  # 3: a model or LLM server is not there
EXIT_INTERRUPTED = CancelledError.exit_code  # 130


@dataclass
class RunResult:
    exit_code: int
    steps: list[StepState]  # every step reached, in order (skipped ones as the manifest had them)
    rendered: list[int]  # 1-based indices rendered by this run
    skipped: list[int]  # 1-based indices taken from the manifest
    manifest: Path | None = None
    message: str = ""  # what stopped the run (empty when it finished)
    hint: str | None = None  # what to do about it


def prepare_inputs(script: Script, out: Path) -> dict[str, Path]:
    """Every asset as a file: paths resolved from the script's folder (they must exist), drawn
    assets drawn by their model family into ``OUT/inputs``."""
    from anypix.media import sniff

    files: dict[str, Path] = {}
    for name, spec in script.assets.items():
        if isinstance(spec, DrawnAsset):
            files[name] = spec.draw(out / "inputs" / f"{name}.png")
            continue
        path = script.asset_path(spec)
        sniff(path)  # exists, and is an image or a sound
        files[name] = path
    return files


def run_script(
    script: Script,
    studio: Studio,
    out: Path,
    console: Console,
    *,
    model: str = "",
    seed: int | None = None,
) -> RunResult:
    """Run every step not already done (per ``OUT/manifest.json``) as a turn of one session;
    stops at the first step that fails or is interrupted, with the manifest saved."""
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    inputs = prepare_inputs(script, out)
    hashes = {name: _sha256(path) for name, path in inputs.items()}
    old = Manifest.load(manifest_path)
    session, resumed = _open_session(studio, script, old, console)
    for name, path in inputs.items():
        session.attach(name, path)
    done = {s.index: s for s in old.steps} if old is not None and resumed else {}
    manifest = Manifest(str(script.source), session.id, model)
    result = RunResult(EXIT_OK, manifest.steps, [], [], manifest_path)
    planner = KnobOverrides(studio.planner)
    count = len(script.steps)
    previous, cursor = "", 0
    try:
        for index, step in enumerate(script.steps, 1):
            knobs = script.knobs(index - 1, seed)
            key = step_key(index, step.instruction, knobs, hashes, model, previous)
            state = done.get(index)
            if state is not None and state.key == key and _still_there(state, out):
                manifest.steps.append(state)
                result.skipped.append(index)
                console.print(f"step {index}/{count}: done before, skipped", style="dim",
                              highlight=False, markup=False)  # fmt: skip
            else:
                planner.knobs = knobs
                state = StepState(index, step.instruction, key)
                manifest.steps.append(state)
                result.rendered.append(index)
                try:
                    stopped = _run_step(session, planner, step, state, cursor, out, console, count)
                finally:  # saved whatever happened, a bug's traceback included
                    manifest.save(manifest_path)
                if stopped is not None:
                    result.exit_code = stopped.exit_code
                    result.message, result.hint = _advice(stopped, state, script)
                    return result
            previous, cursor = f"{key}:{','.join(state.sha256)}", state.turn or 0
        manifest.save(manifest_path)
    except KeyboardInterrupt:  # between renders (a render's own Ctrl-C cancels it)
        manifest.save(manifest_path)
        result.exit_code, result.message = EXIT_INTERRUPTED, "interrupted"
        result.hint = "run the same command again to go on where it stopped"
    return result


def _open_session(
    studio: Studio, script: Script, old: Manifest | None, console: Console
) -> tuple[Session, bool]:
    """The manifest's session when it is still in this data dir (a resume), else a new one."""
    if old is not None and old.session is not None:
        try:
            return studio.session(old.session, create=False), True
        except AnypixError:
            console.print(f"the manifest's session {visible(old.session[:12])} is not in this "
                          "data dir; starting over in a new session", style="yellow",
                          markup=False)  # fmt: skip
    return studio.new_session(script.session or script.source.stem), False


def _still_there(state: StepState, out: Path) -> bool:
    return state.status == "ok" and all((out / name).is_file() for name in state.outputs)


def _run_step(session: Session, planner: PlannerBase, step: Step, state: StepState, cursor: int,
              out: Path, console: Console, count: int) -> AnypixError | None:  # fmt: skip
    """Render one step from turn ``cursor`` (0: the start) and fill ``state``; returns what
    stopped it (None when it is done). Bugs in anypix are recorded and raised."""
    from anypix.console import cancel_on_interrupt, render_progress

    started = time.perf_counter()
    label = f"step {state.index}/{count}"
    try:
        session.branch(cursor)  # the image this step edits is the previous step's output
        with cancel_on_interrupt() as cancel, render_progress(console, label) as (progress, _):
            turn = session.edit(step.instruction, planner=planner, progress=progress,
                                cancel=cancel)  # fmt: skip
    except BaseException as exc:
        stopped = _stopped(exc)
        if isinstance(stopped, TurnFailed):
            _keep(stopped.turn, state, out)
        return _failed(stopped, state, started, console, label)
    _keep(turn, state, out)
    try:
        _check(step.expect, turn)
    except ExpectationError as unmet:
        return _failed(unmet, state, started, console, label)
    state.seconds = time.perf_counter() - started
    state.status = "ok"
    console.print(f"{label}: ok, {state.seconds:.1f} s: {', '.join(state.outputs)}",
                  style="green", markup=False, highlight=False)  # fmt: skip
    console.print(visible(state.tokens), style="dim", markup=False, highlight=False)
    return None


def _failed(stopped: AnypixError, state: StepState, started: float, console: Console,
            label: str) -> AnypixError:  # fmt: skip
    state.seconds = time.perf_counter() - started
    state.status = "cancelled" if stopped.exit_code == EXIT_INTERRUPTED else "failed"
    state.error = stopped.message
    console.print(f"{label}: {state.status}: {visible(state.error, newlines=False)}", style="red",
                  markup=False, highlight=False, soft_wrap=True)  # fmt: skip
    return stopped


def _stopped(exc: BaseException) -> AnypixError:
    """What ended a step, as an error with an exit code; a bug in anypix is raised again."""
    if isinstance(exc, KeyboardInterrupt):
        return CancelledError("interrupted")
    if isinstance(exc, TurnFailed) and not isinstance(exc.cause, AnypixError | KeyboardInterrupt):
        raise exc.cause  # stored as failed; the bug keeps its own traceback
    if not isinstance(exc, AnypixError):
        raise exc
    return exc


def _keep(turn: TurnDetail, state: StepState, out: Path) -> None:
    """Record a stored turn in the step's state and copy its images into ``out``."""
    from anypix.plan import EditPlan

    state.turn = turn.summary.seq
    state.tokens = EditPlan.model_validate(turn.plan).tokens() if turn.plan else ""
    state.sha256 = [render.sha256 for render in turn.renders]
    state.outputs = []
    for position, render in enumerate(turn.renders):
        target = out / f"step{state.index:02d}_{position}.png"
        shutil.copyfile(render.path, target)
        state.outputs.append(target.name)


def _check(expect: Expect | None, turn: TurnDetail) -> None:
    """Raise :class:`ExpectationError` when a turn does not meet ``expect``."""
    if expect is None:
        return
    if expect.outputs is not None and len(turn.renders) != expect.outputs:
        raise ExpectationError(f"expected {expect.outputs} output(s), got {len(turn.renders)}")
    ops = [op["op"] for op in (turn.plan or {}).get("ops", [])]
    if expect.ops is not None and ops != expect.ops:
        raise ExpectationError(f"expected ops {expect.ops}, the plan has {ops}")


def _advice(stopped: AnypixError, state: StepState, script: Script) -> tuple[str, str | None]:
    """(message, hint) for the step that stopped the run, in the script's terms: what to change
    in the file, and whether running the same command again is what resumes it."""
    cause = stopped.cause if isinstance(stopped, TurnFailed) else stopped
    where = f"step {state.index} of {script.source}"
    if isinstance(cause, CancelledError | KeyboardInterrupt):
        return stopped.message, "run the same command again to go on from this step"
    if isinstance(cause, UnavailableError):
        then = "then run the same command again to go on from this step"
        return stopped.message, f"{cause.hint}; {then}" if cause.hint else then
    if isinstance(cause, UnknownAssetError):
        return stopped.message, f"add {cause.name}: PATH under assets: in {script.source}"
    if isinstance(cause, ClarificationNeeded):
        choices = f": one of {', '.join(cause.choices)}" if cause.choices else ""
        return f"the planner asks: {cause.question}", f"say which in {where}{choices}"
    if isinstance(cause, ExpectationError):
        return stopped.message, f"change the instruction or the expect: of {where}"
    edit = f"edit {where}; a rerun starts there"
    return stopped.message, f"{stopped.hint}; {edit}" if stopped.hint else edit


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- dry run ------------------------------------------------------------------------------------------


def dry_run(
    script: Script, planner: PlannerBase | PlanFunction, console: Console, *,
    seed: int | None = None,
) -> int:  # fmt: skip
    """Plan every step and print the plans; nothing is rendered or stored. Returns an exit
    code: the error's when a step cannot be planned, 1 when a plan's ops are not the expected
    ones."""
    from anypix.agent.references import References
    from anypix.console import error_line
    from anypix.media import sniff

    modalities = {
        name: "image" if isinstance(spec, DrawnAsset) else sniff(script.asset_path(spec))[0]
        for name, spec in script.assets.items()
    }
    knob_planner = KnobOverrides(as_planner(planner))
    # The assets are the session's, as in a run (attached before the first step), not
    # attachments of each step's turn.
    references = References()
    for index, step in enumerate(script.steps, 1):
        knob_planner.knobs = script.knobs(index - 1, seed)
        console.print(f"step {index}/{len(script.steps)}: {visible(step.instruction)}",
                      style="bold", markup=False, highlight=False)  # fmt: skip
        try:
            plan = knob_planner.plan(step.instruction, modalities, references=references).plan
        except AnypixError as exc:
            message, hint = _advice(exc, StepState(index, step.instruction, ""), script)
            shown = AnypixError(f"cannot plan it: {message}", hint)
            console.print("  " + error_line(shown), style="red", markup=False, highlight=False,
                          soft_wrap=True)  # fmt: skip
            return exc.exit_code
        console.print(visible(plan.tokens()), style="dim", markup=False, highlight=False)
        ops = [op.op for op in plan.ops]
        if step.expect is not None and step.expect.ops is not None and ops != step.expect.ops:
            console.print(f"  expected ops {step.expect.ops}, the plan has {ops}", style="red",
                          markup=False, highlight=False)  # fmt: skip
            return EXIT_STEP_FAILED
        modalities["last"] = "image"  # every step leaves a current image for the next one
    return EXIT_OK


__all__ = [
    "EXIT_BAD_FILE", "EXIT_INTERRUPTED", "EXIT_NO_MODEL", "EXIT_OK", "EXIT_STEP_FAILED",
    "RunResult", "dry_run", "prepare_inputs", "run_script",
]  # fmt: skip
