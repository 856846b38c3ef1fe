"""`anypix plan` end to end through the console entry point (exit codes and one-line errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from PIL import Image


def anypix(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from anypix.cli import main; sys.argv = ['anypix', *sys.argv[1:]]; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
    )


def test_plan_json_for_a_compound_instruction(tmp_path: Path) -> None:
    for name in ("a", "b"):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{name}.png")
    result = anypix("plan", "--json", "--asset", f"photo={tmp_path / 'a.png'}",
                    "--asset", f"dog={tmp_path / 'b.png'}", "add [dog] to [photo] and remove the cat")  # fmt: skip
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert set(plan) == {"base", "subs", "gen", "ops", "blobs", "boxes", "style_ref", "tokens"}
    assert (plan["base"], plan["subs"]) == ("photo", ["dog"])
    assert [op["op"] for op in plan["ops"]] == ["add", "remove"]


def test_unknown_reference_and_non_canonical_fast_path_are_one_line_errors(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    unknown = anypix("plan", "--asset", f"photo={tmp_path / 'a.png'}", "add [dog] to [photo]")
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    assert "[dog] is not in this session" in unknown.stderr
    refused = anypix("plan", "--llm", "fast", "--asset", f"photo={tmp_path / 'a.png'}",
                     "blur the background of [photo]")  # fmt: skip
    assert refused.returncode == 2 and "fast path cannot read" in refused.stderr
    assert "Traceback" not in refused.stderr
