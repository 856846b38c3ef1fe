"""The token form of an :class:`~anypix.plan.EditPlan`: rendering and a strict, line-aware parser.

See :mod:`anypix.plan` for the format. Every failure is a :class:`PlanParseError` naming the line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from anypix.errors import PlanParseError
from anypix.plan import (
    BOX_PROPS,
    OP_KINDS,
    Blob,
    Box,
    EditPlan,
    Knobs,
    Op,
    check_asset_name,
    first_error,
    fmt_number,
    parse_css_props,
    parse_css_rule,
)


def render_tokens(plan: EditPlan) -> str:
    width, height = plan.canvas()
    lines: list[str] = []
    if plan.base is not None:
        lines.append(f"[base] {plan.base}")
    lines += [f"[sub] {name}" for name in plan.subs]
    if plan.gen:
        lines.append(f"[gen] {plan.gen}")
    for blob in plan.blobs:
        lines.append(f"[blob] {blob.to_css(width, height)} {_quote(blob.description)}")
    for box in plan.boxes:
        lines.append(f"[box] {box.to_css(width, height)} {_quote(box.phrase)}")
    if plan.style_ref is not None:
        lines.append(f"[style] {plan.style_ref}")
    for op in plan.ops:
        text = " ".join(part for part in (op.op, op.target) if part)
        lines.append(f"[op] {text}" + (f" ref={op.ref}" if op.ref else ""))
    knobs = _knob_text(plan.knobs)
    if knobs:
        lines.append(f"[knobs] {knobs}")
    if plan.knobs.negative:
        lines.append(f"[negative] {plan.knobs.negative}")
    return "\n".join(lines)


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _unquote(text: str) -> str:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, str):
        raise PlanParseError(f"expected a double-quoted sentence, got {text[:60]!r}")
    return value


def _knob_text(knobs: Knobs) -> str:
    defaults = Knobs()
    parts = []
    for name in Knobs.model_fields:
        value = getattr(knobs, name)
        if name == "negative" or value == getattr(defaults, name):  # negative: its own line
            continue
        if name == "size":
            parts.append(f"size={value[0]}x{value[1]}")
        else:
            parts.append(f"{name}={value if isinstance(value, int) else fmt_number(value)}")
    return " ".join(parts)


_TAG = re.compile(r"^\s*\[([A-Za-z]+)\]\s*(.*?)\s*$")
_SINGLE_TAGS = ("base", "gen", "style", "knobs", "negative")
_TAG_SHAPES = {
    "base": "[base] NAME",
    "sub": "[sub] NAME",
    "gen": "[gen] a description of the result",
    "blob": '[blob] NAME {major-radius: ?px; minor-radius: ?px; cx: ?px; cy: ?px; angle: ?} "sentence"',
    "box": '[box] {left: ?px; top: ?px; right: ?px; bottom: ?px} "phrase"',
    "style": "[style] NAME",
    "op": f"[op] {'|'.join(OP_KINDS)} TARGET [ref=NAME]",
    "knobs": "[knobs] alpha=0.7 guidance=7.5 steps=30 seed=1 size=512x512",
    "negative": "[negative] what the image should not show",
}


class _TokenParser:
    """Reads the token form line by line; knobs are read first because CSS pixels need the canvas."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise PlanParseError("plan tokens must be text")
        self.lines: list[tuple[int, str, str]] = []
        for number, raw in enumerate(text.splitlines(), 1):
            if not raw.strip() or raw.lstrip().startswith("#"):
                continue
            match = _TAG.match(raw)
            if not match or match.group(1).lower() not in _TAG_SHAPES:
                shown = raw.strip()[:60]
                raise PlanParseError(
                    f"expected a line starting with one of "
                    f"{', '.join('[' + t + ']' for t in _TAG_SHAPES)}, got {shown!r}",
                    line=number,
                )
            self.lines.append((number, match.group(1).lower(), match.group(2)))

    def parse(self) -> EditPlan:
        seen: dict[str, int] = {}
        for number, tag, _ in self.lines:
            if tag in _SINGLE_TAGS and tag in seen:
                raise PlanParseError(f"[{tag}] appears twice (first on line {seen[tag]})", number)
            seen.setdefault(tag, number)
        if "op" not in seen:
            raise PlanParseError("a plan needs at least one [op] line", hint=_TAG_SHAPES["op"])

        fields: dict[str, Any] = {"subs": [], "ops": [], "blobs": [], "boxes": []}
        knobs = Knobs()
        for number, tag, rest in self.lines:
            if tag == "knobs":
                knobs = self._guard(number, tag, lambda rest=rest: self._knobs(rest))
            elif tag == "negative" and rest:
                knobs = self._guard(number, tag, lambda k=knobs, r=rest: _with_negative(k, r))
        width, height = knobs.size or (512, 512)
        fields["knobs"] = knobs

        for number, tag, rest in self.lines:
            if tag in ("knobs", "negative"):
                continue
            if not rest:
                raise PlanParseError(f"[{tag}] is empty; expected {_TAG_SHAPES[tag]}", number)
            value = self._guard(number, tag, lambda t=tag, r=rest: self._item(t, r, width, height))
            if tag in ("base", "gen", "style"):
                fields["style_ref" if tag == "style" else tag] = value
            else:
                fields[{"sub": "subs", "op": "ops", "blob": "blobs", "box": "boxes"}[tag]].append(
                    value
                )
        try:
            return EditPlan(**fields)
        except ValidationError as exc:
            raise PlanParseError(f"inconsistent plan: {first_error(exc)}") from None

    @staticmethod
    def _guard(number: int, tag: str, read: Any) -> Any:
        try:
            return read()
        except PlanParseError as exc:
            raise PlanParseError(exc.message, number, hint=f"expected {_TAG_SHAPES[tag]}") from None
        except (ValidationError, ValueError) as exc:
            reason = first_error(exc) if isinstance(exc, ValidationError) else str(exc)
            raise PlanParseError(reason, number, hint=f"expected {_TAG_SHAPES[tag]}") from None

    @staticmethod
    def _item(tag: str, rest: str, width: int, height: int) -> Any:
        if tag in ("base", "sub", "style"):
            return check_asset_name(rest)
        if tag == "gen":
            return rest
        if tag == "op":
            return _parse_op(rest)
        brace = rest.find("}")
        if brace < 0:
            raise PlanParseError("missing '}' after the CSS")
        css, tail = rest[: brace + 1], rest[brace + 1 :].strip()
        if tag == "blob":
            parse_css_rule(css)  # report a CSS problem before a missing sentence
            return Blob.from_css(css, width, height, description=_unquote(tail))
        body = css.strip()
        if not (body.startswith("{") and body.endswith("}")):
            raise PlanParseError("box CSS must be '{left: ..; top: ..; right: ..; bottom: ..}'")
        props = parse_css_props(body[1:-1], BOX_PROPS)
        return Box(
            phrase=_unquote(tail),
            x0=props["left"] / width,
            y0=props["top"] / height,
            x1=props["right"] / width,
            y1=props["bottom"] / height,
        )

    @staticmethod
    def _knobs(rest: str) -> Knobs:
        values: dict[str, Any] = {}
        for part in rest.split():
            name, sep, value = part.partition("=")
            name = name.lower()
            if not sep or name not in Knobs.model_fields:
                raise PlanParseError(
                    f"cannot read knob {part!r}; known knobs: {', '.join(Knobs.model_fields)}"
                )
            if name in values:
                raise PlanParseError(f"knob {name!r} is given twice")
            if name == "size":
                match = re.fullmatch(r"(\d+)[xX](\d+)", value)
                if not match:
                    raise PlanParseError(f"size must look like 512x512, got {value!r}")
                values[name] = (int(match.group(1)), int(match.group(2)))
            else:
                values[name] = value
        return Knobs(**values)


def _with_negative(knobs: Knobs, text: str) -> Knobs:
    try:
        return Knobs(**{**knobs.model_dump(), "negative": text})
    except ValidationError as exc:
        raise PlanParseError(f"[negative]: {first_error(exc)}") from None


def _parse_op(rest: str) -> Op:
    kind, _, target = rest.partition(" ")
    if kind.lower() not in OP_KINDS:
        raise PlanParseError(f"unknown op {kind!r}; ops are {', '.join(OP_KINDS)}")
    ref = None
    match = re.search(r"(?:^|\s)ref=(\S+)$", target)
    if match:
        ref, target = match.group(1), target[: match.start()]
    return Op(op=kind.lower(), target=target, ref=ref)


def parse_tokens(text: str) -> EditPlan:
    return _TokenParser(text).parse()
