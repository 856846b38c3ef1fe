"""``anypix run FILE``: scripted instruction files, run resumably (the format: docs/scripts.md).

    session: tour
    assets: {scene: {miniworld: 11}, photo: photo.png}
    defaults: {seed: 1, steps: 4}
    steps:
      - add a yellow ring to [scene]
      - instruction: make the ring in [last] green
        expect: {outputs: 1, ops: [recolor]}

Each step is one turn of one session. ``OUT/manifest.json`` records every step as it finishes,
keyed by a hash of (step index, instruction, knobs, input asset hashes, model, the previous
step's key), so a rerun skips the steps whose key is unchanged and whose images are still there,
and an edited step reruns together with every step after it (they edit its output).

Exit codes a CI can use: 0 all ok, 1 a step failed (the rest stop; state saved), 2 a bad file or
usage, 3 a model that is not available, 130 interrupted (state saved).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from anypix.errors import (
    AnypixError,
    BackendError,
    CancelledError,
    ModelUnavailableError,
    NotAvailableError,
)
from anypix.plan import ASSET_NAME, Knobs

if TYPE_CHECKING:
    from rich.console import Console

    from anypix.plan import EditPlan
    from anypix.studio import Session, Studio

EXIT_OK, EXIT_STEP_FAILED, EXIT_BAD_FILE, EXIT_NO_MODEL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
UNAVAILABLE = (ModelUnavailableError, BackendError, NotAvailableError)
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class ScriptError(AnypixError):
    """A script file that cannot be read or does not follow the format (exit code 2)."""

    def __init__(self, file: Path, message: str, hint: str | None = None) -> None:
        super().__init__(f"{file}: {message}", hint or "see docs/scripts.md for the format")


# -- the file format ------------------------------------------------------------------------------


class MiniworldAsset(BaseModel):
    """An input image drawn from the procedural miniworld instead of read from a file, written
    as ``{miniworld: SEED}`` (a random scene) or ``{miniworld: {seed:, objects:, palette:,
    texture:, size:}}``; a palette or texture alone draws an empty styled background."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(default=0, ge=0, description="the scene's seed (same seed, same scene)")
    objects: tuple[int, int] = Field(default=(2, 3), description="(fewest, most) objects")
    palette: str | None = Field(default=None, description="a background palette, e.g. night")
    texture: str | None = Field(default=None, description="a background texture, e.g. stripes")
    size: int = Field(default=64, ge=8, le=1024, description="side in pixels")

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        if isinstance(value, dict) and set(value) == {"miniworld"}:
            inner = value["miniworld"]
            return {"seed": inner} if isinstance(inner, int) else inner
        raise ValueError("an asset is a file path, {miniworld: SEED} or {miniworld: {seed: ...}}")

    @field_validator("palette", "texture")
    @classmethod
    def _known(cls, value: str | None, info: ValidationInfo) -> str | None:
        from anypix.models.miniworld.data import PALETTES, TEXTURES

        known = PALETTES if info.field_name == "palette" else TEXTURES
        if value is not None and value not in known:
            raise ValueError(f"{value!r} is not a miniworld {info.field_name}: use one of "
                             f"{', '.join(known)}")  # fmt: skip
        return value

    def draw(self, path: Path) -> Path:
        from PIL import Image

        from anypix.models.miniworld.data import Scene, Style, random_scene, render

        if self.palette or self.texture:
            scene = Scene(self.seed, Style(self.palette or "mono", self.texture or "flat", 45, 0.2))
        else:
            scene = random_scene(self.seed, min_objects=self.objects[0],
                                 max_objects=self.objects[1])  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(render(scene, self.size)[0]).save(path)
        return path


class Expect(BaseModel):
    """What a step must produce; checked after it renders (a mismatch fails the step)."""

    model_config = ConfigDict(extra="forbid")

    outputs: int | None = Field(default=None, ge=0, description="number of images")
    ops: list[str] | None = Field(default=None, description="the plan's ops, in order")


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instruction: str = Field(min_length=1)
    knobs: dict[str, Any] = Field(default_factory=dict)
    expect: Expect | None = None

    @field_validator("instruction")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the instruction is empty")
        return value.strip()


class Script(BaseModel):
    """A parsed script file; ``folder`` is where relative asset paths start."""

    model_config = ConfigDict(extra="forbid")

    session: str | None = None
    assets: dict[str, Path | MiniworldAsset] = Field(default_factory=dict)
    defaults: dict[str, Any] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    source: Path = Field(default=Path("script.yaml"), exclude=True)

    @property
    def folder(self) -> Path:
        return self.source.parent

    def asset_path(self, spec: Path) -> Path:
        """A file asset's path: relative paths start at the script's folder."""
        spec = spec.expanduser()
        return spec if spec.is_absolute() else self.folder / spec

    @field_validator("steps", mode="before")
    @classmethod
    def _bare_strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"instruction": v} if isinstance(v, str) else v for v in value]
        return value

    def knobs(self, index: int, seed: int | None = None) -> dict[str, Any]:
        """Step ``index``'s knobs: defaults (their seed replaced by ``seed``), then the step's."""
        merged = {**self.defaults, **({"seed": seed} if seed is not None else {})}
        return {**merged, **self.steps[index].knobs}


def load_script(path: Path) -> Script:
    """Read a YAML (or JSON) file, or JSON lines (``.jsonl``: an optional header object with
    session/assets/defaults, then one step object a line). Raises :class:`ScriptError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError(path, "no such file", "check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(
            path, f"cannot read it: {exc}", "give a UTF-8 YAML or JSONL file"
        ) from None
    data = _json_lines(path, text) if path.suffix in (".jsonl", ".ndjson") else _yaml(path, text)
    if not isinstance(data, dict):
        raise ScriptError(path, "the top level must be a mapping with a steps: list")
    try:
        script = Script.model_validate({**data, "source": path})
    except ValidationError as exc:
        raise ScriptError(path, _first_problem(exc)) from None
    _check(path, script)
    return script


def _first_problem(exc: ValidationError) -> str:
    """The first error, where it is; a value that fits no form of a union (an asset that is
    neither a path nor a miniworld mapping) is named once with the forms' own messages."""
    # an unknown key first: "stepz" explains the "steps: Field required" that comes with it
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    where = [str(p) for p in errors[0]["loc"]]
    if len(where) >= 2 and where[0] == "assets":  # drop the union member's name
        where = where[:2]
        messages = [e["msg"] for e in errors if [str(p) for p in e["loc"][:2]] == where]
        return f"{'.'.join(where)}: {'; '.join(dict.fromkeys(messages))}"
    return f"{'.'.join(where)}: {errors[0]['msg']}"


def _yaml(path: Path, text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScriptError(path, f"{where}not valid YAML ({problem})") from None


def _json_lines(path: Path, text: str) -> dict[str, Any]:
    data: dict[str, Any] = {"steps": []}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ScriptError(path, f"line {number}: not valid JSON ({exc.msg})") from None
        if isinstance(row, dict) and "instruction" not in row and not data["steps"]:
            data.update(row)  # the header
        else:
            data["steps"].append(row)
    return data


def _check(path: Path, script: Script) -> None:
    """Names and knobs are checked before anything runs, so a typo never costs a render."""
    for name in script.assets:
        if not ASSET_NAME.match(name) or name == "last":
            raise ScriptError(path, f"assets: {name!r} cannot name an asset",
                              "use letters, digits, '_', '-' or '.' ('last' is the current image)")  # fmt: skip
    for index in range(len(script.steps)):
        try:
            Knobs.model_validate(script.knobs(index))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            knobs = ", ".join(Knobs.model_fields)
            raise ScriptError(path, f"step {index + 1}: knob {where}: {err['msg']}",
                              f"knobs are {knobs}") from None  # fmt: skip


# -- the manifest ---------------------------------------------------------------------------------


@dataclass
class StepState:
    """One step as the manifest records it."""

    index: int  # 1-based, as the user counts
    instruction: str
    key: str
    status: str = "pending"  # ok, failed, cancelled, pending
    turn: int | None = None  # the session's turn seq
    outputs: list[str] = field(default_factory=list)  # image files, relative to OUT
    tokens: str = ""
    seconds: float = 0.0
    error: str | None = None
    sha256: list[str] = field(default_factory=list)  # of each output, chained into the next key


@dataclass
class Manifest:
    file: str
    session: str | None = None
    model: str = ""
    steps: list[StepState] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        """The manifest at ``path``; None when there is none (or it is from another version)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise AnypixError(f"cannot read {path}: {exc}", "remove it to start over") from None
        if data.get("version") != MANIFEST_VERSION:
            return None
        steps = [StepState(**s) for s in data["steps"]]
        return cls(data["file"], data.get("session"), data.get("model", ""), steps)

    def save(self, path: Path) -> None:
        """Write atomically, so a kill mid-write leaves the previous manifest."""
        data = {"version": MANIFEST_VERSION, **asdict(self), "updated_at": time.time()}
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(partial, path)


def step_key(index: int, instruction: str, knobs: Mapping[str, Any], inputs: Mapping[str, str],
             model: str, previous: str) -> str:  # fmt: skip
    """What a step's result depends on; the previous key chains in the image it edits."""
    record = {"index": index, "instruction": instruction, "knobs": dict(knobs),
              "inputs": dict(sorted(inputs.items())), "model": model, "previous": previous}  # fmt: skip
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


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
