"""What the MCP tools do: plain typed functions over a :class:`~anypix.studio.Studio` session.

Each tool's docstring is its description and its signature its input schema, read by
:func:`anypix.tools.registry.describe` like every other tool; parameters that start with ``_``
(the workspace, the progress and cancel callbacks) are supplied by the server. Nothing here knows
about MCP: a tool returns a :class:`ToolOutput` (a JSON-able record plus media files) and raises
:class:`~anypix.errors.AnypixError` for anything the caller can fix.

Assets are given as ``{name: value}``, the value a file path on the server's machine, a
``data:`` URI or raw base64 of the file's bytes (PNG, JPEG, WAV...). A workspace with
``file_roots`` (the HTTP server's, by default the folder it was started in) reads paths only
under those folders.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError

from anypix.errors import AnypixError, AssetError, PlanValidationError
from anypix.knobs import EditOptions
from anypix.memory.history import AssetInfo, TurnDetail
from anypix.studio import Session, Studio

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]
TurnNumber = Annotated[int, Field(ge=0, le=2**31 - 1)]  # SQLite ends at 2**63; a typo far sooner

MIME_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
}


@dataclass(frozen=True)
class Media:
    """One file a tool hands back: its bytes and MIME type."""

    data: bytes = field(repr=False)
    mime_type: str


@dataclass
class ToolOutput:
    """What a tool returns: a JSON-able record (provenance included) and the files it shows."""

    record: dict[str, Any]
    media: list[Media] = field(default_factory=list)


class Workspace:
    """The studio the tools work on and the session they use when a call names none.

    ``session`` None means the most recent session (or a new one), chosen on first use and kept,
    so a CLI run elsewhere cannot switch an agent's session half-way; a name that does not exist
    yet becomes a new session of that name. One tool call runs at a time (renders are CPU or GPU
    bound, and the history cursor must not move under a running turn); with ``parallel`` (the
    studio renders on a pool of workers) one call at a time per session."""

    def __init__(
        self, studio: Studio, session: str | None = None, file_roots: list[Path] | None = None,
        *, parallel: bool = False,
    ) -> None:  # fmt: skip
        """``file_roots``: the folders whose files a call may name by path (None: any file the
        process can read, as for a local stdio client)."""
        self.studio = studio
        self.default_session = session
        self.file_roots = (
            [root.resolve() for root in file_roots] if file_roots is not None else None
        )
        self.lock = threading.Lock()
        self.parallel = parallel
        self._session_locks: dict[str | None, threading.Lock] = {}
        self._pinned: Session | None = None

    def lock_for(self, ref: str | None) -> threading.Lock:
        """The lock a call on session ``ref`` holds while it runs: the workspace's one lock,
        or with ``parallel`` one per session (a session's turns move its history cursor, so
        they still run one at a time)."""
        if not self.parallel:
            return self.lock
        key = None  # None: the session calls default to
        if ref is not None:
            try:
                key = self.studio.session(ref, create=False).id
            except AnypixError:
                key = ref  # the call itself reports it
            if self._pinned is not None and key == self._pinned.stored_id:
                key = None
        with self.lock:
            return self._session_locks.setdefault(key, threading.Lock())

    def session(self, ref: str | None = None) -> Session:
        if ref is not None:
            return self.studio.session(ref, create=False)
        if self._pinned is None:  # a new session is stored on its first turn or attachment
            self._pinned = self.studio.session(self.default_session)
        return self._pinned


# -- the tools --------------------------------------------------------------------------------------


def plan(
    instruction: str,
    assets: dict[str, str] | None = None,
    session: str | None = None,
    options: EditOptions | None = None,
    _workspace: Workspace | None = None,
) -> ToolOutput:
    """Turn an instruction into an edit plan without rendering or storing anything: the plan as
    JSON (base, subs, gen, ops, blobs, boxes, style_ref) and in token form, which generate
    accepts back, edited or not.

    Args:
        instruction: what to do, naming assets in brackets, e.g. "add [dog] to [photo] on the left".
        assets: new files by name: {"dog": "/path/dog.png"} or base64 data; names the session
            already has (see list_assets) need not be given again.
        session: session id, id prefix or name (default: the server's session).
        options: sampling knobs the plan gets (seed, steps, guidance, strength, size).
    """
    workspace = _required(_workspace)
    target = workspace.session(session)
    with _asset_files(assets, workspace.file_roots) as files:
        result = target.plan(instruction, files, options=options)
    record = {"session": target.stored_id, "plan": result.plan.contract(),
              "planned_by": result.source}  # fmt: skip
    return ToolOutput(record)


def edit(
    instruction: str,
    assets: dict[str, str] | None = None,
    session: str | None = None,
    options: EditOptions | None = None,
    _workspace: Workspace | None = None,
    _progress: Progress | None = None,
    _cancel: Cancel | None = None,
) -> ToolOutput:
    """Plan, render and store one edit as a new turn of the session, continuing from its current
    image ([last]); returns the image(s) and, for each, the provenance (model, seed, steps, every
    knob) that replays it. Progress is reported per denoising step.

    Args:
        instruction: what to do, naming assets in brackets, e.g. "add [dog] to [photo] on the left".
        assets: files to attach by name: {"photo": "/path/photo.png", "dog": "<base64 PNG>"};
            they stay in the session for later turns.
        session: session id, id prefix or name (default: the server's session).
        options: sampling knobs (seed, steps, guidance, strength, size), how many variations
            to render, and whether each output is verified (verify, attempts: the model's
            perception checks every op; a failed check is corrected at most attempts renders).
    """
    workspace = _required(_workspace)
    target = workspace.session(session)
    with _asset_files(assets, workspace.file_roots) as files:
        turn = target.edit(instruction, files, options=options, progress=_progress,
                           cancel=_cancel)  # fmt: skip
    return _turn_output(target, turn)


def generate(
    plan: str | None = None,
    prompt: str | None = None,
    assets: dict[str, str] | None = None,
    session: str | None = None,
    options: EditOptions | None = None,
    _workspace: Workspace | None = None,
    _progress: Progress | None = None,
    _cancel: Cancel | None = None,
) -> ToolOutput:
    """Render a plan as given (token form, e.g. from plan, edited as you like) or a new image
    from a prompt, and store it as a new turn; no planner runs. Give exactly one of plan or prompt.

    Args:
        plan: the plan in token form ([base]/[sub]/[gen]/[blob]/[style]/[op]/[knobs] lines).
        prompt: a description of a new image, e.g. "a red fox in the snow" (instead of plan).
        assets: files the plan names, by name: {"photo": "/path/photo.png"} or base64 data.
        session: session id, id prefix or name (default: the server's session).
        options: sampling knobs over the plan's [knobs] (seed, steps, guidance, strength, size)
            and how many variations to render.
    """
    from anypix.plan import EditPlan, Op

    workspace = _required(_workspace)
    if (plan is None) == (prompt is None):
        raise AnypixError("give exactly one of plan or prompt", "plan: token form; prompt: text")
    try:
        if plan is not None:
            fixed = EditPlan.from_tokens(plan)
        else:
            assert prompt is not None
            fixed = EditPlan(gen=prompt, ops=[Op(op="generate", target=prompt)])
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PlanValidationError(
            f"the plan is not valid: {first['msg']}", "fix it and retry"
        ) from None
    target = workspace.session(session)
    instruction = plan if plan is not None else f"generate: {prompt}"
    with _asset_files(assets, workspace.file_roots) as files:  # the turn's planner: the plan itself
        turn = target.edit(instruction, files, options=options, progress=_progress,
                           cancel=_cancel, planner=lambda _instruction, _modalities: fixed)  # fmt: skip
    return _turn_output(target, turn)


def list_assets(session: str | None = None, _workspace: Workspace | None = None) -> ToolOutput:
    """List the assets a session knows by name, and "last", its current image.

    Args:
        session: session id, id prefix or name (default: the server's session).
    """
    target = _required(_workspace).session(session)
    assets = [_asset_record(info) for info in target.assets().values()]
    return ToolOutput({"session": target.stored_id, "assets": assets})


def get_asset(
    name: str | None = None,
    turn: TurnNumber | None = None,
    session: str | None = None,
    _workspace: Workspace | None = None,
) -> ToolOutput:
    """Fetch an asset's file (an image comes back as PNG) or the images a turn rendered.

    Args:
        name: an asset name from list_assets ("last" is the current image).
        turn: a turn number from history, instead of name: returns that turn's outputs.
        session: session id, id prefix or name (default: the server's session).
    """
    target = _required(_workspace).session(session)
    if (name is None) == (turn is None):
        raise AnypixError("give exactly one of name or turn", "see list_assets and history")
    if turn is not None:
        return _turn_output(target, target.show(turn))
    assert name is not None
    known = target.assets()
    if name not in known:
        have = ", ".join(sorted(known)) or "none yet"
        raise AnypixError(f"[{name}] is not in this session (it has: {have})", "see list_assets")
    info = known[name]
    record = {"session": target.id, "asset": _asset_record(info)}
    return ToolOutput(record, [Media(info.path.read_bytes(), MIME_TYPES[info.format])])


def undo(session: str | None = None, _workspace: Workspace | None = None) -> ToolOutput:
    """Step back to the previous turn; the next edit continues from there.

    Args:
        session: session id, id prefix or name (default: the server's session).
    """
    target = _required(_workspace).session(session)
    cursor = target.undo()
    return ToolOutput({"session": target.id, "current_turn": cursor})


def history(session: str | None = None, _workspace: Workspace | None = None) -> ToolOutput:
    """A session's turns in order: each with its parent, status, instruction and output count;
    "current" marks the turn whose image is [last], "on_path" the way from the start to it.

    Args:
        session: session id, id prefix or name (default: the server's session).
    """
    target = _required(_workspace).session(session)
    turns = [asdict(summary) for summary in target.history()]
    return ToolOutput({"session": target.stored_id, "name": target.name, "turns": turns})


TOOLS: dict[str, Callable[..., ToolOutput]] = {
    "plan": plan,
    "edit": edit,
    "generate": generate,
    "list_assets": list_assets,
    "get_asset": get_asset,
    "undo": undo,
    "history": history,
}


# -- helpers ------------------------------------------------------------------------------------------


def _required(workspace: Workspace | None) -> Workspace:
    if workspace is None:
        raise TypeError("the server supplies _workspace")  # a bug, never the caller's doing
    return workspace


def _asset_record(info: AssetInfo) -> dict[str, Any]:
    record = asdict(info)
    record["path"] = str(info.path)
    return {key: value for key, value in record.items() if value is not None}


def _turn_output(target: Session, turn: TurnDetail) -> ToolOutput:
    """The turn as :meth:`TurnDetail.to_json` has it, with its plan in token form too, and its
    images."""
    from anypix.console import verification_lines
    from anypix.plan import EditPlan

    record = {"session": target.id, **turn.to_json()}
    record["plan_tokens"] = EditPlan.model_validate(turn.plan).tokens() if turn.plan else None
    record["verification"] = verification_lines(turn)  # each check of each op, as people see it
    media = [Media(render.path.read_bytes(), "image/png") for render in turn.renders]
    return ToolOutput(record, media)


@contextmanager
def _asset_files(
    assets: dict[str, str] | None, roots: list[Path] | None = None
) -> Iterator[dict[str, Path]]:
    """``{name: path | data URI | base64}`` as ``{name: path}``; decoded data lives in a temp
    folder for the duration of the block (the store copies what it keeps). Paths must lie under
    ``roots`` when it is given."""
    with tempfile.TemporaryDirectory(prefix="anypix-mcp-") as folder:
        yield {
            name: _asset_file(name, value, Path(folder), roots)
            for name, value in (assets or {}).items()
        }


def _asset_file(name: str, value: str, folder: Path, roots: list[Path] | None) -> Path:
    """The file ``value`` stands for: a readable path, or decoded data written to ``folder``.
    With ``roots`` (over HTTP), a path outside them and a path that does not exist get the same
    error, so a caller learns nothing about files it may not read."""
    from anypix.api.http import file_under, path_refused
    from anypix.plan import ASSET_NAME

    if not ASSET_NAME.match(name):
        raise AssetError(f"{name!r} cannot name an asset", "use letters, digits, '_', '-' or '.'")
    payload = value.strip()
    if payload.startswith("data:"):
        header, _, payload = payload.partition(",")
        if not header.endswith(";base64"):
            raise AssetError(f"[{name}]: the data URI is not base64", "use data:<mime>;base64,...")
    elif roots is not None:
        allowed = file_under(payload, roots)
        if allowed is not None:
            return allowed
    elif len(payload) < 4096 and Path(payload).expanduser().is_file():
        return Path(payload).expanduser()
    decoded = _decoded_file(name, payload, folder)
    if decoded is not None:
        return decoded
    if roots is not None:
        raise path_refused(name, value.strip(), roots)
    shown = value if len(value) <= 80 else value[:77] + "..."
    raise AssetError(
        f"[{name}]: {shown!r} is neither an existing file nor base64 data of an image or audio file",
        "give a path on the server's machine, or a PNG, JPEG, WebP, WAV... file's bytes in base64",
    )


def _decoded_file(name: str, payload: str, folder: Path) -> Path | None:
    """``payload`` as base64 of an image or sound, written to ``folder``; None if it is not."""
    from anypix.media import sniff

    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not data:
        return None
    path = folder / name
    path.write_bytes(data)
    try:
        _, fmt = sniff(path)
    except AssetError:  # not a format anypix reads: the caller reports it
        return None
    return path.rename(folder / f"{name}.{fmt}")
