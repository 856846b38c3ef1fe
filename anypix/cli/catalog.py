"""``anypix tools``, ``models`` and ``bench``: what this install has, and its benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from anypix.cli.app import app, print_json, settings_for
from anypix.cli.options import JsonOption
from anypix.errors import UserError


@app.command()
def tools(as_json: Annotated[bool, typer.Option("--json", help="OpenAI-style function schemas.")] = False) -> None:  # fmt: skip
    """List the tools the planner, the CLI and the MCP server share."""
    from anypix.tools.registry import all_tools

    found = all_tools()
    if as_json:
        print_json([t.openai_schema() for t in found])
        return
    from rich.console import Console
    from rich.table import Table

    from anypix.console import markup_safe

    table = Table("tool", "description")
    for t in found:
        table.add_row(t.name, markup_safe(t.description))
    Console().print(table if found else "no tools are registered yet")


@app.command()
def models(ctx: typer.Context) -> None:
    """List the model presets and where each loads from."""
    from rich.console import Console
    from rich.table import Table

    from anypix.config import config_file
    from anypix.console import markup_safe
    from anypix.models.registry import local_path, presets

    settings = settings_for(ctx)
    table = Table("preset", "kind", "source", "description", title="model presets")
    for preset in presets().values():
        local = local_path(preset.name, settings)
        source = f"{local} (local)" if local else preset.source
        table.add_row(markup_safe(preset.name), preset.kind, markup_safe(source),
                      markup_safe(preset.description))  # fmt: skip
    console = Console()
    console.print(table)
    console.print(
        f"Point a preset at a local directory with model_paths in {config_file()}, or let Hub "
        "presets download with ANYPIX_ALLOW_DOWNLOADS=1.",
        markup=False,
        highlight=False,
    )


def benchmarks_dir(package_root: Path | None = None, start: Path | None = None) -> Path:
    """benchmarks/ of the checkout anypix runs from (an editable install), else of the checkout
    ``start`` (the current folder) is in: the benchmarks are not part of the installed package."""
    import anypix

    package_root = package_root or Path(anypix.__file__).resolve().parent.parent
    start = (start or Path.cwd()).resolve()
    for folder in (package_root, start, *start.parents):
        if (folder / "benchmarks").is_dir() and (folder / "pyproject.toml").is_file():
            return folder / "benchmarks"
    raise UserError("the benchmarks are not here: they live in a checkout of the anypix "
                    "repository, not in the installed package",
                    "run anypix bench from inside a clone of the repository")  # fmt: skip


@app.command()
def bench(
    name: Annotated[str, typer.Argument(help="Benchmark to run: startup, engine, memory, ...")],
    as_json: JsonOption = False,
) -> None:
    """Run one of the benchmarks in a checkout's benchmarks/ folder and print its table."""
    import runpy

    folder = benchmarks_dir()
    script = folder / f"{name}.py"
    if not script.is_file():
        found = sorted(p.stem for p in folder.glob("*.py") if not p.stem.startswith("_"))
        raise UserError(
            f"no benchmark named {name!r}", f"choose one of {', '.join(found) or 'none'}"
        )
    sys.argv = [str(script), *(["--json"] if as_json else [])]
    runpy.run_path(str(script), run_name="__main__")
