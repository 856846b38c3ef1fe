"""The tool API for other agents: an MCP server over stdio and local HTTP.

``build_server`` makes the server (for an in-process client, or a transport of your own);
``serve_stdio`` and ``serve_http`` run it. See :mod:`anypix.api.server`.
"""

from anypix.api.server import build_server, serve_http, serve_stdio

__all__ = ["build_server", "serve_http", "serve_stdio"]
