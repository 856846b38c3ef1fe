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
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from anypix.errors import AnypixError, AssetError, PlanValidationError
from anypix.memory.history import AssetInfo, TurnDetail
from anypix.memory.turns import SessionNotFoundError
from anypix.studio import Session, Studio

if TYPE_CHECKING:
    pass

Progress = Callable[[int, int], None]
Cancel = Callable[[], bool]

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
    bound, and the history cursor must not move under a running turn)."""

    def __init__(
        self, studio: Studio, session: str | None = None, file_roots: list[Path] | None = None
    ) -> None:
        """``file_roots``: the folders whose files a call may name by path (None: any file the
        process can read, as for a local stdio client)."""
        self.studio = studio
        self.default_session = session
        self.file_roots = (
            [root.resolve() for root in file_roots] if file_roots is not None else None
        )
        self.lock = threading.Lock()
        self._pinned: str | None = None

    def session(self, ref: str | None = None) -> Session:
        if ref is not None:
            return self.studio.session(ref, create=False)
        if self._pinned is None:
            try:
                found = self.studio.session(self.default_session)
            except SessionNotFoundError:
                assert self.default_session is not None  # no ref: most recent or new
                found = self.studio.new_session(self.default_session)
            self._pinned = found.id
        return Session(self.studio, self._pinned)


# -- the tools --------------------------------------------------------------------------------------


def plan(
    instruction: str,
    assets: dict[str, str] | None = None,
    session: str | None = None,
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
    """
    from anypix.agent.executor import FunctionPlanner
    from anypix.agent.references import References
    from anypix.errors import EmptyInstructionError

    workspace = _required(_workspace)
    text = instruction.strip()
    if not text:
        raise EmptyInstructionError()
    target = workspace.session(session)
    modalities = {name: info.modality for name, info in target.assets().items()}
    with _asset_files(assets, workspace.file_roots) as files:
        from anypix.media import sniff

        modalities.update({name: sniff(path)[0] for name, path in files.items()})
        planner = workspace.studio.planner
        agent = planner if hasattr(planner, "plan") else FunctionPlanner(planner)
        references = References({name: path.name for name, path in files.items()})
        result = agent.plan(text, modalities, references=references)
    edit_plan = getattr(result, "plan", result)
    record = {"session": target.id, "plan": edit_plan.contract()}
    if getattr(result, "source", None) is not None:
        record["planned_by"] = str(result.source)
    return ToolOutput(record)


def edit(
    instruction: str,
    assets: dict[str, str] | None = None,
    session: str | None = None,
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
    """
    workspace = _required(_workspace)
    target = workspace.session(session)
    with _asset_files(assets, workspace.file_roots) as files:
        turn = target.edit(instruction, files, progress=_progress, cancel=_cancel)
    return _turn_output(target, turn)


def generate(
    plan: str | None = None,
    prompt: str | None = None,
    seed: int | None = None,
    assets: dict[str, str] | None = None,
    session: str | None = None,
    _workspace: Workspace | None = None,
    _progress: Progress | None = None,
    _cancel: Cancel | None = None,
) -> ToolOutput:
    """Render a plan as given (token form, e.g. from plan, edited as you like) or a new image
    from a prompt, and store it as a new turn; no planner runs. Give exactly one of plan or prompt.

    Args:
        plan: the plan in token form ([base]/[sub]/[gen]/[blob]/[style]/[op]/[knobs] lines).
        prompt: a description of a new image, e.g. "a red fox in the snow" (instead of plan).
        seed: the sampling seed (overrides the plan's [knobs] seed; default: the plan's or random).
        assets: files the plan names, by name: {"photo": "/path/photo.png"} or base64 data.
        session: session id, id prefix or name (default: the server's session).
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
        if seed is not None:
            fixed = fixed.model_copy(
                update={"knobs": fixed.knobs.model_copy(update={"seed": seed})}
            )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PlanValidationError(
            f"the plan is not valid: {first['msg']}", "fix it and retry"
        ) from None
    target = workspace.session(session)
    instruction = plan if plan is not None else f"generate: {prompt}"
    with _asset_files(assets, workspace.file_roots) as files:  # the turn's planner: the plan itself
        turn = target.edit(instruction, files, progress=_progress, cancel=_cancel,
                           planner=lambda _instruction, _modalities: fixed)  # fmt: skip
    return _turn_output(target, turn)


def list_assets(session: str | None = None, _workspace: Workspace | None = None) -> ToolOutput:
    """List the assets a session knows by name, and "last", its current image.

    Args:
        session: session id, id prefix or name (default: the server's session).
    """
    target = _required(_workspace).session(session)
    assets = [_asset_record(info) for info in target.assets().values()]
    return ToolOutput({"session": target.id, "assets": assets})


def get_asset(
    name: str | None = None,
    turn: int | None = None,
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
    info = target.info()
    turns = [asdict(summary) for summary in target.history()]
    return ToolOutput({"session": target.id, "name": info.name, "turns": turns})


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
    images = [
        {
            "index": render.position,
            "sha256": render.sha256,
            "path": str(render.path),
            "edited": list(render.parent) if render.parent else None,
            "provenance": render.provenance,
        }
        for render in turn.renders
    ]
    record = {
        "session": target.id,
        "turn": turn.summary.seq,
        "parent": turn.summary.parent,
        "status": turn.summary.status,
        "instruction": turn.summary.instruction,
        "plan_tokens": _tokens(turn.plan),
        "images": images,
        "steps": [
            {"tool": step.tool, "seconds": round(step.seconds, 4), "error": step.error}
            for step in turn.steps
        ],
        "timings": turn.timings,
        "error": turn.error,
    }
    media = [Media(render.path.read_bytes(), "image/png") for render in turn.renders]
    return ToolOutput(record, media)


def _tokens(stored_plan: dict[str, Any] | None) -> str | None:
    from anypix.plan import EditPlan

    return EditPlan.model_validate(stored_plan).tokens() if stored_plan else None


@contextmanager
def _asset_files(
    assets: dict[str, str] | None, roots: list[Path] | None = None
) -> Iterator[dict[str, Path]]:
    """``{name: path | data URI | base64}`` as ``{name: path}``; decoded data lives in a temp
    folder for the duration of the block (the store copies what it keeps). Paths must lie under
    ``roots`` when it is given."""
    with tempfile.TemporaryDirectory(prefix="anypix-mcp-") as folder:
        yield {
            name: _readable(name, _asset_file(name, value, Path(folder)), Path(folder), roots)
            for name, value in (assets or {}).items()
        }


def _readable(name: str, path: Path, decoded: Path, roots: list[Path] | None) -> Path:
    """``path`` if the server may read it: decoded data, or a file under one of ``roots``."""
    real = path.resolve()
    if roots is None or real.is_relative_to(decoded.resolve()):
        return path
    if any(real.is_relative_to(root) for root in roots):
        return path
    raise AssetError(
        f"[{name}]: {path} is outside the folders this server reads files from "
        f"({', '.join(str(r) for r in roots)})",
        "send the file's bytes in base64, or start the server with --allow-dir FOLDER",
    )


def _asset_file(name: str, value: str, folder: Path) -> Path:
    from anypix.media import sniff
    from anypix.plan import ASSET_NAME

    if not ASSET_NAME.match(name):
        raise AssetError(f"{name!r} cannot name an asset", "use letters, digits, '_', '-' or '.'")
    payload = value.strip()
    if payload.startswith("data:"):
        header, _, payload = payload.partition(",")
        if not header.endswith(";base64"):
            raise AssetError(f"[{name}]: the data URI is not base64", "use data:<mime>;base64,...")
    elif len(payload) < 4096 and Path(payload).expanduser().is_file():
        return Path(payload).expanduser()
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        data = b""
    if data:
        path = folder / name
        path.write_bytes(data)
        with suppress(AssetError):  # not a format anypix reads: reported below
            _, fmt = sniff(path)
            return path.rename(folder / f"{name}.{fmt}")
    shown = value if len(value) <= 80 else value[:77] + "..."
    raise AssetError(
        f"[{name}]: {shown!r} is neither an existing file nor base64 data of an image or audio file",
        "give a path on the server's machine, or a PNG, JPEG, WebP, WAV... file's bytes in base64",
    )
