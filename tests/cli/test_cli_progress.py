"""What `anypix edit` says while it works: the plan as soon as it exists, then a progress bar on a
terminal or plain lines in a pipe, all on stderr; stdout keeps only the results."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

from cli_helpers import FAST_RENDER, cli, cli_process
from rich.console import Console

from anypix.console import render_progress


def test_a_pipe_gets_plain_lines_the_plan_first(images: dict[str, Path]) -> None:
    ran = cli_process("edit", *FAST_RENDER, "--steps", "10", "-a", f"photo={images['photo']}",
                      "make [photo] brighter")  # fmt: skip
    assert ran.exit_code == 0, ran.stderr
    lines = ran.stderr.splitlines()
    assert lines[0] == "plan:" and lines[1].startswith("[base] photo")
    steps = [line for line in lines if line.startswith("rendering: step ")]
    assert re.fullmatch(r"rendering: step (\d+)/\1", steps[-1])  # to the last UNet pass
    assert 2 <= len(steps) <= 11  # a line per tenth of the way, not one per step
    assert lines.index(steps[0]) > 1  # the plan came before the render
    assert "\x1b" not in ran.stderr  # no terminal codes in a pipe
    (output,) = ran.stdout.splitlines()  # stdout: only the image's path
    assert Path(output).is_file() and Path(output).name.endswith("-t1-restyle.png")


def test_library_warnings_stay_off_the_terminal(images: dict[str, Path]) -> None:
    ran = cli_process("edit", *FAST_RENDER, "-a", f"photo={images['photo']}", "make [photo] brighter")
    assert ran.exit_code == 0, ran.stderr
    assert "torchvision" not in ran.stderr and "Warning" not in ran.stderr


def test_a_terminal_gets_a_progress_bar(images: dict[str, Path]) -> None:
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "anypix.cli", "edit", *FAST_RENDER, "--steps", "6",
         "-a", f"photo={images['photo']}", "make [photo] brighter"],
        stdout=subprocess.PIPE, stderr=secondary, env={**os.environ, "COLUMNS": "100"},
    )  # fmt: skip
    os.close(secondary)
    shown = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        shown += chunk
    stdout, _ = process.communicate(timeout=120)
    os.close(primary)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))  # no colours
    assert process.returncode == 0, text
    assert "plan:" in text and "[base] photo" in text
    assert re.search(r"rendering ━+ (\d+)/\1 ", text)  # Rich's bar, run to its end
    assert "rendering: step" not in text  # not the plain lines
    assert Path(stdout.decode().strip()).is_file()


def test_quiet_and_json_keep_stdout_clean(images: dict[str, Path]) -> None:
    quiet = cli("edit", "--quiet", *FAST_RENDER, "-a", f"photo={images['photo']}", "make [photo] brighter")
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert Path(quiet.stdout.strip()).is_file()
    talked = cli("edit", "--json", *FAST_RENDER, "-c", "make [last] darker")
    assert talked.exit_code == 0 and "plan:" in talked.stderr
    assert json.loads(talked.stdout)["seq"] == 2  # stdout is exactly one JSON object


def test_plain_progress_reports_each_tenth_once_per_render() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=False, width=80)
    with render_progress(console, "rendering") as (progress, counter):
        for _ in range(2):  # two variations, 20 steps each
            for done in range(1, 21):
                progress(done, 20)
    lines = stream.getvalue().splitlines()
    assert lines == [f"rendering: step {d}/20" for d in (1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20)] * 2
    assert (counter.done, counter.total) == (20, 20)


def test_terminal_progress_draws_a_bar() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, width=80)
    with render_progress(console, "add [dog]") as (progress, _):
        for done in range(1, 5):
            progress(done, 4)
    drawn = stream.getvalue()
    assert "add [dog]" in drawn and "4/4" in drawn and "━" in drawn


def test_a_plan_prints_one_token_line_per_line_at_any_width() -> None:
    from anypix.console import print_plan
    from anypix.plan import Blob, EditPlan, Op

    blob = Blob(description="a red ring", cx=0.25, cy=0.55, a=0.22, b=0.18, angle=0)
    plan = EditPlan(base="photo", gen="with a red ring", ops=[Op(op="add", target="a red ring")],
                    blobs=[blob])  # fmt: skip
    stream = io.StringIO()
    print_plan(Console(file=stream, width=40), plan)
    assert stream.getvalue().splitlines() == ["plan:", *plan.tokens().splitlines()]
