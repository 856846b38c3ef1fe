"""The MCP server over HTTP against a caller who holds the token and probes the machine.

Files named by path are read only under ``--allow-dir``; for any path outside, whether it exists,
is a folder, a device or a link's target, the tool error reads the same (the path itself aside),
so the wording tells nothing about what is there. Tokens no client could send are refused before
the server starts, in one line.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
import uvicorn
from hostile_helpers import RAW_CONTROL, Ran, assert_one_line_error, fake_planner, flat_renderer
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import TextContent
from PIL import Image

from anypix.api import build_server
from anypix.api.http import http_app
from anypix.studio import Studio

TOKEN = "hostile-test-token"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def served(tmp_path: Path, roots: list[Path]) -> AsyncIterator[Client]:
    """A real HTTP server (uvicorn, bearer token, file roots) and a client with the token."""
    server = build_server(lambda: Studio(tmp_path / "data", planner=fake_planner,
                                         renderer=flat_renderer, locator=None),
                          file_roots=roots)  # fmt: skip
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    web = uvicorn.Server(uvicorn.Config(http_app(server, TOKEN), log_level="warning"))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(web.serve, [listener])
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            yield client
        web.should_exit = True


@pytest.fixture
def machine(tmp_path: Path) -> dict[str, Path]:
    """A shared folder the server may read, and things outside it."""
    shared = tmp_path / "shared"
    shared.mkdir()
    Image.new("RGB", (8, 8), "green").save(shared / "ok.png")
    Image.new("RGB", (8, 8), "red").save(tmp_path / "secret.png")
    (tmp_path / "secret-folder").mkdir()
    (shared / "link-out.png").symlink_to(tmp_path / "secret.png")
    (shared / "link-nowhere.png").symlink_to(tmp_path / "missing.png")
    return {"shared": shared, "root": tmp_path}


PROBES = {
    "an existing image outside": lambda m: str(m["root"] / "secret.png"),
    "a missing file outside": lambda m: str(m["root"] / "missing.png"),
    "a folder outside": lambda m: str(m["root"] / "secret-folder"),
    "/etc/passwd": lambda m: "/etc/passwd",
    "/etc/no-such-file": lambda m: "/etc/no-such-file",
    "/dev/zero": lambda m: "/dev/zero",
    "/proc/self/environ": lambda m: "/proc/self/environ",
    "a link inside to a file outside": lambda m: str(m["shared"] / "link-out.png"),
    "a link inside to nothing outside": lambda m: str(m["shared"] / "link-nowhere.png"),
    "dot-dot out of the folder": lambda m: str(m["shared"] / ".." / "secret.png"),
    "dot-dot to nothing": lambda m: str(m["shared"] / ".." / "missing.png"),
    "a home-relative path": lambda m: "~/.bashrc",
}


def _wording(text: str, value: str) -> str:
    """The error with the probed path taken out (it is the caller's own input, shown whole or
    cut to 77 characters and "...")."""
    for shown in (value, value[:77] + "..."):
        text = text.replace(repr(shown), "<PATH>").replace(shown, "<PATH>")
    return text


@pytest.mark.anyio
async def test_probing_paths_outside_the_allowed_folder_learns_nothing(
    tmp_path: Path, machine: dict[str, Path]
) -> None:
    wordings: dict[str, str] = {}
    async with served(tmp_path, [machine["shared"]]) as client:
        for kind, probe in PROBES.items():
            value = probe(machine)
            result = await client.call_tool(
                "plan", {"instruction": "make [p] blue", "assets": {"p": value}}
            )
            assert result.is_error, kind
            first = result.content[0]
            assert isinstance(first, TextContent)
            assert not RAW_CONTROL.search(first.text)
            wordings[kind] = _wording(first.text, value)
        allowed = await client.call_tool(
            "plan", {"instruction": "make [p] blue", "assets": {"p": str(machine["shared"] / "ok.png")}}
        )
    assert not allowed.is_error, allowed
    distinct = set(wordings.values())
    assert len(distinct) == 1, wordings  # one message, whatever is (or is not) there


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("Authorization", f"Basic {TOKEN}")],
        [("Authorization", f"bearer {TOKEN.upper()}")],
        [("Authorization", f"Bearer {TOKEN[:-1]}")],
        [("Authorization", f"Bearer {TOKEN}"), ("Authorization", "Bearer wrong")],
    ],
    ids=["none", "basic", "case", "prefix", "two headers"],
)
async def test_requests_without_the_exact_token_get_401_and_nothing_else(
    tmp_path: Path, machine: dict[str, Path], headers: list[tuple[str, str]]
) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
             "params": {"name": "plan", "arguments": {"instruction": "x",
                                                      "assets": {"p": "/etc/passwd"}}}}  # fmt: skip
    server = build_server(lambda: Studio(tmp_path / "data", planner=fake_planner,
                                         renderer=flat_renderer, locator=None),
                          file_roots=[machine["shared"]])  # fmt: skip
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    web = uvicorn.Server(uvicorn.Config(http_app(server, TOKEN), log_level="warning"))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(web.serve, [listener])
        async with httpx2.AsyncClient() as http:
            response = await http.post(url, json=hello, headers=headers)
        web.should_exit = True
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized",
                               "hint": "send the header Authorization: Bearer <token>"}  # fmt: skip


@pytest.mark.parametrize("token", ["", "   ", "two words", "esc\x1b[2J", "tab\tin", "ünïcode"])
def test_serve_refuses_a_token_no_client_can_send(tmp_path: Path, token: str) -> None:
    with socket.socket() as probe:  # a free port, in case the token were (wrongly) taken
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    try:
        done = subprocess.run(
            [sys.executable, "-m", "anypix.cli", "--data-dir", str(tmp_path / "data"), "serve",
             "--http", "--port", port, "--token", token],
            capture_output=True, text=True, timeout=60, env={**os.environ},
        )  # fmt: skip
    except subprocess.TimeoutExpired:  # it started serving: the token was taken
        pytest.fail(f"serve --token {token!r} started a server")
    assert_one_line_error(Ran(done.returncode, done.stdout, done.stderr), mentions="token")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("kind", list(PROBES))
def test_file_under_reads_nothing_outside_the_folders(machine: dict[str, Path], kind: str) -> None:
    """The policy itself: no probe outside resolves, and each refusal reads the same."""
    from anypix.api.http import file_under, path_refused

    value = PROBES[kind](machine)
    assert file_under(value, [machine["shared"]]) is None
    refused = path_refused("p", value, [machine["shared"]])
    reference = path_refused("p", "/x", [machine["shared"]])
    assert _wording(refused.message, value) == _wording(reference.message, "/x")
    assert refused.hint == reference.hint


def test_file_under_finds_files_inside_the_folders(machine: dict[str, Path]) -> None:
    from anypix.api.http import file_under

    inside = machine["shared"] / "ok.png"
    assert file_under(str(inside), [machine["shared"]]) == inside.resolve()
    assert file_under(str(machine["shared"] / "nope.png"), [machine["shared"]]) is None
