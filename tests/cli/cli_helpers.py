"""Helpers for the CLI tests: run ``anypix`` in-process (CliRunner) or as a process. Renders use
the tiny-random preset at 2 steps (real code, seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from anypix.cli import app

FAST_RENDER = ("--model", "tiny-random", "--steps", "2", "--size", "32x32")


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def error_lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


def cli(*args: str, input: str | None = None) -> Ran:
    """``anypix ARGS`` in this process, through the real entry point's error handling."""
    result = CliRunner().invoke(app, list(args), input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def cli_process(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Ran:
    """``anypix ARGS`` as its own process (stdin, stdout and stderr are pipes, not a terminal)."""
    done = subprocess.run([sys.executable, "-m", "anypix.cli", *args], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})}, cwd=cwd)  # fmt: skip
    return Ran(done.returncode, done.stdout, done.stderr)


def stored_files(data_dir: Path) -> list[Path]:
    """Every file in the asset store (empty when nothing was stored)."""
    return sorted(p for p in (data_dir / "assets").rglob("*") if p.is_file())
