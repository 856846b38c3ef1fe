"""The CLI shows what the verify step found, --no-verify keeps an output unchecked, and
--attempts is range-checked like every other flag (miniworld at 2 steps: real code, seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from anypix.models.miniworld.data import random_scene, render
from tests.cli.cli_helpers import cli

EDIT = ("edit", "--model", "miniworld", "--steps", "2", "--seed", "3")


@pytest.fixture
def scene(tmp_path: Path) -> str:
    path = tmp_path / "scene.png"
    Image.fromarray(render(random_scene(100_011, min_objects=2, max_objects=2))[0]).save(path)
    return f"scene={path}"


def test_attempts_out_of_range_is_one_line() -> None:
    ran = cli("edit", "--attempts", "0", "make [last] brighter")
    assert ran.exit_code == 2
    assert ran.error_lines == ["error: --attempts 0 is out of range (use 1 to 8)"]


@pytest.mark.usefixtures("one_thread")
def test_each_attempts_checks_are_printed_and_a_failure_is_never_silent(scene: str) -> None:
    ran = cli(*EDIT, "--attempts", "2", "-a", scene, "add a yellow ring to [scene] at the top")
    checks = [line for line in ran.error_lines if line.startswith("verify: ")]
    assert 1 <= len(checks) <= 2 and all("add a yellow ring" in line for line in checks)
    if ran.exit_code == 0:
        assert checks[-1].endswith(": verified")
    else:  # the turn is stored as failed and says why, in one line after the checks
        assert ran.exit_code == 2 and len(checks) == 2
        assert "not verified after 2 attempts" in ran.error_lines[-1]
        assert "--no-verify; or continue from its image anyway: anypix branch 1)" in ran.error_lines[-1]


@pytest.mark.usefixtures("one_thread")
def test_no_verify_keeps_the_render_as_drawn(scene: str) -> None:
    ran = cli(*EDIT, "--no-verify", "-a", scene, "add a yellow ring to [scene] at the top")
    assert ran.exit_code == 0
    assert not [line for line in ran.error_lines if line.startswith("verify: ")]
    assert ran.stdout.strip().endswith(".png")
