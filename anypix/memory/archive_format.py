"""What a session archive holds, and every check an archive must pass before anything is stored.

An archive (see ``docs/archives.md``) is untrusted input: it may come from another machine, an
older or newer anypix, or someone who means harm. The rows are parsed into strict models (no
unknown fields, finite numbers in documented ranges, names and hashes in their patterns), then
:func:`check_rows` checks them against each other: unique turn numbers, parents before children,
a cursor on a turn that has an image, plans that validate as :class:`~anypix.plan.EditPlan`,
references that resolve. Limits keep one archive from taking the machine: rows, bytes, nesting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from anypix.errors import ArchiveError
from anypix.memory.tables import MAX_NAME, MAX_TEXT

ARCHIVE_FORMAT = "anypix-session"
ARCHIVE_VERSION = 1

# -- limits (docs/archives.md lists them; an archive over one is refused, nothing is stored) ------
MAX_TURNS = 10_000
MAX_TOOL_CALLS = 100_000
MAX_RENDERS = 100_000
MAX_BINDINGS = 10_000
MAX_ASSETS = 10_000
MAX_MEMBERS = MAX_ASSETS + 2  # manifest.json, rows.json and the asset files
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_ROWS_BYTES = 64 * 1024 * 1024
MAX_ASSET_BYTES_TOTAL = 4 * 1024 * 1024 * 1024
MAX_JSON_DEPTH = 32  # nesting of plans, provenance, tool arguments
LATEST_TIME = 32_503_680_000.0  # 3000-01-01 in Unix seconds; later is not a real timestamp
_INT64 = 2**63 - 1

Seconds = Annotated[float, Field(ge=0, le=LATEST_TIME)]  # a point in time
Duration = Annotated[float, Field(ge=0, le=1e9)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
AssetName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")]
TurnNumber = Annotated[int, Field(ge=1, le=MAX_TURNS)]
Position = Annotated[int, Field(ge=0, le=MAX_TOOL_CALLS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ArchivedSession(_Strict):
    id: str = Field(pattern=r"^[0-9a-f]{32}$")
    name: str = Field(max_length=MAX_NAME)
    created_at: Seconds
    updated_at: Seconds
    cursor: TurnNumber | None
    redo: list[TurnNumber] = Field(max_length=MAX_TURNS)


class ArchivedTurn(_Strict):
    seq: TurnNumber
    parent: TurnNumber | None
    instruction: Text
    attachments: dict[AssetName, Sha256]
    plan: dict[str, Any] | None
    status: str = Field(pattern=r"^(ok|failed|cancelled)$")
    error: Text | None
    timings: dict[str, Duration]
    created_at: Seconds
    finished_at: Seconds


class ArchivedToolCall(_Strict):
    turn: TurnNumber
    position: Position
    tool: str = Field(max_length=MAX_NAME)
    arguments: dict[str, Any]
    result: Text
    seconds: Duration
    error: Text | None


class ArchivedRender(_Strict):
    turn: TurnNumber
    position: Position
    sha256: Sha256
    parent: tuple[TurnNumber, Position] | None
    provenance: dict[str, Any]
    timings: dict[str, Duration]


class ArchivedBinding(_Strict):
    name: AssetName
    sha256: Sha256
    turn: TurnNumber | None
    created_at: Seconds


class ArchivedAsset(_Strict):
    sha256: Sha256
    modality: str = Field(pattern=r"^(image|audio)$")
    format: str = Field(pattern=r"^(png|wav|flac|ogg|mp3)$")
    source_format: str = Field(pattern=r"^[a-z0-9]{1,8}$")
    bytes: int = Field(ge=1, le=MAX_ASSET_BYTES_TOTAL)
    width: int | None = Field(ge=1, le=_INT64)
    height: int | None = Field(ge=1, le=_INT64)
    mode: str | None = Field(max_length=16)
    caption: Text | None
    origin: str = Field(pattern=r"^(uploaded|rendered)$")
    created_at: Seconds
    duration_s: Duration | None
    sample_rate: int | None = Field(ge=1, le=_INT64)
    channels: int | None = Field(ge=1, le=_INT64)


class ArchiveRows(_Strict):
    session: ArchivedSession
    turns: list[ArchivedTurn] = Field(max_length=MAX_TURNS)
    tool_calls: list[ArchivedToolCall] = Field(max_length=MAX_TOOL_CALLS)
    renders: list[ArchivedRender] = Field(max_length=MAX_RENDERS)
    bindings: list[ArchivedBinding] = Field(max_length=MAX_BINDINGS)
    assets: list[ArchivedAsset] = Field(max_length=MAX_ASSETS)


class ArchiveManifest(BaseModel):
    """``manifest.json``; fields a later anypix adds are ignored (the version says what is
    required)."""

    model_config = ConfigDict(allow_inf_nan=False)

    format: str
    version: int
    schema_version: int = Field(ge=1, le=_INT64)
    session: str = Field(pattern=r"^[0-9a-f]{32}$")
    turns: int = Field(ge=0, le=MAX_TURNS)
    rows_sha256: Sha256
    assets: dict[str, Sha256] = Field(max_length=MAX_ASSETS)


def member(asset: Any) -> str:
    """The archive member that holds an asset's bytes."""
    return f"assets/{asset.sha256}.{asset.format}"


def parse_manifest(data: bytes, where: str) -> ArchiveManifest:
    """``manifest.json`` as a model; refused unless it is this format and version."""
    import json

    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ArchiveError(
            f"{where}: manifest.json is not JSON", "export the session again"
        ) from None
    if not isinstance(raw, dict):
        kinds = {list: "a list", str: "text", bool: "true or false", type(None): "null"}
        raise ArchiveError(
            f"{where}: manifest.json holds {kinds.get(type(raw), 'a number')}, not an object",
            "export the session again",
        )
    if raw.get("format") != ARCHIVE_FORMAT or raw.get("version") != ARCHIVE_VERSION:
        raise ArchiveError(
            f"{where} is not an anypix session archive of version {ARCHIVE_VERSION}",
            "export it with this version of anypix",
        )
    try:
        return ArchiveManifest.model_validate(raw)
    except ValidationError as exc:
        raise ArchiveError(f"{where}: manifest.json {first_problem(exc)}") from None


def parse_rows(data: bytes, where: str) -> ArchiveRows:
    """``rows.json`` as models, checked field by field and then against each other."""
    try:
        rows = ArchiveRows.model_validate_json(data)
    except ValidationError as exc:
        raise ArchiveError(
            f"{where}: rows.json {first_problem(exc)}", "export the session again"
        ) from None
    check_rows(rows, where)
    return rows


def first_problem(exc: ValidationError) -> str:
    """The first thing pydantic found wrong, as a short phrase with where it is."""
    error = exc.errors(include_url=False)[0]
    place = ".".join(str(part) for part in error["loc"])
    more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
    message = error["msg"][:1].lower() + error["msg"][1:]
    return f"has a bad value at {place or 'the top'}: {message}{more}"


# -- checks across rows ------------------------------------------------------------------------------


def check_rows(rows: ArchiveRows, where: str) -> None:
    """Refuse rows that parse but do not fit together (or would break later reads)."""
    problem = _turn_problem(rows) or _reference_problem(rows) or _content_problem(rows)
    if problem:
        raise ArchiveError(f"{where}: {problem}", "export the session again")


def _turn_problem(rows: ArchiveRows) -> str | None:
    seqs = [turn.seq for turn in rows.turns]
    if len(set(seqs)) != len(seqs):
        return f"turn {_repeated(seqs)} appears more than once"
    status = {turn.seq: turn.status for turn in rows.turns}
    for turn in rows.turns:
        if turn.parent is not None and not (turn.parent in status and turn.parent < turn.seq):
            return f"turn {turn.seq} continues turn {turn.parent}, which is not an earlier turn"
        if turn.parent is not None and status[turn.parent] != "ok":
            return f"turn {turn.seq} continues turn {turn.parent}, which has no image"
    cursor = rows.session.cursor
    if cursor is not None and status.get(cursor) != "ok":
        return f"the session's current turn {cursor} is missing or has no image"
    if any(seq not in status for seq in rows.session.redo):
        return "the session's redo list names turns the archive lacks"
    return None


def _reference_problem(rows: ArchiveRows) -> str | None:
    seqs = {turn.seq for turn in rows.turns}
    shas = {asset.sha256 for asset in rows.assets}
    if len(shas) != len(rows.assets):
        return "an asset appears more than once"
    places = [(render.turn, render.position) for render in rows.renders]
    if len(set(places)) != len(places):
        return f"two renders claim turn {_repeated(places)[0]}, image {_repeated(places)[1]}"
    calls = [(call.turn, call.position) for call in rows.tool_calls]
    if len(set(calls)) != len(calls):
        return f"two tool calls claim turn {_repeated(calls)[0]}, step {_repeated(calls)[1]}"
    turns_named = [c.turn for c in rows.tool_calls] + [r.turn for r in rows.renders]
    turns_named += [b.turn for b in rows.bindings if b.turn is not None]
    if any(seq not in seqs for seq in turns_named):
        return "rows name turns the archive lacks"
    rendered = set(places)
    for render in rows.renders:
        if render.parent is not None and (
            render.parent not in rendered or render.parent >= (render.turn, render.position)
        ):
            return f"the render of turn {render.turn} edited an image that is not an earlier render"
    used = {sha for turn in rows.turns for sha in turn.attachments.values()}
    used |= {r.sha256 for r in rows.renders} | {b.sha256 for b in rows.bindings}
    if used - shas:
        return f"rows use assets the archive lacks ({sorted(used - shas)[0][:12]}...)"
    return None


def _content_problem(rows: ArchiveRows) -> str | None:
    from anypix.plan import EditPlan

    for turn in rows.turns:
        if turn.plan is not None:
            problem = json_problem(turn.plan) or _model_problem(EditPlan, turn.plan)
            if problem:
                return f"the plan of turn {turn.seq} {problem}"
    for render in rows.renders:
        problem = provenance_problem(render.provenance)
        if problem:
            return f"the provenance of turn {render.turn}'s render {problem}"
    for call in rows.tool_calls:
        problem = json_problem(call.arguments)
        if problem:
            return f"the arguments of turn {call.turn}'s step {call.position} {problem}"
    total = sum(asset.bytes for asset in rows.assets)
    if total > MAX_ASSET_BYTES_TOTAL:
        return f"the assets add up to {total:,} bytes, over the limit of {MAX_ASSET_BYTES_TOTAL:,}"
    return None


def provenance_problem(provenance: dict[str, Any]) -> str | None:
    """What keeps a render's provenance from being read back: it must be a
    :class:`~anypix.records.Provenance`, and the knobs replay pins from it must be valid knobs."""
    from anypix.plan import Knobs
    from anypix.records import Provenance

    problem = json_problem(provenance) or _model_problem(Provenance, provenance)
    if problem:
        return problem
    size = provenance.get("size")
    pinned = {key: provenance.get(key) for key in ("seed", "steps", "guidance", "alpha")}
    return _model_problem(Knobs, {**pinned, "size": tuple(size) if size else None})


def _model_problem(model: type[BaseModel], value: dict[str, Any]) -> str | None:
    try:
        model.model_validate(value)
    except ValidationError as exc:
        return f"does not validate: {first_problem(exc).removeprefix('has ')}"
    return None


def json_problem(value: Any, depth: int = 0) -> str | None:
    """What makes a JSON value unsafe to store: nesting deeper than :data:`MAX_JSON_DEPTH`, an
    integer SQLite cannot hold, a float that is not finite, text over :data:`MAX_TEXT`."""
    if depth > MAX_JSON_DEPTH:
        return f"is nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if -_INT64 - 1 <= value <= _INT64 else f"holds a number too large ({value:.3g})"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"holds a number that is not finite ({value})"
    if isinstance(value, str):
        return None if len(value) <= MAX_TEXT else f"holds text over {MAX_TEXT:,} characters"
    items: Iterable[Any] = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict) and any(len(key) > MAX_TEXT for key in value):
        return f"holds a key over {MAX_TEXT:,} characters"
    for item in items:
        problem = json_problem(item, depth + 1)
        if problem:
            return problem
    return None


def _repeated(values: list[Any]) -> Any:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None
