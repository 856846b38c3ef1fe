"""The warm worker: which command lines it takes, and an edit it runs gives what the command
would (files relative to the caller's folder, output, exit codes); stale code is refused."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import FAST_RENDER, cli_process

from anypix.cli import warm


def test_only_edits_go_to_a_worker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANYPIX_WARM_IDLE_S", "60")
    taken = warm.route(["--data-dir", str(tmp_path), "edit", "draw a red ring"])
    assert taken is not None and taken.data_dir == tmp_path and taken.idle_s == 60
    assert warm.route([f"--data-dir={tmp_path}", "edit", "x"]) is not None
    for argv in (["plan", "x"], ["edit", "--help"], ["edit", "-"], ["--version"], [], ["chat"]):
        assert warm.route(argv) is None, argv
    monkeypatch.setenv("ANYPIX_WARM_IDLE_S", "0")
    assert warm.route(["edit", "x"]) is None  # turned off
    monkeypatch.setenv("ANYPIX_WARM_IDLE_S", "-1")
    assert warm.route(["edit", "x"]) is None  # bad settings: the command says so itself


def test_the_socket_path_is_short_and_private_to_the_data_dir(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["folder-with-a-long-name"] * 12)
    path = warm.socket_path(deep)
    assert len(str(path)) < 100 and path != warm.socket_path(tmp_path)
    assert warm.socket_path(tmp_path / "." / "x") == warm.socket_path(tmp_path / "x")


def _wait_ready(data_dir: Path, timeout: float = 180) -> None:
    log = warm.socket_path(data_dir).with_suffix(".log")
    assert warm.wait_ready(data_dir, timeout), log.read_text() if log.exists() else "no log"


def test_a_worker_runs_the_next_edit_as_the_command_would(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {"ANYPIX_WARM_IDLE_S": "120", "ANYPIX_MODEL": "tiny-random"}
    edit = ["--data-dir", str(data_dir), "edit", *FAST_RENDER, "--no-verify"]
    log = warm.socket_path(data_dir).with_suffix(".log")
    try:
        first = cli_process(*edit, "--out", str(tmp_path / "first.png"), "draw a cat", env=env)
        assert first.exit_code == 0, first.stderr
        _wait_ready(data_dir)
        assert warm.status(data_dir) is not None
        # From another folder, a relative --out is that folder's, as it is for the command.
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        second = cli_process(*edit, "--out", "out.png", "draw a dog", env=env, cwd=elsewhere)
        assert second.exit_code == 0, second.stderr
        assert second.stdout.strip() == "out.png" and (elsewhere / "out.png").is_file()
        assert "plan:" in second.stderr and "turn 1" in second.stderr
        assert "served in" in log.read_text()  # the worker ran it, not a fresh process
        # Errors keep their message and exit code.
        missing = cli_process("--data-dir", str(data_dir), "edit", "make [ghost] blue", env=env)
        assert missing.exit_code == 2 and "[ghost]" in missing.stderr
        assert log.read_text().count("served in") == 2
    finally:
        stopped = warm.stop(data_dir)
    assert stopped is not None
    deadline = time.monotonic() + 30
    while warm.status(data_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert warm.status(data_dir) is None and not warm.socket_path(data_dir).exists()
    assert not warm.socket_path(data_dir).with_suffix(".pid").exists()  # nothing left but its log


def test_a_worker_refuses_a_caller_whose_code_changed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    route = warm.Route(("edit", "x"), data_dir, 120.0, ())
    env = {"ANYPIX_WARM_IDLE_S": "120", "ANYPIX_MODEL": "tiny-random"}
    log = warm.socket_path(data_dir).with_suffix(".log")
    log.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(log, "ab") as out:
        worker = subprocess.Popen([sys.executable, "-m", "anypix.cli.warm", str(data_dir), "120"],
                                  env={**os.environ, **env}, stdout=out)  # fmt: skip
    try:
        _wait_ready(data_dir)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(route.socket))
            request = {"argv": ["edit", "x"], "cwd": str(tmp_path), "env": {}, "fingerprint": "old"}
            conn.sendall(json.dumps(request).encode() + b"\n")
            answer = json.loads(conn.makefile("rb").readline())
        assert answer == {"refused": "stale"}
        assert worker.wait(timeout=30) == 0  # a stale worker goes; the next edit starts afresh
        assert route.forward() is None  # nothing listens: the command runs on its own
    finally:
        worker.kill()
        worker.wait()


def test_no_worker_in_a_folder_others_can_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(warm.tempfile, "gettempdir", lambda: str(tmp_path))
    shared = tmp_path / f"anypix-{os.getuid()}"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)  # as another user (or a careless umask) could have made it first
    route = warm.Route(("edit", "x"), tmp_path / "data", 60.0, ())
    assert route.socket.parent == shared and not warm.private(shared)
    assert route.forward() is None
    route.start()
    assert not list(shared.iterdir())  # no worker started, no log written
    shared.chmod(0o700)
    assert warm.private(shared)


def test_a_worker_that_closes_without_a_word_leaves_the_command_to_run_here(
    tmp_path: Path,
) -> None:
    """A worker quitting (its data dir deleted, its idle time up) just as a command connects
    closes the connection unanswered: the command runs on its own instead of failing. One that
    stops after answering part of an edit is an error, as before."""
    import threading

    route = warm.Route(("edit", "x"), tmp_path, 120.0, ())
    route.socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for said in (b"", json.dumps({"out": "rendering\n"}).encode() + b"\n"):
        with contextlib.suppress(FileNotFoundError):
            route.socket.unlink()
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(route.socket))
        server.listen(1)

        def answer(server: socket.socket = server, said: bytes = said) -> None:
            conn, _ = server.accept()
            with conn:
                conn.makefile("rb").readline()  # the request
                conn.sendall(said)

        thread = threading.Thread(target=answer)
        thread.start()
        try:
            code = route.forward()
        finally:
            thread.join()
            server.close()
            route.socket.unlink()
        assert code == (None if not said else 1), said
