"""The scripted instruction file format: YAML or JSON lines, read into a :class:`Script`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from anypix.console import visible
from anypix.errors import ScriptError
from anypix.plan import ASSET_NAME, Knobs

NESTED_TOO_DEEP = "lists or mappings are nested too deeply to be a script"
NESTED_HINT = "a script is a mapping of session, assets, defaults and a flat list of steps"


# -- the file format ------------------------------------------------------------------------------


class DrawnAsset(BaseModel):
    """An input image a model family draws instead of a file: ``{FAMILY: SEED}`` (a sample
    scene) or ``{FAMILY: {seed: SEED, OPTION: VALUE...}}`` with the family's own drawing options
    (its ``draw_scene`` keywords; docs/scripts.md lists the built-in family's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: str
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="same seed, same scene")
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _unwrap(cls, value: Any) -> Any:
        drawing = _drawing_families()
        if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in drawing:
            ((family, inner),) = value.items()
            if isinstance(inner, dict):
                options = dict(inner)
                return {"family": family, "seed": options.pop("seed", 0), "options": options}
            return {"family": family, "seed": inner}
        forms = " or ".join(f"{{{name}: SEED}}" for name in drawing)
        raise ValueError(f"an asset is a file path, {forms}, or {{FAMILY: {{seed: ...}}}}")

    def draw(self, path: Path) -> Path:
        """Draw the image into ``path``; an option the family does not take, or a value out
        of its range, raises ValueError."""
        from anypix.models.registry import families

        draw_scene = families()[self.family].draw_scene
        assert draw_scene is not None  # only families that draw get past _unwrap
        try:
            return draw_scene(self.seed, path, **self.options)
        except (TypeError, OverflowError) as exc:  # an option it does not take, a wrong type
            raise ValueError(str(exc).split("() ", 1)[-1]) from None


def _drawing_families() -> list[str]:
    from anypix.models.registry import families

    return [name for name, family in families().items() if family.draw_scene is not None]


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
    assets: dict[str, Path | DrawnAsset] = Field(default_factory=dict)
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
    except RecursionError:  # nesting PyYAML could still read but validation cannot
        raise ScriptError(path, NESTED_TOO_DEEP, NESTED_HINT) from None
    _check(path, script)
    return script


def _first_problem(exc: ValidationError) -> str:
    """The first error, where it is; an asset that is neither a path nor a drawn image is
    explained by the drawn form's messages when it is a mapping, else by the path's."""
    # an unknown key first: "stepz" explains the "steps: Field required" that comes with it
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    where = [str(p) for p in errors[0]["loc"]]
    if len(where) >= 2 and where[0] == "assets":  # drop the union member's name
        where = where[:2]
        drawn = isinstance(errors[0]["input"], dict)
        messages = [": ".join([*map(str, e["loc"][3:]), e["msg"]]) for e in errors
                    if [str(p) for p in e["loc"][:2]] == where
                    and (len(e["loc"]) < 3 or ("DrawnAsset" in str(e["loc"][2])) == drawn)]  # fmt: skip
        return f"{'.'.join(where)}: {'; '.join(dict.fromkeys(messages))}"
    return f"{_place(errors[0]['loc'])}: {errors[0]['msg']}"


def _place(loc: tuple[int | str, ...]) -> str:
    """Where a problem is, counting steps from 1 as the run's output does: ``steps.0.knobs``
    is "step 1: knobs"."""
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        rest = ".".join(str(part) for part in loc[2:])
        return f"step {loc[1] + 1}" + (f": {rest}" if rest else "")
    return ".".join(str(part) for part in loc)


def _yaml(path: Path, text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ScriptError(path, NESTED_TOO_DEEP, NESTED_HINT) from None
    except yaml.MarkedYAMLError as exc:  # a syntax error at a place in the file
        mark = exc.problem_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = visible(exc.problem or str(exc), newlines=False)
        raise ScriptError(path, f"{where}not valid YAML ({problem})") from None
    except yaml.YAMLError as exc:  # e.g. a control character, which YAML does not allow
        first = visible(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise ScriptError(path, f"not valid YAML ({first})") from None


def _json_lines(path: Path, text: str) -> dict[str, Any]:
    data: dict[str, Any] = {"steps": []}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ScriptError(path, f"line {number}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise ScriptError(path, f"line {number}: {NESTED_TOO_DEEP}", NESTED_HINT) from None
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
    drawn = {name: spec for name, spec in script.assets.items() if isinstance(spec, DrawnAsset)}
    if drawn:
        with tempfile.TemporaryDirectory(prefix="anypix-script-") as folder:
            for name, spec in drawn.items():  # a small image each: the family checks its options
                try:
                    spec.draw(Path(folder) / f"{name}.png")
                except ValueError as exc:
                    raise ScriptError(path, f"assets.{name}: {visible(str(exc))}",
                                      f"see the {spec.family} options in docs/scripts.md") from None  # fmt: skip
    for index in range(len(script.steps)):
        try:
            Knobs.model_validate(script.knobs(index))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            knobs = ", ".join(Knobs.model_fields)
            raise ScriptError(path, f"step {index + 1}: knob {where}: {err['msg']}",
                              f"knobs are {knobs}") from None  # fmt: skip
