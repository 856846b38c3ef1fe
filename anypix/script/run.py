"""Running a script: one turn per step in one session, resumable through the manifest; and the
dry run, which only plans."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.errors import (
    AnypixError,
    BackendError,
    CancelledError,
    ModelUnavailableError,
    NotAvailableError,
)
from anypix.plan import Knobs
from anypix.script.format import Expect, MiniworldAsset, Script, Step
from anypix.script.manifest import MANIFEST, Manifest, StepState, step_key

if TYPE_CHECKING:
    from rich.console import Console

    from anypix.plan import EditPlan
    from anypix.studio import Session, Studio

EXIT_OK, EXIT_STEP_FAILED, EXIT_BAD_FILE, EXIT_NO_MODEL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
UNAVAILABLE = (ModelUnavailableError, BackendError, NotAvailableError)


# -- knobs on every plan ----------------------------------------------------------------------------


class KnobPlanner:
    """Wraps a planner so every plan it makes samples with ``overrides`` (set before each step);
    it plans again with feedback exactly like the planner it wraps."""

    def __init__(self, inner: Any) -> None:
        self.inner = _planner_like(inner)
        self.overrides: dict[str, Any] = {}

    @property
    def backend(self) -> Any:
        return self.inner.backend

    def plan(self, instruction: str, assets: Mapping[str, str], feedback: str | None = None,
             references: Any = None) -> Any:  # fmt: skip
        planned = self.inner.plan(instruction, assets, feedback=feedback, references=references)
        plan: EditPlan = getattr(planned, "plan", planned)  # a PlanResult, or a bare EditPlan
        knobs = Knobs.model_validate({**plan.knobs.model_dump(), **self.overrides})
        plan = plan.model_copy(update={"knobs": knobs})
        return replace(planned, plan=plan) if hasattr(planned, "plan") else plan


def _planner_like(planner: Any) -> Any:
    """A Studio's planner as the executor takes it (see ``Session._planner``)."""
    from anypix.agent.executor import FunctionPlanner
    from anypix.studio import default_planner

    if planner is default_planner:
        from anypix.agent.planner import planner_for
        from anypix.config import load_settings

        return planner_for(load_settings())
    if hasattr(planner, "plan") and hasattr(planner, "backend"):
        return planner
    return FunctionPlanner(planner)


# -- running ----------------------------------------------------------------------------------------


@dataclass
class RunResult:
    exit_code: int
    steps: list[StepState]  # every step reached, in order (skipped ones as the manifest had them)
    rendered: list[int]  # 1-based indices rendered by this run
    skipped: list[int]  # 1-based indices taken from the manifest
    manifest: Path | None = None
    message: str = ""


def prepare_inputs(script: Script, out: Path) -> dict[str, Path]:
    """Every asset as a file: paths resolved from the script's folder (they must exist),
    miniworld assets drawn into ``OUT/inputs``."""
    from anypix.media import sniff

    files: dict[str, Path] = {}
    for name, spec in script.assets.items():
        if isinstance(spec, MiniworldAsset):
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
    planner = KnobPlanner(studio.planner)
    original, studio.planner = studio.planner, planner
    try:
        previous, cursor = "", 0
        for index, step in enumerate(script.steps, 1):
            knobs = script.knobs(index - 1, seed)
            key = step_key(index, step.instruction, knobs, hashes, model, previous)
            cached = done.get(index)
            if cached is not None and cached.key == key and _still_there(cached, out):
                manifest.steps.append(cached)
                result.skipped.append(index)
                console.print(f"step {index}/{len(script.steps)}: done before, skipped",
                              style="dim", highlight=False)  # fmt: skip
            else:
                planner.overrides = knobs
                state = StepState(index, step.instruction, key)
                manifest.steps.append(state)
                result.rendered.append(index)
                try:
                    code = _run_step(session, step, state, cursor, out, console, len(script.steps))
                finally:  # saved whatever happened, a bug's traceback included
                    manifest.save(manifest_path)
                if code != EXIT_OK:
                    result.exit_code, result.message = code, state.error or state.status
                    return result
                cached = state
            previous, cursor = f"{key}:{','.join(cached.sha256)}", cached.turn or 0
        manifest.save(manifest_path)
    except KeyboardInterrupt:  # between renders (a render's own Ctrl-C cancels it, above)
        manifest.save(manifest_path)
        result.exit_code, result.message = EXIT_INTERRUPTED, "interrupted"
    finally:
        studio.planner = original
    return result


def _open_session(
    studio: Studio, script: Script, old: Manifest | None, console: Console
) -> tuple[Session, bool]:
    """The manifest's session when it is still in this data dir (a resume), else a new one."""
    if old is not None and old.session is not None:
        try:
            return studio.session(old.session, create=False), True
        except AnypixError:
            console.print(f"the manifest's session {old.session[:12]} is not in this data dir; "
                          "starting over in a new session", style="yellow")  # fmt: skip
    return studio.new_session(script.session or script.source.stem), False


def _still_there(state: StepState, out: Path) -> bool:
    return state.status == "ok" and all((out / name).is_file() for name in state.outputs)


def _run_step(session: Session, step: Step, state: StepState, cursor: int, out: Path,
              console: Console, count: int) -> int:  # fmt: skip
    """Render one step from turn ``cursor`` (0: the start); fills ``state``, returns an exit
    code. Bugs in anypix (not AnypixError) are recorded and raised."""
    from anypix.chat import cancel_on_interrupt, plan_tokens, render_progress

    started = time.perf_counter()
    label = f"step {state.index}/{count}"
    try:
        session.branch(cursor)  # the image this step edits is the previous step's output
        with (
            cancel_on_interrupt() as cancel,
            render_progress(console, label) as (progress, _),
        ):
            turn = session.edit(step.instruction, progress=progress, cancel=cancel)
    except BaseException as exc:
        state.seconds = time.perf_counter() - started
        code = _exit_code(exc)
        state.status = "cancelled" if code == EXIT_INTERRUPTED else "failed"
        state.error = str(exc) or type(exc).__name__
        console.print(f"{label}: {state.status}: {state.error}", style="red", markup=False)
        if code is None:
            raise
        return code
    state.seconds = time.perf_counter() - started
    state.turn, state.tokens = turn.summary.seq, plan_tokens(turn)
    state.sha256 = [render.sha256 for render in turn.renders]
    for position, render in enumerate(turn.renders):
        target = out / f"step{state.index:02d}_{position}.png"
        shutil.copyfile(render.path, target)
        state.outputs.append(target.name)
    state.error = _unmet(step.expect, turn)
    state.status = "failed" if state.error else "ok"
    style = "red" if state.error else "green"
    console.print(f"{label}: {state.status}, {state.seconds:.1f} s: {', '.join(state.outputs)}"
                  + (f"\n  {state.error}" if state.error else ""), style=style, markup=False)  # fmt: skip
    console.print(state.tokens, style="dim", markup=False, highlight=False)
    return EXIT_STEP_FAILED if state.error else EXIT_OK


def _exit_code(exc: BaseException) -> int | None:
    """The exit code for a step that raised; None for a bug (it keeps its traceback)."""
    if isinstance(exc, CancelledError | KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, UNAVAILABLE):
        return EXIT_NO_MODEL
    if isinstance(exc, AnypixError):
        return EXIT_STEP_FAILED
    return None


def _unmet(expect: Expect | None, turn: Any) -> str | None:
    """Why a turn does not meet ``expect`` (None when it does)."""
    if expect is None:
        return None
    if expect.outputs is not None and len(turn.renders) != expect.outputs:
        return f"expected {expect.outputs} output(s), got {len(turn.renders)}"
    ops = [op["op"] for op in (turn.plan or {}).get("ops", [])]
    if expect.ops is not None and ops != expect.ops:
        return f"expected ops {expect.ops}, the plan has {ops}"
    return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- dry run ------------------------------------------------------------------------------------------


def dry_run(script: Script, planner: Any, console: Console, *, seed: int | None = None) -> int:
    """Plan every step and print the plans; nothing is rendered or stored. Returns an exit
    code (1 when a step cannot be planned or its plan's ops are not the expected ones)."""
    from anypix.media import sniff

    modalities = {
        name: "image" if isinstance(spec, MiniworldAsset) else sniff(script.asset_path(spec))[0]
        for name, spec in script.assets.items()
    }
    knob_planner = KnobPlanner(planner)
    for index, step in enumerate(script.steps, 1):
        knob_planner.overrides = script.knobs(index - 1, seed)
        console.print(f"step {index}/{len(script.steps)}: {step.instruction}", style="bold",
                      markup=False, highlight=False)  # fmt: skip
        try:
            plan = getattr(planned := knob_planner.plan(step.instruction, modalities), "plan",
                           planned)  # fmt: skip
        except AnypixError as exc:
            console.print(f"  cannot plan it: {exc}", style="red", markup=False)
            return EXIT_NO_MODEL if isinstance(exc, UNAVAILABLE) else EXIT_STEP_FAILED
        console.print(plan.tokens(), style="dim", markup=False, highlight=False)
        ops = [op.op for op in plan.ops]
        if step.expect is not None and step.expect.ops is not None and ops != step.expect.ops:
            console.print(f"  expected ops {step.expect.ops}, the plan has {ops}", style="red")
            return EXIT_STEP_FAILED
        modalities["last"] = "image"  # every step leaves a current image for the next one
    return EXIT_OK
