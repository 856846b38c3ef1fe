"""What a person may set for one edit, checked in one place.

The CLI's flags (``anypix edit``, ``plan`` and ``run``: ``--seed --steps --guidance --strength
--size --negative -n/--variations``), the MCP tools' input schema and the script runner all take
:class:`EditOptions`, so a value is range-checked the same way at every door and a bad one is a
one-line error naming the range::

    options = EditOptions.parse({"steps": 20, "strength": 0.4, "size": "512x384"}, flags=True)
    session.edit("make [photo] brighter", options=options)

The ranges are the plan's own (:class:`anypix.plan.Knobs`), read from its fields, so the two
cannot drift apart. ``strength`` is how much an edit may change its ``[base]``, as in
Automatic1111 and diffusers' img2img (0 keeps it, 1 starts from fresh noise): the plan's
``alpha`` is ``1 - strength``.
"""

from __future__ import annotations

from typing import Any

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from anypix.agent.correct import DEFAULT_ATTEMPTS
from anypix.errors import AnypixError
from anypix.plan import Knobs

SIDE_RANGE = (8, 4096)  # pixels a side: Knobs' size check
MAX_VARIATIONS = 16
MAX_NEGATIVE_CHARS = 1000
MAX_ATTEMPTS = 8  # renders one output may take to pass its checks


def knob_range(name: str) -> tuple[Any, Any]:
    """The inclusive range :class:`Knobs` allows for ``name``."""
    metadata = Knobs.model_fields[name].metadata
    low = next(m.ge for m in metadata if isinstance(m, Ge))
    high = next(m.le for m in metadata if isinstance(m, Le))
    return low, high


def _between(name: str) -> dict[str, Any]:
    low, high = knob_range(name)
    return {"ge": low, "le": high}


class EditOptions(BaseModel):
    """Knobs and the number of images for one edit; None leaves a knob to the plan and the
    model preset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int | None = Field(
        default=None, **_between("seed"), description="sampling seed (same seed, same image)"
    )
    steps: int | None = Field(default=None, **_between("steps"), description="denoising steps")
    guidance: float | None = Field(
        default=None, **_between("guidance"), description="classifier-free guidance scale"
    )
    strength: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="how much an edit may change its [base]: 0 keeps it, 1 starts from fresh "
        "noise (the plan's alpha is 1 - strength)",
    )
    size: tuple[int, int] | None = Field(
        default=None, description="output size WIDTHxHEIGHT in pixels, or one number for a square"
    )
    negative: str | None = Field(
        default=None,
        max_length=MAX_NEGATIVE_CHARS,
        description="what the image should not show (negative prompt)",
    )
    variations: int = Field(
        default=1, ge=1, le=MAX_VARIATIONS, description="images to make, each with the next seed"
    )
    verify: bool = Field(
        default=True,
        description="check each output with the model's perception and correct it (False: keep "
        "it as drawn, unchecked)",
    )
    attempts: int = Field(
        default=DEFAULT_ATTEMPTS, ge=1, le=MAX_ATTEMPTS,
        description="renders an output may take to pass its checks",
    )  # fmt: skip

    @field_validator("size", mode="before")
    @classmethod
    def _parse_size(cls, value: Any) -> Any:
        if isinstance(value, str):
            width, _, height = value.lower().partition("x")
            try:
                return (int(width), int(height or width))
            except ValueError:
                raise ValueError(f"{value!r} is not WIDTHxHEIGHT, e.g. 512x384") from None
        return value

    @field_validator("size", mode="after")
    @classmethod
    def _check_size(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        low, high = SIDE_RANGE
        if value is not None and not all(low <= side <= high for side in value):
            raise ValueError(f"{value[0]}x{value[1]} is out of range: {low} to {high} a side")
        return value

    @field_validator("negative", mode="after")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and any(ch in value for ch in "\r\n\x00"):
            raise ValueError("must be one line of text")
        return value

    @classmethod
    def parse(cls, values: dict[str, Any], *, flags: bool = False) -> EditOptions:
        """Validate ``values`` (None values are left out); a bad one raises an
        :class:`AnypixError` naming it (as ``--name`` with ``flags``) and its range."""
        given = {key: value for key, value in values.items() if value is not None}
        try:
            options = cls(**given)
        except ValidationError as exc:
            raise _one_line_error(exc, given, flags) from None
        return options

    def knobs(self) -> dict[str, Any]:
        """The plan knobs these options fix (for :class:`anypix.agent.protocol.KnobOverrides`)."""
        knobs: dict[str, Any] = {
            "seed": self.seed, "steps": self.steps, "guidance": self.guidance,
            "size": self.size, "negative": self.negative,
            "alpha": None if self.strength is None else round(1.0 - self.strength, 6),
        }  # fmt: skip
        return {name: value for name, value in knobs.items() if value is not None}


def _one_line_error(exc: ValidationError, given: dict[str, Any], flags: bool) -> AnypixError:
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else ""
    name = f"--{field}" if flags else field
    value = given.get(field)
    if err["type"] == "extra_forbidden":
        known = ", ".join(EditOptions.model_fields)
        return AnypixError(f"{name} is not an option", f"the options are {known}")
    metadata = EditOptions.model_fields[field].metadata
    low = next((m.ge for m in metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in metadata if isinstance(m, Le)), None)
    if err["type"] in ("greater_than_equal", "less_than_equal") and None not in (low, high):
        return AnypixError(f"{name} {value} is out of range", f"use {low} to {high}")
    message = str(err["msg"]).removeprefix("Value error, ")
    return AnypixError(f"{name} {value!r}: {message}", _hint(field, flags))


def _hint(field: str, flags: bool) -> str:
    info = EditOptions.model_fields.get(field)
    what = info.description if info is not None and info.description else "see --help"
    return f"{'--' if flags else ''}{field}: {what}"
