"""The CLI frame: help, error handling, the plan JSON contract, and lazy heavy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image


def anypix(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anypix.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, colour in (("photo", "green"), ("dog", "brown")):
        paths[name] = tmp_path / f"{name}.png"
        Image.new("RGB", (16, 16), colour).save(paths[name])
    return paths


def test_help_lists_every_command() -> None:
    result = anypix("--help")
    assert result.returncode == 0
    for command in (
        "plan",
        "edit",
        "run",
        "chat",
        "tui",
        "serve",
        "models",
        "bench",
        "demo",
        "tools",
    ):
        assert command in result.stdout


def test_plan_json_contract_for_the_canonical_example(images: dict[str, Path]) -> None:
    result = anypix(
        "plan",
        "--json",
        "--asset",
        f"photo={images['photo']}",
        "--asset",
        f"dog={images['dog']}",
        "add [dog] to [photo] and remove the cat",
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert set(plan) == {"base", "subs", "gen", "ops", "blobs", "boxes", "style_ref", "tokens"}
    assert plan["base"] == "photo"
    assert plan["subs"] == ["dog"]
    assert [op["op"] for op in plan["ops"]] == ["add", "remove"]
    assert str(images["photo"]) not in result.stdout  # names, never paths


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["plan", "   "], "instruction is empty"),
        (["plan", "add [dog] to [photo]"], "[dog] is not in this session"),
        (
            ["plan", "--asset", "photo=/no/such/file.png", "remove the cat from [photo]"],
            "does not exist",
        ),
        (["plan", "--asset", "bad name=x.png", "x"], "not a usable asset name"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(args: list[str], fragment: str) -> None:
    result = anypix(*args)
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_file_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "photo.png"
    fake.write_text("this is not a png, only words " * 10)
    result = anypix("plan", "--asset", f"photo={fake}", "remove the cat from [photo]")
    assert result.returncode == 2
    assert "neither an image nor audio" in result.stderr


def test_fast_path_plan_imports_no_heavy_library(images: dict[str, Path]) -> None:
    code = (
        "import sys\nfrom anypix.cli import main\n"
        f"sys.argv = ['anypix', 'plan', '--asset', 'photo={images['photo']}', 'remove the cat from [photo]']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "heavy = [m for m in ('torch', 'diffusers', 'transformers', 'llama_cpp', 'textual') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY=\n" in out.stdout or out.stdout.rstrip().endswith("HEAVY=")


def test_models_lists_every_preset() -> None:
    result = anypix("models")
    assert result.returncode == 0
    for preset in (
        "tiny-random",
        "miniworld",
        "sd15",
        "sdxl",
        "gligen",
        "imagebind-huge",
        "vicuna-7b",
        "smollm2",
    ):
        assert preset in result.stdout


def test_unknown_benchmark_names_the_ones_that_exist() -> None:
    result = anypix("bench", "nope")
    assert result.returncode == 2
    assert "startup" in result.stderr


@pytest.mark.parametrize(
    ("command", "module"), [("tui", "anypix.tui"), ("serve", "anypix.api.server")]
)
def test_a_front_end_that_cannot_import_says_so_with_exit_code_3(command: str, module: str) -> None:
    # The module is blocked in sys.modules, as if its package or a dependency were missing.
    code = (
        f"import sys\nsys.modules[{module!r}] = None\nfrom anypix.cli import main\n"
        f"sys.argv = ['anypix', {command!r}]\nmain()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 3, result.stderr
    assert "cannot start" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_chat_reads_commands_from_stdin_until_quit() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "anypix.cli", "chat", "--llm", "fast", "--session", "piped"],
        input="/help\n/show\n/quit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "session piped" in result.stdout and "/attach NAME=PATH" in result.stdout
    assert "no turns yet" in result.stdout and result.stdout.rstrip().endswith("bye")


@pytest.mark.parametrize("command", ["run", "chat", "tui", "serve"])
def test_front_end_help_explains_with_an_example(command: str) -> None:
    result = anypix(command, "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout


def test_tools_json_is_the_shared_tool_table() -> None:
    from anypix.tools.registry import all_tools

    result = anypix("tools", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [t["function"]["name"] for t in listed] == [t.name for t in all_tools()]
    assert all(t["function"]["parameters"]["type"] == "object" for t in listed)
