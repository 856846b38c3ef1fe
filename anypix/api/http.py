"""Local HTTP for the MCP server: a bearer token on every request, loopback unless told.

The MCP endpoint is ``http://HOST:PORT/mcp`` (streamable HTTP). Every request must carry
``Authorization: Bearer <token>``; anything else is answered 401 before MCP sees it. On a
loopback host the MCP SDK also refuses requests whose ``Host``/``Origin`` are not local (DNS
rebinding).
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from typing import TYPE_CHECKING, Any

from anypix.errors import AnypixError

if TYPE_CHECKING:
    from mcp.server import Server
    from starlette.types import ASGIApp, Receive, Scope, Send

MCP_PATH = "/mcp"


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


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; other names count as reachable from outside."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: str | None) -> None:
    """Refuse a non-loopback address without an explicit token."""
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
