"""The MCP server: anypix's session tools for other agents, over stdio or local HTTP.

    from anypix.api import build_server, serve_stdio, serve_http

    serve_stdio()                        # an agent starts `python -m anypix.api`
    serve_http(port=8765)                # 127.0.0.1 only; prints a bearer token to stderr

The tools (``plan``, ``edit``, ``generate``, ``list_assets``, ``get_asset``, ``undo``,
``history``) are the typed functions of :mod:`anypix.api.tools`; their input schemas come from
:func:`anypix.tools.registry.describe`, the same builder as every registered tool's. A result is
a text part holding the JSON record (provenance included) followed by the images as PNG image
content. A render reports MCP progress once per denoising step when the call carries a
``progressToken``, and stops at the next step when the call is cancelled. An
:class:`~anypix.errors.AnypixError` becomes a tool error whose text is the message and the hint;
anything else is a bug and stays a protocol error.
"""

from __future__ import annotations

import base64
import inspect
import json
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.session import ServerSession
from mcp.shared.exceptions import MCPError

from anypix.api.tools import TOOLS, ToolOutput, Workspace
from anypix.console import verification_lines
from anypix.errors import (
    AnypixError,
    ClarificationNeeded,
    ConfigError,
    EmptyInstructionError,
    TurnFailed,
    UnknownAssetError,
)
from anypix.knobs import EditOptions
from anypix.studio import Studio

if TYPE_CHECKING:
    from anypix.config import Settings
    from anypix.tools.registry import Tool

SERVER_NAME = "anypix"
INSTRUCTIONS = (
    "anypix edits and generates images from instructions that name attached assets in brackets, "
    'e.g. edit("add [dog] to [photo] on the left", assets={"photo": "/abs/photo.png", '
    '"dog": "<base64 PNG>"}). Every edit is a turn of a session: history lists them, undo steps '
    "back, list_assets/get_asset show what the session holds ([last] is the current image). "
    "plan shows what an instruction would do without rendering; generate renders a plan as given."
)
READ_ONLY = frozenset({"plan", "list_assets", "get_asset", "history"})


@dataclass
class ServerState:
    """What the server holds while it runs (its lifespan state)."""

    workspace: Workspace


@cache
def tool_specs() -> dict[str, Tool]:
    """Each tool as the registry describes it: description and JSON schema."""
    from anypix.tools.registry import describe

    return {name: describe(name, fn) for name, fn in TOOLS.items()}


def mcp_tools() -> list[types.Tool]:
    return [
        types.Tool(
            name=spec.name,
            description=spec.description,
            input_schema=spec.parameters,
            annotations=types.ToolAnnotations(
                read_only_hint=spec.name in READ_ONLY,
                destructive_hint=False,  # undo moves a cursor; nothing is ever deleted
                open_world_hint=False,
            ),
        )
        for spec in tool_specs().values()
    ]


def build_server(
    studio_factory: Callable[[], Studio] | None = None,
    *,
    session: str | None = None,
    file_roots: list[Path] | None = None,
    parallel: bool = False,
) -> Server[ServerState]:
    """An MCP server over the studio ``studio_factory`` opens (default: ``Studio()``).

    The studio opens when the server starts serving and closes when it stops; tools act on
    ``session`` (id, prefix or name; a new name creates it) unless a call names another, or by
    default on the most recent session, chosen once. With ``file_roots`` a call may name files
    by path only under those folders. ``parallel``: the studio renders on a pool of workers
    (:mod:`anypix.batch`), so calls on different sessions run side by side."""
    open_studio = studio_factory or Studio

    @asynccontextmanager
    async def lifespan(_: Server[ServerState]) -> AsyncIterator[ServerState]:
        studio = await anyio.to_thread.run_sync(open_studio)
        try:
            yield ServerState(Workspace(studio, session, file_roots, parallel=parallel))
        finally:
            studio.close()

    async def on_list_tools(
        ctx: ServerRequestContext[ServerState], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=mcp_tools())

    async def on_call_tool(
        ctx: ServerRequestContext[ServerState], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        return await call_tool(ctx.lifespan_context.workspace, ctx.session, params)

    def input_schema(name: str) -> dict[str, Any] | None:
        spec = tool_specs().get(name)
        return spec.parameters if spec is not None else None

    return Server(
        SERVER_NAME,
        version=_version(),
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        get_tool_input_schema=input_schema,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


async def call_tool(
    workspace: Workspace, session: ServerSession, params: types.CallToolRequestParams
) -> types.CallToolResult:
    """Run one tool in a worker thread (renders block), one call at a time per workspace, or
    per session when the workspace renders in parallel."""
    spec = tool_specs().get(params.name)
    if spec is None:
        names = ", ".join(tool_specs())
        raise MCPError(types.INVALID_PARAMS, f"no tool named {params.name!r}; tools: {names}")
    try:
        kwargs = _arguments(spec, params.arguments or {})
    except AnypixError as exc:
        return error_result(exc)
    accepted = inspect.signature(spec.fn).parameters
    cancelled = threading.Event()
    if "_progress" in accepted:
        kwargs["_progress"] = _progress_reporter(session)
    if "_cancel" in accepted:
        kwargs["_cancel"] = cancelled.is_set

    def run() -> ToolOutput:
        with workspace.lock_for(kwargs.get("session")):
            return spec.fn(_workspace=workspace, **kwargs)

    try:
        output = await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
    except anyio.get_cancelled_exc_class():
        cancelled.set()  # the render stops at its next step and its turn is kept as cancelled
        raise
    except AnypixError as exc:
        return error_result(exc)
    return tool_result(output)


def tool_result(output: ToolOutput) -> types.CallToolResult:
    """The record as JSON text (and as structured content), then each file as image/audio."""
    text = json.dumps(output.record, indent=1, ensure_ascii=False, default=str)
    content: list[types.ContentBlock] = [types.TextContent(text=text)]
    for media in output.media:
        encoded = base64.b64encode(media.data).decode("ascii")
        if media.mime_type.startswith("audio/"):
            content.append(types.AudioContent(data=encoded, mime_type=media.mime_type))
        else:
            content.append(types.ImageContent(data=encoded, mime_type=media.mime_type))
    return types.CallToolResult(content=content, structured_content=json.loads(text))


def error_result(exc: AnypixError) -> types.CallToolResult:
    """A tool error the calling agent can act on: what was wrong, and how to fix it. A turn that
    ran and failed names its stored turn (so the agent knows it exists and need not retry to
    find out); a question from the planner lists its choices."""
    hint = _hint_for_agents(exc)
    text = exc.message + (f"\nhint: {hint}" if hint else "")
    record: dict[str, Any] = {"error": type(exc).__name__, "message": exc.message, "hint": hint}
    if isinstance(exc, TurnFailed):
        record["error"] = type(exc.cause).__name__
        record["turn"], record["status"] = exc.turn.summary.seq, exc.turn.summary.status
        record["verification"] = verification_lines(exc.turn)  # what each attempt's checks found
        text += f"\n(stored as turn {exc.turn.summary.seq}, {exc.turn.summary.status})"
    cause = exc.cause if isinstance(exc, TurnFailed) else exc
    if isinstance(cause, ClarificationNeeded):  # asked at once, or when planning again
        record["question"], record["choices"] = cause.question, cause.choices
    return types.CallToolResult(
        content=[types.TextContent(text=text)], structured_content=record, is_error=True
    )


def _hint_for_agents(exc: AnypixError) -> str | None:
    """The CLI's hints name command-line flags; an agent passes arguments instead."""
    cause = exc.cause if isinstance(exc, TurnFailed) else exc
    if isinstance(cause, UnknownAssetError):
        return f'pass it in "assets": {{"{cause.name}": "/path/to/file" or base64 data}}'
    if isinstance(cause, EmptyInstructionError):
        return 'write what to do, e.g. "add [dog] to [photo]"'
    if isinstance(cause, ClarificationNeeded) and cause.choices:
        return f"call again with an instruction that says which: {', '.join(cause.choices)}"
    if isinstance(cause, ClarificationNeeded):
        return "call again with an instruction that answers the question"
    return exc.hint


def _arguments(spec: Tool, arguments: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments checked against the tool's signature (the schema it was listed
    with) by the tool table's own validation; ``options`` go through :class:`EditOptions`,
    whose errors name the knob and its range, as the CLI's flags do."""
    given = dict(arguments)
    if isinstance(given.get("options"), dict):
        given["options"] = EditOptions.parse(given["options"])
    return spec.validate(given)


def _progress_reporter(session: ServerSession) -> Callable[[int, int], None]:
    """A progress callback for the worker thread that sends MCP progress on the event loop."""

    def report(done: int, total: int) -> None:
        # Progress is advisory: a client that has gone away must not fail the render.
        with suppress(Exception):
            anyio.from_thread.run(
                partial(session.report_progress, done, total, f"render step {done} of {total}")
            )

    return report


# -- running it -------------------------------------------------------------------------------------


def studio_factory(settings: Settings | None = None) -> Callable[[], Studio]:
    """How ``anypix serve`` opens its studio: the settings' data dir, planner and model, with the
    model loaded on the first render and kept for the next."""

    def open_studio() -> Studio:
        return Studio.from_settings(settings)

    return open_studio


def serve_stdio(settings: Settings | None = None, *, session: str | None = None,
                open_studio: Callable[[], Studio] | None = None, parallel: bool = False) -> None:  # fmt: skip
    """Serve over stdin/stdout until the client closes them (how agents usually start servers).
    ``open_studio`` (default: the settings' studio) and ``parallel``: see :func:`build_server`."""
    from mcp.server.stdio import stdio_server

    server = build_server(open_studio or studio_factory(settings), session=session,
                          parallel=parallel)  # fmt: skip

    async def run() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(run)


def serve_http(
    settings: Settings | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    session: str | None = None,
    file_roots: list[Path] | None = None,
    open_studio: Callable[[], Studio] | None = None,
    parallel: bool = False,
) -> None:
    """Serve streamable HTTP at ``http://host:port/mcp`` until interrupted.

    Every request needs ``Authorization: Bearer <token>``. Without ``token`` a new one is made
    and printed to stderr, which only a loopback ``host`` allows. Calls may name files by path
    only under ``file_roots`` (default: the current folder); other files come as base64."""
    import secrets
    import sys

    import uvicorn

    from anypix.api.http import MCP_PATH, bind, check_exposure, http_app

    check_token(token)
    check_exposure(host, token)
    if token is None:
        token = secrets.token_urlsafe(32)
        sys.stderr.write(f"token: {token}\n")
    roots = file_roots if file_roots is not None else [Path.cwd()]
    server = build_server(open_studio or studio_factory(settings), session=session,
                          file_roots=roots, parallel=parallel)  # fmt: skip
    sock = bind(host, port)
    where = sock.getsockname()
    shown = f"[{where[0]}]" if sock.family == socket.AF_INET6 else where[0]
    sys.stderr.write(
        f"anypix MCP server on http://{shown}:{where[1]}{MCP_PATH} "
        "(send Authorization: Bearer <token>)\n"
        f"files by path only under: {', '.join(str(r) for r in roots)}\n"
    )
    sys.stderr.flush()
    config = uvicorn.Config(http_app(server, token, host=host), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def check_token(token: str | None) -> None:
    """Refuse a token a client cannot send or anyone could guess: empty, spaces, control
    characters (None is fine: a new one is made)."""
    if token is None:
        return
    if not token.strip():
        raise ConfigError("the token is empty, which would let anyone in",
                          "pass --token SECRET, or leave it out to get a new one printed")  # fmt: skip
    if any(ch.isspace() or not ch.isprintable() or not ch.isascii() for ch in token):
        raise ConfigError("the token has spaces, control or non-ASCII characters, which an "
                          "HTTP header cannot carry",
                          "use letters, digits and punctuation, or leave --token out")  # fmt: skip


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("anypix")
    except PackageNotFoundError:  # a source tree that is not installed
        return "0"


def main(argv: list[str] | None = None) -> None:
    """``python -m anypix.api [--http [--host H] [--port P] [--token T]] [--session S]``."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m anypix.api", description=__doc__)
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP, not stdio")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="HTTP port (0: any free port)")
    parser.add_argument("--token", help="HTTP bearer token (default: a new one, printed)")
    parser.add_argument("--session", help="session id, prefix or name the tools default to")
    args = parser.parse_args(argv)
    try:
        if args.http:
            serve_http(host=args.host, port=args.port, token=args.token, session=args.session)
        else:
            serve_stdio(session=args.session)
    except AnypixError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(exc.exit_code) from None


if __name__ == "__main__":
    main()
