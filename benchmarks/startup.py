"""Start-up cost of the CLI: `anypix --help` and a fast-path `anypix plan` must stay well under a
second, which means torch, diffusers and llama.cpp are imported only by commands that need them.

    python benchmarks/startup.py [--json] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

HEAVY = ("torch", "diffusers", "transformers", "llama_cpp", "textual", "sqlmodel")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=5)
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
    if args.json:
        print(
            json.dumps(
                {
                    "help_s": round(rows["anypix --help"][0], 4),
                    "plan_fast_path_s": round(rows["anypix plan --json (fast path)"][0], 4),
                    "heavy_imports_in_plan": rows["anypix plan --json (fast path)"][1],
                }
            )
        )
        return
    print(f"{'command':<34} {'median s':>9}  heavy modules imported")
    for name, (seconds, heavy) in rows.items():
        print(f"{name:<34} {seconds:>9.3f}  {', '.join(heavy) or '-'}")


if __name__ == "__main__":
    main()
