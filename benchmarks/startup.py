"""Start-up cost of the CLI: `anypix --help` and a fast-path `anypix plan` must stay well under a
second, which means torch, diffusers and llama.cpp are imported only by commands that need them;
a cold `anypix edit` with the default model, from the shell to the saved image, targets 3 s.

    python benchmarks/startup.py [--json] [--repeat N] [--edits N] [--skip-edit]

The cold edit is `anypix edit` run from the shell each time, with the default settings (model,
planner, verification) in one data dir that the first, unmeasured edit set up (its database, its
caches, and the warm worker it leaves behind: anypix/cli/warm.py): what a person waits for on
every edit after the first. It reports the wall time (cold_edit_s), the command's CPU time (user +
system; the worker's is not in it), the render inside it (the turn's own timing, so the start-up
cost reads as cold_edit_s - render) and the time to the first update on stderr. The same figures
with every edit a fresh process on its own (ANYPIX_WARM_IDLE_S=0: imports and model loading each
time) are the process_edit_* keys, and the LLM planner's time to its first update, when the fast
path cannot read the instruction, is measured that way too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

HEAVY = ("torch", "diffusers", "transformers", "llama_cpp", "textual", "sqlmodel")
# The fast planner reads it and the default model draws it so that verification passes at the
# first attempt (the figures say how many renders it took; a retry would double the render).
COLD_INSTRUCTION = "draw a green rectangle"
# The fast path refuses it (a request, not a description): the LLM planner plans it.
LLM_INSTRUCTION = "I'd love a picture where a blue triangle sits next to a small green ring"


def _time(cmd: list[str], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _heavy_imports(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('\\nHEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    marker = [line for line in out.stdout.splitlines() if line.startswith("HEAVY=")][-1]
    return [m for m in marker.removeprefix("HEAVY=").split(",") if m]


class EditFailed(SystemExit):
    """An edit that exited with an error, and the seconds to its first update (the plan is
    shown before the render, so a failed check after it does not hide the planner's time)."""

    def __init__(self, message: str, first_update_s: float | None) -> None:
        super().__init__(message)
        self.first_update_s = first_update_s


def _cold_edit(cli: list[str], data_dir: Path, instruction: str,
               env: dict[str, str] | None = None) -> dict[str, float | None]:  # fmt: skip
    """One `anypix edit` in a fresh process: wall and CPU seconds to exit (the image is saved by
    then; the CPU is the command's own, not a warm worker's), seconds to its first line on
    stderr, and its render's own seconds."""
    out = data_dir.parent / "out"
    # A fixed seed: an unseeded edit draws afresh each time and may take a retry to verify.
    cmd = [*cli, "--data-dir", str(data_dir), "edit", "--json", "--seed", "1",
           "--out", str(out / "edit.png"), instruction]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stdout:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})  # fmt: skip
        assert proc.stderr is not None
        first, lines = None, []
        for line in proc.stderr:  # what a person sees: the plan, then the progress
            if first is None and line.strip():
                first = time.perf_counter() - start
            lines.append(line)
        proc.wait()
        wall = time.perf_counter() - start
        stdout.seek(0)
        result = stdout.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise EditFailed(f"anypix edit {instruction!r} failed: {''.join(lines[-3:]).strip()}",
                         first)  # fmt: skip
    turn = json.loads(result)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    render = sum(r["timings"].get("total", 0.0) for r in turn["renders"])
    attempts = sum(step["tool"] == "render" for step in turn["steps"])
    return {"wall_s": wall, "cpu_s": cpu, "first_update_s": first, "render_s": render,
            "attempts": attempts}  # fmt: skip


# A fresh process does everything: no warm worker is left behind or used.
ON_ITS_OWN = {"ANYPIX_WARM_IDLE_S": "0"}


def _series(cli: list[str], data_dir: Path, repeat: int,
            env: dict[str, str] | None) -> tuple[dict[str, float | None], list[dict[str, float | None]]]:  # fmt: skip
    first = _cold_edit(cli, data_dir, COLD_INSTRUCTION, env)
    if env is None:  # the default settings: the first edit leaves a worker; a person reads first
        _wait_for_worker(data_dir)
    return first, [_cold_edit(cli, data_dir, COLD_INSTRUCTION, env) for _ in range(repeat)]


def _wait_for_worker(data_dir: Path, timeout: float = 120.0) -> None:
    from anypix.cli.warm import socket_path, wait_ready

    if not wait_ready(data_dir, timeout):
        log = socket_path(data_dir).with_suffix(".log")
        raise SystemExit(f"no warm worker got ready for {data_dir} (see {log})")


def cold_edits(cli: list[str], repeat: int) -> dict[str, float | None]:
    """Medians over ``repeat`` edits from the shell after one unmeasured first edit: with the
    default settings (the first edit leaves a warm worker, which runs the later ones), and each
    in a fresh process on its own (``ANYPIX_WARM_IDLE_S=0``: imports and model loading every
    time). The LLM planner's time to its first update, once, on its own (it loads a language
    model: the slow path)."""
    from anypix.cli.warm import stop

    root = Path(tempfile.mkdtemp(prefix="anypix-startup-"))
    data_dir = root / "data"
    try:
        first, runs = _series(cli, data_dir, repeat, None)
    finally:
        stop(data_dir)
    alone_first, alone = _series(cli, root / "alone", repeat, ON_ITS_OWN)

    def median(key: str, series: list[dict[str, float | None]]) -> float:
        return round(statistics.median(float(r[key] or 0.0) for r in series), 3)

    figures: dict[str, float | None] = {
        "first_edit_s": round(float(first["wall_s"] or 0.0), 3),
        "cold_edit_s": median("wall_s", runs), "cold_edit_cpu_s": median("cpu_s", runs),
        "cold_edit_render_s": median("render_s", runs),
        "cold_edit_first_update_s": median("first_update_s", runs),
        "cold_edit_renders": max(float(r["attempts"] or 0) for r in runs),
        "process_edit_s": median("wall_s", alone), "process_edit_cpu_s": median("cpu_s", alone),
        "process_edit_render_s": median("render_s", alone),
        "process_edit_first_update_s": median("first_update_s", alone),
        "process_first_edit_s": round(float(alone_first["wall_s"] or 0.0), 3),
    }  # fmt: skip
    try:
        llm = _cold_edit(cli, root / "alone", LLM_INSTRUCTION, ON_ITS_OWN)
        figures["llm_first_update_s"] = round(float(llm["first_update_s"] or 0.0), 3)
        figures["llm_edit_s"] = round(float(llm["wall_s"] or 0.0), 3)
    except EditFailed as exc:  # no LLM installed here, or its drawing failed its checks
        first_update = exc.first_update_s if "error: not verified" in str(exc) else None
        figures["llm_first_update_s"] = None if first_update is None else round(first_update, 3)
        figures["llm_note"] = str(exc)  # type: ignore[assignment]
    return figures


def _load() -> str:
    """The machine's load, which every wall-clock figure here depends on."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--edits", type=int, default=3, help="cold edits measured (after one)")
    parser.add_argument("--skip-edit", action="store_true", help="skip the cold edits (minutes)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp())
    Image.new("RGB", (8, 8), "red").save(tmp / "a.png")
    Image.new("RGB", (8, 8), "blue").save(tmp / "b.png")
    cli = [sys.executable, "-m", "anypix.cli"]
    plan = [
        *cli,
        "plan",
        "--json",
        "--asset",
        f"photo={tmp / 'a.png'}",
        "--asset",
        f"dog={tmp / 'b.png'}",
        "add [dog] to [photo] and remove the cat",
    ]
    plan_code = (
        "import sys; from anypix.cli import main; "
        f"sys.argv = {['anypix', *plan[3:]]!r}\n"
        "try:\n    main()\nexcept SystemExit:\n    pass"
    )
    rows = {
        "python -c pass (floor)": (_time([sys.executable, "-c", "pass"], args.repeat), []),
        "import anypix.plan": (
            _time([sys.executable, "-c", "import anypix.plan"], args.repeat),
            _heavy_imports("import anypix.plan"),
        ),
        "anypix --help": (
            _time([*cli, "--help"], args.repeat),
            _heavy_imports("import anypix.cli"),
        ),
        "anypix plan --json (fast path)": (_time(plan, args.repeat), _heavy_imports(plan_code)),
    }
    edits = {} if args.skip_edit else cold_edits(cli, args.edits)
    if args.json:
        print(
            json.dumps(
                {
                    "help_s": round(rows["anypix --help"][0], 4),
                    "plan_fast_path_s": round(rows["anypix plan --json (fast path)"][0], 4),
                    "heavy_imports_in_plan": rows["anypix plan --json (fast path)"][1],
                    **edits,
                    "load": _load(),
                }
            )
        )
        return
    print(f"{'command':<34} {'median s':>9}  heavy modules imported")
    for name, (seconds, heavy) in rows.items():
        print(f"{name:<34} {seconds:>9.3f}  {', '.join(heavy) or '-'}")
    for key, value in edits.items():
        shown = "n/a" if value is None else value if isinstance(value, str) else f"{value:>9.3f}"
        print(f"{key:<34} {shown}")
    print(_load())


if __name__ == "__main__":
    main()
