"""The MCP server, driven start to finish by the mcp package's own client: in process, over
stdio (a subprocess) and over local HTTP with its bearer token."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx2
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, ImageContent, TextContent
from PIL import Image

from anypix.api import build_server, serve_http
from anypix.api.http import check_exposure, http_app
from anypix.api.server import tool_specs
from anypix.errors import AnypixError, CancelledError
from anypix.plan import EditPlan
from anypix.records import Render
from anypix.studio import Studio
from frontends import StepRenderer, grammar_planner

TOOL_NAMES = {"plan", "edit", "generate", "list_assets", "get_asset", "undo", "history"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def png_file(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (16, 12)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def png_base64(colour: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10), colour).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def record_of(result: CallToolResult) -> dict[str, Any]:
    """The JSON record a tool returned (its first, text part); fails on a tool error."""
    first = result.content[0]
    assert isinstance(first, TextContent)
    assert not result.is_error, first.text
    record: dict[str, Any] = json.loads(first.text)
    assert result.structured_content == record
    return record


def images_of(result: CallToolResult) -> list[Image.Image]:
    parts = [part for part in result.content if isinstance(part, ImageContent)]
    assert all(part.mime_type == "image/png" for part in parts)
    return [Image.open(io.BytesIO(base64.b64decode(part.data))) for part in parts]


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    first = result.content[0]
    assert isinstance(first, TextContent)
    return first.text


# -- in process ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_tools_are_listed_with_the_registry_schemas() -> None:
    from anypix.tools.registry import get

    async with Client(build_server(lambda: Studio(planner=grammar_planner()))) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(listed) == TOOL_NAMES
    for name, tool in listed.items():
        assert tool.input_schema == tool_specs()[name].parameters
        assert tool.description
    edit = listed["edit"].input_schema
    assert edit["required"] == ["instruction"]
    assert set(edit["properties"]) == {"instruction", "assets", "session", "options"}  # no _progress
    # the knobs and their ranges are the shared options model's (the same as the CLI's flags)
    from anypix.knobs import EditOptions, knob_range

    schema = listed["edit"].input_schema
    defs = schema.get("$defs") or schema["properties"]["options"]["$defs"]  # where pydantic puts it
    options = defs["EditOptions"]
    assert set(options["properties"]) == set(EditOptions.model_fields)
    (seed,) = [s for s in options["properties"]["seed"]["anyOf"] if s["type"] == "integer"]
    assert (seed["minimum"], seed["maximum"]) == knob_range("seed")
    assert (
        listed["history"].annotations is not None and listed["history"].annotations.read_only_hint
    )
    # generate renders a plan in the same token form as the registry's render tool
    render_plan = get("render").parameters["properties"]["plan"]
    generate_plan = listed["generate"].input_schema["properties"]["plan"]
    assert generate_plan["description"] == render_plan["description"]
    assert {"type": render_plan["type"]} in generate_plan["anyOf"]


@pytest.mark.anyio
async def test_a_whole_edit_session_over_mcp(tmp_path: Path) -> None:
    photo = png_file(tmp_path / "photo.png", (200, 30, 30), size=(24, 16))
    renderer = StepRenderer()
    server = build_server(lambda: Studio(tmp_path / "data", planner=grammar_planner(),
                                         renderer=renderer))  # fmt: skip
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with Client(server) as client:
        planned = record_of(
            await client.call_tool(
                "plan",
                {"instruction": "remove the cat from [photo]", "assets": {"photo": str(photo)}},
            )
        )
        assert planned["plan"]["base"] == "photo" and planned["plan"]["ops"][0]["op"] == "remove"
        assert (
            record_of(await client.call_tool("history", {}))["turns"] == []
        )  # plan stores nothing

        edited = await client.call_tool(
            "edit",
            {"instruction": "remove the cat from [photo]", "assets": {"photo": str(photo)}},
            progress_callback=on_progress,
        )
        turn = record_of(edited)
        assert [done for done, _, _ in progress] == [1, 2, 3]
        assert {total for _, total, _ in progress} == {3}
        assert turn["seq"] == 1 and turn["status"] == "ok"
        assert turn["plan_tokens"] == renderer.plans[0].tokens()
        assert turn["renders"][0]["provenance"]["preset"] == "steps"
        assert turn["outputs"] == [turn["renders"][0]["path"]]
        assert [step["tool"] for step in turn["steps"]] == ["plan", "check", "render"]
        [image] = images_of(edited)
        assert image.size == (8, 8)

        # a second edit attaches its asset as base64 and continues from [last]
        second = record_of(
            await client.call_tool(
                "generate",
                {"plan": "[base] last\n[sub] stamp\n[gen] a stamped photo\n[op] add stamp ref=stamp",
                 "assets": {"stamp": png_base64((5, 200, 5))}, "options": {"seed": 11}},
            )
        )  # fmt: skip
        assert second["seq"] == 2 and second["parent"] == 1
        assert renderer.plans[-1].knobs.seed == 11 and renderer.plans[-1].subs == ["stamp"]

        assets = record_of(await client.call_tool("list_assets", {}))["assets"]
        by_name = {asset["name"]: asset for asset in assets}
        assert set(by_name) == {"photo", "stamp", "last"}
        assert (by_name["photo"]["width"], by_name["photo"]["height"]) == (24, 16)
        assert by_name["last"]["sha256"] == second["renders"][0]["sha256"]

        fetched = await client.call_tool("get_asset", {"name": "photo"})
        assert record_of(fetched)["asset"]["sha256"] == by_name["photo"]["sha256"]
        [photo_back] = images_of(fetched)
        assert photo_back.convert("RGB").getpixel((3, 3)) == (200, 30, 30)
        [first_output] = images_of(await client.call_tool("get_asset", {"turn": 1}))
        assert first_output.convert("RGB").getpixel((0, 0)) == image.convert("RGB").getpixel((0, 0))

        assert record_of(await client.call_tool("undo", {}))["current_turn"] == 1
        turns = record_of(await client.call_tool("history", {}))["turns"]
        assert [(t["seq"], t["parent"], t["current"]) for t in turns] == [
            (1, None, True),
            (2, 1, False),
        ]
        [last] = images_of(await client.call_tool("get_asset", {"name": "last"}))
        assert last.convert("RGB").getpixel((0, 0)) == image.convert("RGB").getpixel((0, 0))


@pytest.mark.anyio
async def test_user_errors_come_back_as_tool_errors_with_a_hint(tmp_path: Path) -> None:
    server = build_server(lambda: Studio(tmp_path / "data", planner=grammar_planner(),
                                         renderer=StepRenderer()))  # fmt: skip
    async with Client(server) as client:
        missing = error_text(
            await client.call_tool("edit", {"instruction": "remove the cat from [photo]"})
        )
        assert "[photo] is not in this session" in missing
        assert 'hint: pass it in "assets"' in missing  # not the CLI's --asset flag
        wrong_type = error_text(await client.call_tool("edit", {"instruction": 3}))
        assert wrong_type.startswith("edit: instruction: input should be a valid string")
        assert "hint: its arguments: instruction, assets, session, options" in wrong_type
        unknown = error_text(await client.call_tool("history", {"sesion": "x"}))
        assert unknown == ("history: sesion: extra inputs are not permitted\n"
                           "hint: its arguments: session")  # fmt: skip
        missing_argument = error_text(await client.call_tool("edit", {}))
        assert missing_argument.startswith("edit: instruction: field required")
        garbage = error_text(
            await client.call_tool("plan", {"instruction": "[a]", "assets": {"a": "no/such/file"}})
        )
        assert "neither an existing file nor base64" in garbage
        both = error_text(await client.call_tool("generate", {"plan": "[gen] x", "prompt": "y"}))
        assert "exactly one of plan or prompt" in both
        bad_plan = error_text(await client.call_tool("generate", {"plan": "[bogus] x"}))
        assert "line 1" in bad_plan
        nothing = error_text(await client.call_tool("undo", {}))
        assert "hint:" in nothing
        # refused before they ran: nothing was stored, so retrying cannot make a duplicate
        assert record_of(await client.call_tool("history", {}))["turns"] == []


class FailingRenderer(StepRenderer):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")


@pytest.mark.anyio
async def test_a_turn_that_ran_and_failed_is_a_tool_error_naming_its_stored_turn(
    tmp_path: Path,
) -> None:
    photo = png_file(tmp_path / "photo.png", (1, 2, 3))
    server = build_server(lambda: Studio(tmp_path / "data", planner=grammar_planner(),
                                         renderer=FailingRenderer()))  # fmt: skip
    async with Client(server) as client:
        failed = await client.call_tool(
            "edit", {"instruction": "remove the cat from [photo]", "assets": {"photo": str(photo)}}
        )
        turns = record_of(await client.call_tool("history", {}))["turns"]
    assert "RuntimeError: boom" in error_text(failed)
    assert failed.structured_content is not None
    assert (failed.structured_content["turn"], failed.structured_content["status"]) == (1, "failed")
    assert [(t["seq"], t["status"]) for t in turns] == [(1, "failed")]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "arguments", "fragment"),
    [
        ("edit", {"options": {"seed": -1}}, "seed -1 is out of range"),
        ("edit", {"options": {"seed": 10**30}}, "is out of range"),
        ("edit", {"options": {"steps": 0}}, "steps 0 is out of range"),
        ("edit", {"options": {"size": "9x99999"}}, "out of range"),
        ("edit", {"options": {"variations": 10**6}}, "out of range"),
        ("edit", {"options": {"sed": 1}}, "sed is not an option"),
        ("edit", {"options": "seed=3"}, "edit: options: input should be a valid dictionary"),
        ("edit", {"options": {"negative": "blur\nsharp"}}, "must be one line of text"),
        ("generate", {"prompt": "a fox", "options": {"guidance": 1e300}}, "guidance 1e+300 is out"),
        ("plan", {"options": {"strength": 2}}, "strength 2 is out of range"),
        ("get_asset", {"turn": 99}, "99"),
        ("get_asset", {"turn": -1}, "get_asset: turn: input should be greater than or equal"),
        ("get_asset", {"turn": 10**30}, "get_asset: turn: input should be less than or equal"),
        ("history", {"session": "no-such-session"}, "no-such-session"),
    ],
)
async def test_bad_numbers_and_unknown_turns_are_tool_errors_that_store_nothing(
    tmp_path: Path, tool: str, arguments: dict[str, Any], fragment: str
) -> None:
    photo = png_file(tmp_path / "photo.png", (1, 2, 3))
    renderer = StepRenderer()
    server = build_server(lambda: Studio(tmp_path / "data", planner=grammar_planner(),
                                         renderer=renderer))  # fmt: skip
    if tool in ("edit", "plan"):
        arguments = {"instruction": "remove the cat from [photo]",
                     "assets": {"photo": str(photo)}, **arguments}  # fmt: skip
    async with Client(server) as client:
        result = await client.call_tool(tool, arguments)  # a protocol error would raise here
        turns = record_of(await client.call_tool("history", {}))["turns"]
    assert fragment in error_text(result)
    assert len(error_text(result).splitlines()) <= 2  # the message, and its hint
    assert turns == [] and renderer.plans == []


@pytest.mark.anyio
async def test_a_question_from_the_planner_is_a_tool_error_naming_the_choices(
    tmp_path: Path,
) -> None:
    from anypix.errors import ClarificationNeeded
    from frontends import AskingPlanner

    photo = png_file(tmp_path / "photo.png", (1, 2, 3))
    question = ClarificationNeeded("Which image should I tidy?", ["[photo]", "[scene]"])
    server = build_server(lambda: Studio(tmp_path / "data", planner=AskingPlanner(question),
                                         renderer=StepRenderer()))  # fmt: skip
    async with Client(server) as client:
        asked = await client.call_tool(
            "edit", {"instruction": "tidy it up", "assets": {"photo": str(photo)}}
        )
        planned = await client.call_tool("plan", {"instruction": "tidy it up"})
        turns = record_of(await client.call_tool("history", {}))["turns"]
        answered = record_of(await client.call_tool(
            "edit", {"instruction": "tidy it ([photo])", "assets": {"photo": str(photo)}}
        ))  # fmt: skip
    text = error_text(asked)
    assert text.startswith("Which image should I tidy?")
    assert "hint: call again with an instruction that says which: [photo], [scene]" in text
    assert asked.structured_content is not None
    assert asked.structured_content["choices"] == ["[photo]", "[scene]"]
    assert "Which image" in error_text(planned)
    assert turns == []  # asking stored nothing, not even the attachment
    assert answered["status"] == "ok" and answered["plan"]["base"] == "photo"


@pytest.mark.anyio
async def test_file_roots_limit_the_paths_a_call_may_name(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    inside = png_file(tmp_path / "shared" / "photo.png", (9, 9, 9))
    outside = png_file(tmp_path / "secret.png", (1, 2, 3))
    escape = tmp_path / "shared" / "link.png"
    escape.symlink_to(outside)
    server = build_server(lambda: Studio(tmp_path / "data", planner=grammar_planner(),
                                         renderer=StepRenderer()),
                          file_roots=[tmp_path / "shared"])  # fmt: skip
    async with Client(server) as client:
        for path in (outside, escape):  # a symlink out of the folder counts as outside
            refused = error_text(await client.call_tool(
                "plan", {"instruction": "make [p] blue", "assets": {"p": str(path)}}
            ))  # fmt: skip
            assert "outside the folders this server reads files from" in refused
            assert "base64" in refused
        planned = await client.call_tool(
            "plan", {"instruction": "make [p] blue", "assets": {"p": str(inside)}}
        )
        assert record_of(planned)["plan"]["base"] == "p"
        sent = await client.call_tool(  # the same file's bytes are fine from anywhere
            "plan", {"instruction": "make [p] blue", "assets": {"p": png_base64((1, 2, 3))}}
        )
        assert record_of(sent)["plan"]["base"] == "p"


class WaitingRenderer:
    """Reports one step, then waits for the cancel callback to say stop (as a long render
    polls it before every step)."""

    def __init__(self) -> None:
        self.started, self.stopped = threading.Event(), threading.Event()

    def __call__(self, plan: EditPlan, assets: Mapping[str, Any], *,
                 progress: Callable[[int, int], None] | None = None,
                 cancel: Callable[[], bool] | None = None) -> Render:  # fmt: skip
        assert progress is not None and cancel is not None
        progress(1, 1000)
        self.started.set()
        deadline = time.monotonic() + 30
        while not cancel():
            assert time.monotonic() < deadline, "the cancel callback never said stop"
            time.sleep(0.01)
        self.stopped.set()
        raise CancelledError("render cancelled after 1 of 1000 steps")


@pytest.mark.anyio
async def test_a_cancelled_call_stops_the_render_and_keeps_the_turn(tmp_path: Path) -> None:
    photo = png_file(tmp_path / "photo.png", (1, 2, 3))
    renderer = WaitingRenderer()
    server = build_server(lambda: Studio(tmp_path / "data", planner=grammar_planner(),
                                         renderer=renderer))  # fmt: skip
    arguments = {"instruction": "remove the cat from [photo]", "assets": {"photo": str(photo)}}
    async with Client(server) as client:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(client.call_tool, "edit", arguments)
            await anyio.to_thread.run_sync(renderer.started.wait)
            tasks.cancel_scope.cancel()
        assert await anyio.to_thread.run_sync(renderer.stopped.wait, 30)
        turns = record_of(await client.call_tool("history", {}))["turns"]
    assert [(t["seq"], t["status"], t["outputs"]) for t in turns] == [(1, "cancelled", 0)]


@pytest.mark.slow  # ~30 s on a loaded 2-core CPU, most of it loading torch and the model
@pytest.mark.anyio
async def test_an_edit_over_mcp_renders_with_the_tiny_random_model(tmp_path: Path) -> None:
    from anypix.models.diffusion import load_components
    from anypix.tools.render import render

    started = time.perf_counter()
    components = dataclasses.replace(load_components("tiny-random"), default_steps=2)
    loaded = time.perf_counter() - started

    def tiny_render(plan: EditPlan, assets: Mapping[str, Path], **callbacks: Any) -> Render:
        return render(plan, assets, components, **callbacks)

    photo = png_file(tmp_path / "photo.png", (30, 90, 200), size=(64, 64))
    server = build_server(lambda: Studio(tmp_path / "data", planner=grammar_planner(),
                                         renderer=tiny_render))  # fmt: skip
    ticks: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        ticks.append(done)

    async with Client(server) as client:
        started = time.perf_counter()
        edited = await client.call_tool(
            "edit",
            {"instruction": "make [photo] look like a watercolor", "assets": {"photo": str(photo)}},
            progress_callback=on_progress,
        )
        seconds = time.perf_counter() - started
    turn = record_of(edited)
    provenance = turn["renders"][0]["provenance"]
    assert provenance["preset"] == "tiny-random" and provenance["steps"] == 2
    assert ticks == [1, 2, 3, 4]  # 2 inversion steps of [photo], then 2 denoising steps
    [image] = images_of(edited)
    assert image.size == tuple(provenance["size"])
    print(f"\ntiny-random over MCP: model load {loaded:.2f} s, one edit {seconds:.2f} s")


# -- stdio ------------------------------------------------------------------------------------------


def _server_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ANYPIX_DATA_DIR=str(tmp_path / "data"), ANYPIX_LLM="fast", PYTHONPATH=str(REPO))
    return env


@pytest.mark.anyio
async def test_a_stdio_subprocess_serves_a_session(tmp_path: Path) -> None:
    png_file(tmp_path / "photo.png", (9, 9, 9))  # named by a path relative to its cwd
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "anypix.api", "--session", "agent"],
        env=_server_env(tmp_path), cwd=str(tmp_path),
    )  # fmt: skip
    async with Client(params) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == TOOL_NAMES
        planned = record_of(
            await client.call_tool(
                "plan",
                {"instruction": "remove the cat from [photo]", "assets": {"photo": "photo.png"}},
            )
        )
        history = record_of(await client.call_tool("history", {}))
    assert planned["plan"]["tokens"].startswith("[base] photo")
    assert history["name"] == "agent" and history["turns"] == []


# -- HTTP ---------------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_http_needs_the_bearer_token(tmp_path: Path) -> None:
    token = "s3cret-token"
    server = build_server(lambda: Studio(tmp_path / "data", planner=grammar_planner()))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # bound first: requests wait in the backlog until it serves
    listener.listen()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    web = uvicorn.Server(uvicorn.Config(http_app(server, token), log_level="warning"))
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(web.serve, [listener])
        hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        async with httpx2.AsyncClient() as http:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
                response = await http.post(url, json=hello, headers=headers)
                assert response.status_code == 401, headers
                assert response.headers["www-authenticate"].startswith("Bearer")
        authorised = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
        async with (
            authorised,
            Client(streamable_http_client(url, http_client=authorised)) as client,
        ):
            names = {tool.name for tool in (await client.list_tools()).tools}
            planned = record_of(await client.call_tool("plan", {"instruction": "a red fox"}))
        web.should_exit = True
    assert names == TOOL_NAMES
    assert planned["plan"]["ops"][0]["op"] == "generate"


def test_http_refuses_a_public_address_without_a_token() -> None:
    with pytest.raises(AnypixError, match="without a token"):
        serve_http(host="0.0.0.0", port=0)  # refused before anything binds
    check_exposure("0.0.0.0", "given")  # an explicit token allows it
    check_exposure("::1", None)
    check_exposure("localhost", None)


@pytest.mark.parametrize("token", ["", "   ", "two words", "tab\tin", "esc\x1b[2J"])
def test_a_token_no_client_can_send_is_refused_before_serving(token: str) -> None:
    with pytest.raises(AnypixError, match="token") as caught:
        serve_http(port=0, token=token)
    assert caught.value.exit_code == 2 and caught.value.hint is not None


@pytest.mark.parametrize("command", [["-m", "anypix.api", "--http"], ["-m", "anypix.cli", "serve",
                                                                       "--http"]])  # fmt: skip
def test_serve_with_an_empty_token_is_one_line_and_exit_2(
    tmp_path: Path, command: list[str]
) -> None:
    done = subprocess.run([sys.executable, *command, "--port", "8765", "--token", ""],
                          env=_server_env(tmp_path), capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: the token is empty") and done.stderr.count("\n") == 1


@pytest.mark.anyio
async def test_serve_http_prints_a_new_token_and_enforces_it(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "anypix.api", "--http", "--port", "0"],
        env=_server_env(tmp_path), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        said: dict[str, str] = {}
        for line in process.stderr:  # the token, then the address once it listens
            if line.startswith("token: "):
                said["token"] = line.removeprefix("token: ").strip()
            elif line.startswith("anypix MCP server on "):
                said["url"] = line.split()[4]
                break
        token, url = said["token"], said["url"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp") and len(token) > 20
        async with httpx2.AsyncClient() as http:
            assert (await http.post(url, json={})).status_code == 401
        authorised = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
        async with (
            authorised,
            Client(streamable_http_client(url, http_client=authorised)) as client,
        ):
            history = record_of(await client.call_tool("history", {}))
        assert history["turns"] == []
    finally:
        process.terminate()
        process.wait(timeout=30)
