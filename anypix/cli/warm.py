"""The warm worker: ``anypix edit`` without paying for imports and model loading every time.

A fresh ``anypix edit`` spends most of its time before the render: importing torch (1.2 s on a
2-core CPU), diffusers (which imports ``torch._dynamo``: 1.3 s more) and loading the model. No
trimming of anypix's own import graph gets that under the render's own second. So after an
edit, the command leaves a worker behind: a process that imported everything, loaded the
configured preset (:func:`~anypix.tools.preset.keep_renderers`) and waits on a Unix socket.
The next ``anypix edit`` for the same data dir hands its command line, working directory and
environment to it, and prints what the worker's run of the same command prints; the exit code
is the same. The worker quits after ``warm_idle_s`` seconds without an edit (setting
``ANYPIX_WARM_IDLE_S``; 0 turns it off), when the data dir goes away, or when anypix's code or
weights change (it refuses the request and the command runs on its own).

Only ``edit`` goes through it. The socket lives in a folder only its user can open, and the
worker serves only that user (``SO_PEERCRED``). Ctrl-C in the command interrupts the worker's
render. ``anypix worker`` shows or stops it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

FORWARDED = ("edit",)  # the commands a worker runs
GLOBAL_OPTIONS_WITH_VALUE = ("--data-dir",)
PROTOCOL = 1


# -- where a worker listens ---------------------------------------------------------------------------
def socket_path(data_dir: Path) -> Path:
    """The worker socket of ``data_dir``: short (Unix sockets allow ~100 bytes), in a folder of
    this user's, named after the data dir's absolute path."""
    key = hashlib.sha256(str(data_dir.expanduser().resolve()).encode()).hexdigest()[:20]
    folder = Path(tempfile.gettempdir()) / f"anypix-{os.getuid()}"
    return folder / f"{key}.sock"


def private(folder: Path) -> bool:
    """Whether ``folder`` is a real folder of this user's that no one else can enter: the only
    kind a worker listens in or a command talks to (another user could have made the folder
    first in the shared temp dir, to read the environment a command sends)."""
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


def _make_private(folder: Path) -> bool:
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return private(folder)


def fingerprint(settings_paths: Sequence[Path] = ()) -> str:
    """What a worker's loaded code and weights depend on: the interpreter, anypix's files
    (sources and shipped weights, by size and modification time) and the files of the
    configured model paths. A worker whose fingerprint differs is stale."""
    import anypix

    digest = hashlib.sha256(f"{PROTOCOL}|{sys.executable}".encode())
    roots = [Path(anypix.__file__).parent, *settings_paths]
    for root in roots:
        if not root.is_dir():
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                try:
                    stat = os.stat(os.path.join(folder, name))
                except OSError:
                    continue
                digest.update(f"{folder}/{name}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


# -- the command's side -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """An ``anypix`` command line a worker can run: its data dir and idle time."""

    argv: tuple[str, ...]
    data_dir: Path
    idle_s: float
    model_paths: tuple[Path, ...]

    @property
    def socket(self) -> Path:
        return socket_path(self.data_dir)

    def forward(self) -> int | None:
        """Run the command in this data dir's worker: its exit code, or None when no worker
        took it (none runs, or it is stale), and the command must run here."""
        if not private(self.socket.parent):
            return None
        try:
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect(str(self.socket))
        except OSError:
            return None
        request = {
            "argv": list(self.argv),
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "fingerprint": fingerprint(self.model_paths),
            "tty": [sys.stdout.isatty(), sys.stderr.isatty()],
            "columns": _columns(),
        }
        with conn:
            try:
                conn.sendall(json.dumps(request).encode() + b"\n")
                return _relay(conn.makefile("rb"))
            except KeyboardInterrupt:
                sys.stderr.write("interrupted\n")
                return 130
            except OSError:
                return None  # it went away before answering: run here

    def start(self) -> None:
        """Start this data dir's worker in the background unless one runs (it loads the model
        while the person reads the result)."""
        if self.idle_s <= 0 or status(self.data_dir) is not None:
            return
        import subprocess

        log = self.socket.with_suffix(".log")
        if not _make_private(log.parent):
            return  # someone else's folder: no worker, every edit runs on its own
        command = [sys.executable, "-m", "anypix.cli.warm", str(self.data_dir), str(self.idle_s)]
        with open(log, "ab") as out:
            # Its own process group, so Ctrl-C at the terminal does not reach it, but the same
            # session: a new one is a new scheduler autogroup on Linux, which gave the worker's
            # two torch threads one core between them when the machine was busy (20x slower).
            subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             process_group=0, close_fds=True)  # fmt: skip


def route(argv: Sequence[str]) -> Route | None:
    """The worker route of an ``anypix`` command line, or None: not a forwarded command, help,
    an instruction read from stdin, workers turned off, or settings that do not load (the
    command itself then says what is wrong)."""
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "getuid"):
        return None
    command, data_dir = _command(argv)
    if command not in FORWARDED or {"-h", "--help", "-"} & set(argv):
        return None
    try:
        from anypix.config import load_settings

        settings = load_settings(data_dir=data_dir)
    except Exception:  # the command reports bad settings itself
        return None
    if settings.warm_idle_s <= 0:
        return None
    return Route(tuple(argv), settings.data_dir, settings.warm_idle_s,
                 tuple(settings.model_paths.values()))  # fmt: skip


def _command(argv: Sequence[str]) -> tuple[str | None, str | None]:
    """The subcommand of ``argv`` and the ``--data-dir`` given before it."""
    data_dir, args = None, list(argv)
    while args:
        arg = args.pop(0)
        if arg in GLOBAL_OPTIONS_WITH_VALUE:
            data_dir = args.pop(0) if args else None
        elif arg.startswith("--data-dir="):
            data_dir = arg.partition("=")[2]
        elif arg.startswith("-"):
            return None, data_dir
        else:
            return arg, data_dir
    return None, data_dir


def _columns() -> int | None:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return None


def _relay(answers: Any) -> int | None:
    """Write the worker's output here as it comes; its exit code (None: it refused, or closed
    the connection before a word: a worker that was quitting as the command connected, its
    data dir deleted or its idle time up, and the command runs here instead)."""
    answered = False
    for line in answers:
        message = json.loads(line)
        answered = True
        if "out" in message:
            sys.stdout.write(message["out"])
            sys.stdout.flush()
        elif "err" in message:
            sys.stderr.write(message["err"])
            sys.stderr.flush()
        elif "exit" in message:
            return int(message["exit"])
        elif "refused" in message:
            return None
    if not answered:
        return None
    sys.stderr.write("error: the warm worker stopped during the edit (run it again; "
                     "ANYPIX_WARM_IDLE_S=0 runs every edit on its own)\n")  # fmt: skip
    return 1


def status(data_dir: Path) -> int | None:
    """The process id of ``data_dir``'s worker, or None when none runs."""
    lock = socket_path(data_dir).with_suffix(".pid")
    try:
        pid = int(lock.read_text())
    except (OSError, ValueError):
        return None
    if not _holds_lock(lock):
        return None
    return pid


def wait_ready(data_dir: Path, timeout: float) -> bool:
    """Wait until ``data_dir``'s worker has loaded the model and takes edits (its log says
    "ready"); False when ``timeout`` seconds pass first."""
    log = socket_path(data_dir).with_suffix(".log")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and " ready" in log.read_text():
            return True
        time.sleep(0.2)
    return False


def stop(data_dir: Path) -> int | None:
    """Stop ``data_dir``'s worker; the id of the process stopped, or None."""
    pid = status(data_dir)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    return pid


def _holds_lock(path: Path) -> bool:
    """Whether some process holds the lock on ``path`` (the live worker does, until it exits)."""
    import fcntl

    try:
        with open(path) as handle:  # never creates it: a missing file is no worker
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False


# -- the worker's side --------------------------------------------------------------------------------
class _Stream(io.TextIOBase):
    """``sys.stdout``/``sys.stderr`` of a forwarded command: each write goes to the client."""

    encoding = "utf-8"

    def __init__(self, send: Callable[[dict[str, Any]], None], key: str, tty: bool) -> None:
        self._send, self._key, self._tty = send, key, tty

    def write(self, text: str) -> int:
        if text:
            self._send({self._key: text})
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return self._tty

    def fileno(self) -> int:
        raise OSError("a forwarded stream has no file descriptor")

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False


class Worker:
    """Serves one data dir's forwarded commands, one at a time, until idle for ``idle_s``."""

    def __init__(self, data_dir: Path, idle_s: float) -> None:
        self.data_dir, self.idle_s = data_dir, idle_s
        self.path = socket_path(data_dir)
        self.fingerprint = ""
        self._busy = False  # Ctrl-C (a client gone mid-command) interrupts only a command
        self._stopping = False

    def serve(self) -> None:
        import fcntl

        if not _make_private(self.path.parent):
            self._log(f"{self.path.parent} is not a private folder of this user's: not serving")
            return
        pid_file = open(self.path.with_suffix(".pid"), "a+")  # noqa: SIM115 - held for life
        try:
            fcntl.flock(pid_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another worker serves this data dir
        pid_file.seek(0)
        pid_file.truncate()
        pid_file.write(str(os.getpid()))
        pid_file.flush()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a dead worker's socket
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(self.path))
        os.chmod(self.path, 0o600)
        server.listen(8)
        signal.signal(signal.SIGINT, self._interrupt)
        signal.signal(signal.SIGTERM, self._terminate)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # outlive the terminal it started from
        self._log(f"listening on {self.path} for {self.data_dir}")
        try:
            self._preload()
            self.fingerprint = fingerprint(self._model_paths())
            self._log("ready")
            self._loop(server)
        finally:
            server.close()
            for path in (self.path, self.path.with_suffix(".pid")):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            self._log("stopped")

    def _loop(self, server: socket.socket) -> None:
        server.settimeout(min(self.idle_s, 10.0))
        last = time.monotonic()
        while not self._stopping and self.data_dir.exists():
            if time.monotonic() - last >= self.idle_s:
                return
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                if not self._same_user(conn):
                    continue
                if not self._handle(conn):
                    return  # stale: the code or weights changed under it
            last = time.monotonic()

    def _handle(self, conn: socket.socket) -> bool:
        """Run one forwarded command; False when the request came from changed code."""
        request = json.loads(conn.makefile("rb").readline() or b"{}")
        lock = threading.Lock()

        def send(message: dict[str, Any]) -> None:
            with lock, contextlib.suppress(OSError):
                conn.sendall(json.dumps(message).encode() + b"\n")

        if request.get("fingerprint") != self.fingerprint:
            send({"refused": "stale"})
            self._log("refused a request: anypix's code or weights changed")
            return False
        started = time.monotonic()
        code = self._run(request, conn, send)
        send({"exit": code})
        argv = " ".join(request["argv"])
        self._log(f"served in {time.monotonic() - started:.2f} s, exit {code}: anypix {argv}")
        return True

    def _run(self, request: dict[str, Any], conn: socket.socket,
             send: Callable[[dict[str, Any]], None]) -> int:  # fmt: skip
        from anypix.cli import app

        tty_out, tty_err = request.get("tty", [False, False])
        env = dict(request["env"])
        if request.get("columns"):
            env.setdefault("COLUMNS", str(request["columns"]))
        saved = sys.stdout, sys.stderr, dict(os.environ), os.getcwd()
        watcher = threading.Thread(target=self._watch, args=(conn,), daemon=True)
        try:
            sys.stdout = cast(TextIO, _Stream(send, "out", tty_out))
            sys.stderr = cast(TextIO, _Stream(send, "err", tty_err))
            os.environ.clear()
            os.environ.update(env)
            os.chdir(request["cwd"])
            self._busy = True
            watcher.start()
            app(args=request["argv"], prog_name="anypix")
            return 0
        except SystemExit as done:
            return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        except KeyboardInterrupt:
            sys.stderr.write("interrupted\n")
            return 130
        except BaseException:  # a bug: its traceback goes to the person
            sys.stderr.write(traceback.format_exc())
            return 1
        finally:
            self._busy = False
            sys.stdout, sys.stderr = saved[0], saved[1]
            os.environ.clear()
            os.environ.update(saved[2])
            os.chdir(saved[3])

    def _watch(self, conn: socket.socket) -> None:
        """Interrupt the command when its client goes away (Ctrl-C there)."""
        with contextlib.suppress(OSError):
            while self._busy and conn.recv(1):
                pass
        if self._busy:
            os.kill(os.getpid(), signal.SIGINT)

    def _interrupt(self, signum: int, frame: Any) -> None:
        if self._busy:
            raise KeyboardInterrupt

    def _terminate(self, signum: int, frame: Any) -> None:
        """``anypix worker stop``: a command running is interrupted, then the worker exits."""
        self._stopping = True
        if self._busy:
            raise KeyboardInterrupt
        raise SystemExit(0)

    @staticmethod
    def _same_user(conn: socket.socket) -> bool:
        if not hasattr(socket, "SO_PEERCRED"):
            return True  # the socket's folder is this user's alone
        import struct

        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        return struct.unpack("3i", creds)[1] == os.getuid()

    def _model_paths(self) -> tuple[Path, ...]:
        from anypix.config import load_settings

        return tuple(load_settings(data_dir=self.data_dir).model_paths.values())

    def _preload(self) -> None:
        """Import every command and load the configured preset, as the next edit will."""
        import anypix.cli  # noqa: F401 - the commands
        from anypix.cli.app import _quiet_libraries
        from anypix.config import load_settings
        from anypix.tools.preset import keep_renderers, renderer_for

        _quiet_libraries()
        keep_renderers()
        started = time.monotonic()
        try:
            renderer_for(load_settings(data_dir=self.data_dir)).warm()
        except Exception as exc:  # the edit reports it; the worker still serves
            self._log(f"could not preload the model: {exc}")
        self._log(f"preloaded in {time.monotonic() - started:.1f} s")

    def _log(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        print(f"{stamp} [{os.getpid()}] {line}", file=sys.__stdout__, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m anypix.cli.warm DATA_DIR IDLE_S``: run a worker (``anypix edit`` starts it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2:
        sys.stderr.write("usage: python -m anypix.cli.warm DATA_DIR IDLE_SECONDS\n")
        return 2
    Worker(Path(args[0]), float(args[1])).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
