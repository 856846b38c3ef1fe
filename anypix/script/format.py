"""The scripted instruction file format: YAML or JSON lines, read into a :class:`Script`."""

from __future__ import annotations

import json
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

from anypix.errors import ScriptError
from anypix.plan import ASSET_NAME, Knobs

if TYPE_CHECKING:
    pass


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
