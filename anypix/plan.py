"""The plan language: what the planner produces and the renderer consumes.

An :class:`EditPlan` is InstructAny2Pix's ``[base]/[sub]/[gen]`` triple plus a BlobGEN blob layout,
GLIGEN boxes, an optional style reference, a list of typed ops and the sampling knobs. It has two
text forms that round-trip exactly:

* the **token form** (``EditPlan.tokens()`` / ``EditPlan.from_tokens()``), one line per item::

      [base] photo
      [sub] dog
      [gen] a dog sitting on the grass
      [blob] dog {major-radius: 162px; minor-radius: 76px; cx: 444px; cy: 258px; angle: 96} "A brown dog"
      [box] {left: 51.2px; top: 102.4px; right: 256px; bottom: 307.2px} "a dog"
      [style] monet
      [op] add dog ref=dog
      [knobs] alpha=0.7 seed=42

* the **JSON contract** (``EditPlan.contract()``) printed by ``anypix plan --json``.

Geometry is in normalised canvas units, origin top-left, y down. Centres are fractions of the
canvas width (x) and height (y); radii are fractions of the canvas's *shorter side*, so an ellipse
keeps its shape on any canvas. Angles are degrees in [0, 180), measured from the +x axis towards +y
(clockwise on screen), as in BlobGEN's CSS. Coordinates are kept on a grid of 1/16384 (so whole
pixels on any power-of-two canvas up to 16384 px are exact) and angles to 2 decimals, which is
what makes the text forms round-trip exactly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from anypix.errors import PlanParseError

if TYPE_CHECKING:
    import numpy as np

OpKind = Literal["generate", "add", "remove", "replace", "restyle", "recolor", "move", "variation"]
OP_KINDS: tuple[str, ...] = get_args(OpKind)
# Ops that edit an existing image and so need a [base].
EDIT_OPS = frozenset(OP_KINDS) - {"generate"}


@dataclass(frozen=True)
class OpSpec:
    """What an op means, in one place: the LLM planner's prompt lists ``meaning``; the render and
    the locator read the flags. A new op is a word in ``OpKind`` and a line in :data:`OPS`."""

    meaning: str  # one line for the LLM planner: what the op does, what target and ref say
    repaints: bool = False  # its region loses what the [base] had there (starts from noise)
    located: bool = False  # it changes one object of the [base]: the locator finds its region


OPS: dict[str, OpSpec] = {
    "generate": OpSpec("make a new image from gen (only when base is null; then it is the only op)"),
    "add": OpSpec("put something in; ref is the sub when an asset is added", repaints=True),
    "remove": OpSpec("take something out; target says what", repaints=True, located=True),
    "replace": OpSpec("swap target for something else; ref is the sub that replaces it, if any",
                      repaints=True, located=True),
    "restyle": OpSpec("change the look of the whole image; ref is the style_ref"),
    "recolor": OpSpec("change the colour of target; target names the object and the colour",
                      located=True),
    "move": OpSpec("move target; target says where to", located=True),
    "variation": OpSpec("another version of the base"),
}

ASSET_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")
_COORD_GRID = 16384
_ANGLE_DECIMALS = 2


def _one_line(text: str) -> str:
    """Collapse whitespace so text fields print on one line and compare canonically."""
    return " ".join(text.split())


def check_asset_name(name: str) -> str:
    if not ASSET_NAME.match(name):
        raise ValueError(
            f"{name!r} is not an asset name: use letters, digits, '_', '-' or '.', "
            "at most 64 characters, not starting with '-' or '.'"
        )
    return name


AssetName = Annotated[str, AfterValidator(check_asset_name)]
OneLine = Annotated[str, AfterValidator(_one_line)]


def _q(value: float) -> float:
    """Snap a coordinate to the 1/16384 grid; exact in binary floating point."""
    return round(float(value) * _COORD_GRID) / _COORD_GRID + 0.0  # "+ 0.0": no -0.0


def _round(value: float, decimals: int) -> float:
    return round(float(value), decimals) + 0.0


def fmt_number(value: float) -> str:
    """Shortest text for a number: 444 not 444.0, 0.5 not 0.50000."""
    text = format(value, ".10g")
    return "0" if text == "-0" else text


def _slug(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text.lower())
    return "_".join(words[-2:])[:32] or "object"


class Blob(BaseModel):
    """A tilted ellipse and the sentence that describes what fills it (BlobGEN).

    ``label`` is the short name used as the CSS selector (``dog``); it defaults to a slug of the
    description.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: OneLine = Field(min_length=1, max_length=300)
    cx: float = Field(ge=0, le=1, description="centre x, fraction of canvas width")
    cy: float = Field(ge=0, le=1, description="centre y, fraction of canvas height")
    a: float = Field(gt=0, le=2, description="semi-major axis, fraction of the shorter side")
    b: float = Field(gt=0, le=2, description="semi-minor axis, fraction of the shorter side")
    angle: float = Field(default=0.0, description="degrees in [0, 180), +x towards +y")
    label: str = ""

    @field_validator("cx", "cy", "a", "b", mode="after")
    @classmethod
    def _quantise(cls, value: float) -> float:
        return _q(value)

    @field_validator("angle", mode="after")
    @classmethod
    def _wrap_angle(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("angle must be a finite number of degrees")
        wrapped = _round(value % 180.0, _ANGLE_DECIMALS)
        return 0.0 if wrapped >= 180.0 else wrapped

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.b > self.a:
            raise ValueError(
                f"minor radius b={self.b} is larger than major radius a={self.a}; "
                "swap them and add 90 to the angle"
            )
        if self.b == 0:
            raise ValueError("radii must be at least 1/16384 of the canvas")
        label = self.label.strip() or _slug(self.description)
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,31}", label):
            raise ValueError(
                f"blob label {label!r} must be one word of letters, digits, '_' or '-'"
            )
        object.__setattr__(self, "label", label)
        return self

    # -- CSS (BlobGEN's layout form) -------------------------------------------------------------
    def to_css(self, width: int = 512, height: int = 512) -> str:
        side = min(width, height)
        return (
            f"{self.label} {{major-radius: {fmt_number(self.a * side)}px; "
            f"minor-radius: {fmt_number(self.b * side)}px; cx: {fmt_number(self.cx * width)}px; "
            f"cy: {fmt_number(self.cy * height)}px; angle: {fmt_number(self.angle)}}}"
        )

    @classmethod
    def from_css(
        cls, css: str, width: int = 512, height: int = 512, description: str | None = None
    ) -> Blob:
        """Parse one ``name {major-radius: ..px; ...}`` rule. A minor radius larger than the major
        one (a common LLM slip) is fixed by swapping them and turning the ellipse by 90 degrees."""
        label, props = parse_css_rule(css)
        major, minor, angle = props["major-radius"], props["minor-radius"], props["angle"]
        if minor > major:
            major, minor, angle = minor, major, angle + 90.0
        side = min(width, height)
        try:
            return cls(
                description=description or label.replace("_", " "),
                label=label,
                cx=props["cx"] / width,
                cy=props["cy"] / height,
                a=major / side,
                b=minor / side,
                angle=angle,
            )
        except ValidationError as exc:
            raise PlanParseError(f"blob {label!r}: {first_error(exc)}") from None

    # -- geometry ---------------------------------------------------------------------------------
    def bbox(self, width: int = 1, height: int = 1) -> Box:
        """The axis-aligned box that encloses the ellipse, clipped to the canvas."""
        side = min(width, height)
        t = math.radians(self.angle)
        a, b = self.a * side, self.b * side
        half_w = math.sqrt((a * math.cos(t)) ** 2 + (b * math.sin(t)) ** 2) / width
        half_h = math.sqrt((a * math.sin(t)) ** 2 + (b * math.cos(t)) ** 2) / height
        return Box(
            phrase=self.description,
            x0=max(0.0, self.cx - half_w),
            y0=max(0.0, self.cy - half_h),
            x1=min(1.0, self.cx + half_w),
            y1=min(1.0, self.cy + half_h),
        )

    def mask(self, width: int, height: int) -> np.ndarray:
        """Boolean (height, width) mask of the pixels whose centres lie inside the ellipse."""
        import numpy as np

        side = min(width, height)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
        dx = xs + 0.5 - self.cx * width
        dy = ys + 0.5 - self.cy * height
        t = math.radians(self.angle)
        u = dx * math.cos(t) + dy * math.sin(t)
        v = -dx * math.sin(t) + dy * math.cos(t)
        return (u / (self.a * side)) ** 2 + (v / (self.b * side)) ** 2 <= 1.0


class Box(BaseModel):
    """An axis-aligned box (x0, y0, x1, y1 as fractions of the canvas) and its grounding phrase,
    as GLIGEN takes them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    phrase: OneLine = Field(min_length=1, max_length=300)
    x0: float = Field(ge=0, le=1)
    y0: float = Field(ge=0, le=1)
    x1: float = Field(ge=0, le=1)
    y1: float = Field(ge=0, le=1)

    @field_validator("x0", "y0", "x1", "y1", mode="after")
    @classmethod
    def _quantise(cls, value: float) -> float:
        return _q(value)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if not (self.x0 < self.x1 and self.y0 < self.y1):
            raise ValueError(
                f"box ({self.x0}, {self.y0}, {self.x1}, {self.y1}) is empty: need x0 < x1 and y0 < y1"
            )
        return self

    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)

    def to_css(self, width: int = 512, height: int = 512) -> str:
        return (
            f"{{left: {fmt_number(self.x0 * width)}px; top: {fmt_number(self.y0 * height)}px; "
            f"right: {fmt_number(self.x1 * width)}px; bottom: {fmt_number(self.y1 * height)}px}}"
        )


def _target(text: str) -> str:
    text = _one_line(text)
    if re.search(r"(^|\s)ref=\S*$", text):
        raise ValueError("an op target may not end with 'ref=...'; put the asset in ref")
    return text


class Op(BaseModel):
    """One edit: what to do (closed vocabulary), to what (free text) and with which asset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: OpKind
    target: Annotated[str, AfterValidator(_target)] = Field(default="", max_length=300)
    ref: AssetName | None = None


LEGACY_MIX = {"mix_base": 0.0, "mix_gen": 0.4, "mix_prior": 1.0, "mix_norm": 0.0}


class Knobs(BaseModel):
    """Sampling knobs. ``None`` means "the model preset's default"; the render records the value
    it actually used."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alpha: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="how much of the inverted [base] the start latent keeps: 1 keeps the source "
        "exactly, 0 starts from fresh noise (InstructAny2Pix's convention)",
    )
    guidance: float | None = Field(default=None, ge=0, le=50, description="CFG scale")
    steps: int | None = Field(default=None, ge=1, le=1000, description="denoising steps")
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1, description="None: random")
    size: tuple[int, int] | None = Field(default=None, description="(width, height) in pixels")
    negative: str | None = Field(
        default=None,
        max_length=1000,
        description="what the image should not show: the prompt guidance steers away from "
        "(None: the empty prompt)",
    )
    beta: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="GLIGEN scheduled sampling: box grounding is on for the first beta*steps steps",
    )
    # InstructAny2Pix's conditioning mix (tools/refine.py): each of the [base] embedding, the
    # planner's [gen] embedding and the refinement prior's output is scaled to unit norm, weighted,
    # summed and renormalised to mix_norm, and the render conditions on it too. None everywhere
    # (the default): a plan with [sub] references takes its model's measured mix (capabilities
    # prior_mix; none: no prior), a plan of words alone renders without the prior. Setting any
    # of them turns it on, the others taking the model's or the reference's h=[0.0, 0.4, 1.0]
    # (its norm 20 on embeddings scaled to 20 is our unit norm); mix_prior=0 turns it off.
    mix_base: float | None = Field(
        default=None, ge=0, le=10, description="weight of the [base] embedding (reference 0)"
    )
    mix_gen: float | None = Field(
        default=None, ge=0, le=10, description="weight of the [gen] embedding (reference 0.4)"
    )
    mix_prior: float | None = Field(
        default=None, ge=0, le=10, description="weight of the prior's output (reference 1)"
    )
    mix_norm: float | None = Field(
        default=None, ge=0, le=100, description="norm of the mixed embedding; 0 means unit norm"
    )
    shape_guidance: float | None = Field(
        default=None, ge=0, le=100, description="step size of shape guidance towards each blob's "
        "named shape (tools/shape_guidance.py); None: the model's default, 0: off"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_prior_in_old_plans(cls, data: Any) -> Any:
        """Plans stored before the render read the mix knobs wrote the reference weights out
        (0, 0.4, 1, 0) and rendered without the prior; read them as they rendered."""
        if isinstance(data, dict) and all(data.get(k) == v for k, v in LEGACY_MIX.items()):
            return {**data, **dict.fromkeys(LEGACY_MIX)}
        return data

    @field_validator("size", mode="after")
    @classmethod
    def _check_size(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not all(8 <= s <= 4096 for s in value):
            raise ValueError(f"size {value[0]}x{value[1]} must be between 8 and 4096 pixels a side")
        return value

    @field_validator(
        "alpha", "guidance", "beta", "mix_base", "mix_gen", "mix_prior", "mix_norm",
        "shape_guidance", mode="after",
    )
    @classmethod
    def _round_knobs(cls, value: float | None) -> float | None:
        return None if value is None else _round(value, 6)


class EditPlan(BaseModel):
    """A complete, self-consistent instruction for the renderer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base: AssetName | None = None
    subs: list[AssetName] = Field(default_factory=list)
    gen: OneLine = Field(default="", max_length=1000)
    ops: list[Op] = Field(min_length=1)
    blobs: list[Blob] = Field(default_factory=list)
    boxes: list[Box] = Field(default_factory=list)
    style_ref: AssetName | None = None
    knobs: Knobs = Field(default_factory=Knobs)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        kinds = {op.op for op in self.ops}
        if self.base is None and kinds & EDIT_OPS:
            edits = ", ".join(sorted(kinds & EDIT_OPS))
            raise ValueError(f"ops {edits} edit an image, so the plan needs a [base]")
        if self.base is not None and "generate" in kinds:
            raise ValueError("'generate' makes a new image; a plan with a [base] edits it instead")
        if len(set(self.subs)) != len(self.subs):
            raise ValueError(f"[sub] names repeat: {self.subs}")
        if self.base is not None and self.base in self.subs:
            raise ValueError(f"[{self.base}] cannot be both the [base] and a [sub]")
        known = {*self.subs, *([self.style_ref] if self.style_ref else [])}
        for op in self.ops:
            if op.ref is not None and op.ref not in known:
                raise ValueError(
                    f"op '{op.op}' refers to [{op.ref}], which is neither a [sub] nor the [style]"
                )
        return self

    # -- the token form ---------------------------------------------------------------------------
    def canvas(self, default: tuple[int, int] = (512, 512)) -> tuple[int, int]:
        return self.knobs.size or default

    def tokens(self) -> str:
        """The token form, one line per item (see the module docstring)."""
        from anypix.plan_tokens import render_tokens

        return render_tokens(self)

    @classmethod
    def from_tokens(cls, text: str) -> EditPlan:
        """Parse the token form. Raises :class:`PlanParseError` naming the line at fault."""
        from anypix.plan_tokens import parse_tokens

        return parse_tokens(text)

    # -- the JSON contract ------------------------------------------------------------------------
    def contract(self) -> dict[str, Any]:
        """The object ``anypix plan --json`` prints: exactly these keys, asset names not paths."""
        return {
            "base": self.base,
            "subs": list(self.subs),
            "gen": self.gen,
            "ops": [{"op": op.op, "target": op.target, "ref": op.ref} for op in self.ops],
            "blobs": [blob.model_dump() for blob in self.blobs],
            "boxes": [box.model_dump() for box in self.boxes],
            "style_ref": self.style_ref,
            "tokens": self.tokens(),
        }

    def asset_names(self) -> list[str]:
        """Every asset the plan reads, in order of first mention."""
        names = [self.base, *self.subs, self.style_ref, *(op.ref for op in self.ops)]
        return list(dict.fromkeys(n for n in names if n))


# -- parsing helpers -------------------------------------------------------------------------------

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_CSS_RULE = re.compile(r"^\s*([A-Za-z0-9_][A-Za-z0-9_\-]*)\s*\{([^{}]*)\}\s*$")
_CSS_PROP = re.compile(rf"^\s*([a-z\-]+)\s*:\s*({_NUMBER})\s*(px|deg)?\s*$", re.IGNORECASE)
BLOB_PROPS = ("major-radius", "minor-radius", "cx", "cy", "angle")
BOX_PROPS = ("left", "top", "right", "bottom")


def parse_css_props(body: str, expected: tuple[str, ...]) -> dict[str, float]:
    props: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in body.split(";"))):
        match = _CSS_PROP.match(part)
        if not match:
            raise PlanParseError(f"cannot read CSS property {part!r}; expected 'name: NUMBERpx'")
        name, value = match.group(1).lower(), float(match.group(2))
        if name not in expected:
            raise PlanParseError(f"unknown CSS property {name!r}; expected {', '.join(expected)}")
        if name in props:
            raise PlanParseError(f"CSS property {name!r} is given twice")
        if not math.isfinite(value):
            raise PlanParseError(f"CSS property {name!r} must be a finite number")
        props[name] = value
    missing = [name for name in expected if name not in props]
    if missing:
        raise PlanParseError(f"CSS is missing {', '.join(missing)}")
    return props


def parse_css_rule(css: str) -> tuple[str, dict[str, float]]:
    match = _CSS_RULE.match(css)
    if not match:
        raise PlanParseError(
            f"cannot read blob CSS {css.strip()[:80]!r}; expected "
            "'name {major-radius: ?px; minor-radius: ?px; cx: ?px; cy: ?px; angle: ?}'"
        )
    return match.group(1), parse_css_props(match.group(2), BLOB_PROPS)


def parse_css_layout(text: str, width: int = 512, height: int = 512) -> list[Blob]:
    """Parse a BlobGEN layout: one CSS rule per line (blank lines and '#' comments ignored)."""
    blobs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            blobs.append(Blob.from_css(line, width, height))
        except PlanParseError as exc:
            raise PlanParseError(exc.message, line=number) from None
    return blobs


def first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
