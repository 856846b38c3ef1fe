"""Local HTTP for the MCP server: a bearer token on every request, loopback unless told.

The MCP endpoint is ``http://HOST:PORT/mcp`` (streamable HTTP). Every request must carry
``Authorization: Bearer <token>``; anything else is answered 401 before MCP sees it. On a
loopback host the MCP SDK also refuses requests whose ``Host``/``Origin`` are not local (DNS
rebinding).

A token must be printable ASCII without spaces (what a header can carry) and not empty. Files a
caller names by path are read only under the ``--allow-dir`` folders (:func:`file_under`); a path
outside them is refused with one message whether or not it exists (:func:`path_refused`), so a
caller with the token cannot probe the rest of the machine.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.errors import AnypixError, AssetError, UserError

if TYPE_CHECKING:
    from mcp.server import Server
    from starlette.types import ASGIApp, Receive, Scope, Send

MCP_PATH = "/mcp"
MAX_PATH_CHARS = 4096  # PATH_MAX on Linux; a longer value is data, not a path


class BearerTokenAuth:
    """ASGI middleware: HTTP requests without ``Authorization: Bearer <token>`` get 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        if not token:
            raise ValueError("an empty token would let anyone in")
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorised(scope):
            from starlette.responses import JSONResponse

            response = JSONResponse(
                {"error": "unauthorized", "hint": "send the header Authorization: Bearer <token>"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="anypix"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorised(self, scope: Scope) -> bool:
        given = [value for key, value in scope["headers"] if key.lower() == b"authorization"]
        return len(given) == 1 and hmac.compare_digest(given[0], self._expected)


def file_under(value: str, roots: Sequence[Path]) -> Path | None:
    """The regular file ``value`` names if, with links followed, it lies under one of ``roots``;
    else None. Nothing outside the roots is looked at beyond resolving the path, and a missing
    file there reads the same as one that exists: a caller learns nothing about them."""
    if len(value) > MAX_PATH_CHARS or "\x00" in value:
        return None
    try:
        real = Path(value).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links, no home for "~user"
        return None
    if not any(real.is_relative_to(root.resolve()) for root in roots):
        return None
    return real if real.is_file() else None


def path_refused(name: str, value: str, roots: Sequence[Path]) -> AssetError:
    """The one error for a path a caller may not read, whether it exists or not."""
    shown = value if len(value) <= 80 else value[:77] + "..."
    folders = ", ".join(str(root) for root in roots)
    return AssetError(
        f"[{name}]: {shown!r} is missing or outside the folders this server reads files from "
        f"({folders})",
        "send the file's bytes in base64, or start the server with --allow-dir FOLDER",
    )


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; other names count as reachable from outside."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_token(token: str) -> None:
    """Refuse a token no client can send in a header, or that lets anyone in."""
    hint = "pass --token with a secret of printable characters, or leave it out for a new one"
    if not token.strip():
        raise UserError("the token is empty, which would let anyone in", hint)
    if not all("!" <= char <= "~" for char in token):
        raise UserError(
            "the token holds spaces, control or non-ASCII characters, which HTTP clients "
            "cannot send in an Authorization header",
            hint,
        )


def check_exposure(host: str, token: str | None) -> None:
    """Refuse an unusable token, and a non-loopback address without an explicit token."""
    if token is not None:
        check_token(token)
    if token is None and not is_loopback(host):
        raise AnypixError(
            f"refusing to serve on {host} without a token: anyone who reaches it could edit "
            "and read files on this machine",
            "pass --token SECRET (and share it with the client), or serve on 127.0.0.1",
        )


def http_app(server: Server[Any], token: str, *, host: str = "127.0.0.1") -> ASGIApp:
    """The MCP server's streamable-HTTP app behind :class:`BearerTokenAuth`."""
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return BearerTokenAuth(app, token)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port), bound before the server starts so the
    address printed is the real one and early clients wait in the backlog."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise AnypixError(
            f"cannot listen on {host}:{port}: {exc.strerror}", "choose another --port"
        ) from None
    sock.listen(128)
    return sock
