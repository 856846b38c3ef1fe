"""Shared by the hostile-input tests: run ``anypix`` as a person (or an attacker) would, and check
the three things every refusal must hold to: one line on stderr, the documented exit code, and
nothing written or changed.

``cli`` runs the real typer app in this process (fast); ``cli_process`` runs ``python -m
anypix.cli`` as its own process, optionally without root's power to ignore file permissions (the
tests run as root in CI, and root writes into read-only folders) or with a cap on file sizes (a
disk that fills up).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image
from typer.testing import CliRunner

from anypix.cli import app
from anypix.plan import EditPlan, Knobs, Op
from anypix.records import Provenance, Render

# What no output may carry raw: C0 controls but newline, DEL, C1 controls, bidi overrides and
# isolates, and the Unicode line and paragraph separators.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")

USER_ERROR = 2  # anypix.errors: "the input needs fixing"


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str
    traceback: str | None = None  # an exception that escaped the CLI's error path

    def __str__(self) -> str:
        return f"exit {self.exit_code}\nstdout: {self.stdout!r}\nstderr: {self.stderr!r}" + (
            f"\n{self.traceback}" if self.traceback else ""
        )


def cli(data_dir: Path, *args: str) -> Ran:
    """``anypix --data-dir DATA_DIR ARGS`` in this process, through the real error handling."""
    import traceback

    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args])
    escaped = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        escaped = "".join(traceback.format_exception(result.exception))
    return Ran(result.exit_code, result.stdout, result.stderr, escaped)


_libc = ctypes.CDLL(None, use_errno=True)
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER = 1, 2, 3


def _without_root_file_powers() -> None:
    """In the child before exec: drop the capabilities that let root ignore permission bits
    (root keeps its uid, so the interpreter under /root stays readable)."""
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        if _libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _file_size_cap(limit: int) -> Callable[[], None]:
    def cap() -> None:  # writes past ``limit`` fail (EFBIG) instead of killing the process
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return cap


def cli_process(
    data_dir: Path,
    *args: str,
    permissions: bool = False,
    max_file_bytes: int | None = None,
    timeout: float = 120,
) -> Ran:
    """``anypix --data-dir DATA_DIR ARGS`` as its own process. ``permissions``: file permission
    bits bind it even when the tests run as root; ``max_file_bytes``: no file it writes may grow
    past that (a full disk)."""
    steps: list[Callable[[], None]] = []
    if permissions and os.geteuid() == 0:
        steps.append(_without_root_file_powers)
    if max_file_bytes is not None:
        steps.append(_file_size_cap(max_file_bytes))

    def before_exec() -> None:
        for step in steps:
            step()

    done = subprocess.run(
        [sys.executable, "-m", "anypix.cli", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=timeout, preexec_fn=before_exec if steps else None,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    return Ran(done.returncode, done.stdout, done.stderr)


def assert_one_line_error(ran: Ran, code: int = USER_ERROR, *, mentions: str = "") -> str:
    """The refusal every hostile input must get: no traceback, nothing on stdout, exactly one
    line on stderr that starts with ``error:`` and holds no raw control character, and the
    documented exit code. Returns the line."""
    assert ran.traceback is None, str(ran)
    assert "Traceback" not in ran.stderr, str(ran)
    assert ran.exit_code == code, str(ran)
    assert ran.stdout == "", str(ran)
    lines = ran.stderr.splitlines()
    assert len(lines) == 1 and ran.stderr.endswith("\n"), str(ran)
    assert lines[0].startswith("error: "), str(ran)
    assert not RAW_CONTROL.search(ran.stderr), str(ran)
    assert mentions in lines[0], str(ran)
    return lines[0]


def assert_clean_output(ran: Ran) -> None:
    """A command that succeeded, and printed nothing a terminal would act on."""
    assert ran.traceback is None and ran.exit_code == 0, str(ran)
    assert not RAW_CONTROL.search(ran.stdout + ran.stderr), str(ran)


# -- what is on disk ----------------------------------------------------------------------------------

_DB_FILES = ("anypix.db", "anypix.db-wal", "anypix.db-shm")


def database_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order (what "nothing changed" means for SQLite)."""
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]  # fmt: skip
        return {t: sorted(conn.execute(f'SELECT * FROM "{t}"'), key=repr) for t in tables}
    finally:
        conn.close()


def data_dir_state(data_dir: Path) -> dict[str, Any]:
    """The database's rows and every other file's content under the data dir."""
    files = {}
    if data_dir.is_dir():
        for path in sorted(data_dir.rglob("*")):
            if path.is_file() and path.name not in _DB_FILES:
                files[str(path.relative_to(data_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"rows": database_rows(data_dir / "anypix.db"), "files": files}


def path_state(path: Path) -> tuple[Any, ...]:
    """What a target path is: kind, mode, inode and content (for a regular file)."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return ("missing",)
    except OSError as exc:  # a name too long, a file where a folder should be
        return ("unreachable", exc.errno)
    content = None
    if path.is_file() and not path.is_symlink():
        content = hashlib.sha256(path.read_bytes()).hexdigest()
    link = os.readlink(path) if path.is_symlink() else None
    return (info.st_mode, info.st_ino, info.st_size, content, link)


def folder_listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- a data dir with turns in it (fake planner and renderer: no models) ------------------------------


def fake_planner(instruction: str, modalities: Mapping[str, str]) -> EditPlan:
    """Edits the current image when there is one, else generates; never refuses."""
    if "last" in modalities:
        return EditPlan(base="last", gen="more", ops=[Op(op="variation")])
    return EditPlan(gen="a picture", ops=[Op(op="generate")], knobs=Knobs(seed=7))


def flat_renderer(plan: EditPlan, assets: Mapping[str, Any], **_: Any) -> Render:
    """An 8x8 image whose colour depends on the plan."""
    digest = hashlib.sha256(plan.tokens().encode()).digest()
    provenance = Provenance(
        preset="flat", weight_hash="0" * 64, seed=plan.knobs.seed or 0, scheduler="none",
        steps=1, guidance=0.0, alpha=plan.knobs.alpha, size=(8, 8), device="cpu",
        dtype="uint8", plan_tokens=plan.tokens(),
    )  # fmt: skip
    return Render(images=[Image.new("RGB", (8, 8), tuple(digest[:3]))], provenance=provenance)


def make_session(data_dir: Path, name: str, instructions: list[str]) -> str:
    """A stored session with one ok turn per instruction; its id."""
    from anypix.studio import Studio

    with Studio(data_dir, planner=fake_planner, renderer=flat_renderer, locator=None) as studio:
        session = studio.new_session(name)
        for instruction in instructions:
            session.edit(instruction)
        return session.id
