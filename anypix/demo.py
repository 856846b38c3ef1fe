"""The offline demo: a short scripted session that plans, renders, stores and undoes.

It runs with no network and no downloaded weights: inputs are drawn by the default model family's
``sample_inputs`` (a scene, a reference object, a style reference and a tone), the planner is the
deterministic fast path (with the embedded LLM behind it), and rendering uses the configured
preset - by default the offline model shipped in the package. The session generates from a
blob layout, adds an object from a reference image, adds one described in words, recolours,
removes, moves and replaces an object, restyles with a reference, asks for a variation, adds an
object from a sound, and undoes: every op of the plan language (docs/ops.md), each turn with
what the agent's verify step said of it. Everything lands in a session
under ``OUT/data``; ``OUT/report.html`` shows each turn with its plan and a thumbnail.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:
    from anypix.memory.history import TurnDetail

# (what it shows, instruction): every op of the plan language at least once. Names in
# [brackets] are the attachments made by _make_inputs; every edit edits the attached [scene].
# The model puts colours in the right place but draws shapes poorly (v2 shape accuracy 0.45):
# the added object is an ellipse, the shape it draws best. The layout keeps a rectangle: two
# ellipses plan as one blob (both named "ellipse"), so the model's rectangle may fail verify.
# The added ellipse is green: a yellow one touches the scene's yellow rectangle and the two
# read as one region. [ref] is the family's purple triangle: the model draws its colour there,
# not its shape, and the demo shows that turn as the verify step says.
SCRIPT: tuple[tuple[str, str], ...] = (
    ("generate with a blob layout", "a red ellipse on the left and a blue rectangle on the right"),
    ("add an object from a reference", "add [ref] to [scene] on the left"),
    ("add an object described in words", "add a green ellipse to [scene] at the top"),
    ("recolour", "make the ring in [scene] green"),
    ("remove", "remove the pink triangle from [scene]"),
    ("move", "move the ring in [scene] to the right"),
    ("replace", "replace the yellow rectangle in [scene] with a blue ellipse"),
    ("restyle with a reference", "paint [scene] in the style of [stripes]"),
    ("a variation", "give me a variation of [scene]"),
    ("an audio-driven edit", "add [tone] to [scene] on the right"),
)
# Turns that set a knob: a variation that changes details, not content, keeps 90% of its [base].
STRENGTH = {"a variation": 0.1}
# Every turn is seeded (turn i: SEED + i), so the demo draws the same pictures on every run.
SEED = 1
# tiny-random has no image-embedding path, so it cannot honestly render [sub] images or sounds.
NEEDS_SUBJECTS = frozenset({"add an object from a reference", "an audio-driven edit"})


@dataclass
class DemoTurn:
    title: str
    instruction: str
    tokens: str
    outputs: list[Path]
    seconds: float
    status: str
    verification: str  # what the agent's verify step said of the kept output ("" if none ran)


def _make_inputs(folder: Path) -> dict[str, Path]:
    """The demo's attachments, drawn by the default model family (the one shipped in the
    package): the demo's script is written for what that family draws."""
    from anypix.models.registry import DEFAULT_MODEL, family_of

    family = family_of(DEFAULT_MODEL)
    if family is None or family.sample_inputs is None:
        raise RuntimeError(f"the default preset {DEFAULT_MODEL!r} has no sample inputs to draw")
    return family.sample_inputs(folder)


def run_demo(out: Path, model: str | None = None) -> list[DemoTurn]:
    from rich.console import Console
    from rich.markup import escape

    from anypix.config import load_settings
    from anypix.errors import TurnFailed
    from anypix.knobs import EditOptions
    from anypix.plan import EditPlan
    from anypix.studio import Studio
    from anypix.tools.preset import PresetRenderer

    console = Console()
    settings = load_settings(model=model, data_dir=out / "data")
    if settings.model == "tiny-random":
        console.print(
            "[bold yellow]Rendering with the tiny-random model: its weights are random, so the "
            "images are noise and say nothing about quality.[/] Planning, storage and undo are real."
        )
    out.mkdir(parents=True, exist_ok=True)
    inputs = _make_inputs(out / "inputs")
    renderer = PresetRenderer(settings)  # with its locator: finds "the ring" of "make the ring"
    with console.status(f"loading model preset {settings.model}"):
        components = renderer.load()

    turns: list[DemoTurn] = []
    with Studio(settings=settings, renderer=renderer) as studio:
        session = studio.new_session("demo")
        for name, path in inputs.items():  # attached once; every turn may name them
            session.attach(name, path)
        for title, instruction in SCRIPT:
            if title in NEEDS_SUBJECTS and components.subject_encoder is None:
                console.print(f"[dim]skipped ({title}): {settings.model} has no subject tokens[/]")
                continue
            started = time.perf_counter()
            try:
                options = EditOptions(seed=SEED + len(turns), strength=STRENGTH.get(title))
                turn = session.edit(instruction, options=options)
            except TurnFailed as failed:  # stored as failed: the demo shows it and goes on
                turn = failed.turn
            outputs = _save_outputs(turn, out, len(turns) + 1)
            tokens = EditPlan.model_validate(turn.plan).tokens() if turn.plan else ""
            seconds = time.perf_counter() - started
            turns.append(DemoTurn(title, instruction, tokens, outputs, seconds,
                                  turn.summary.status, _verification(turn)))  # fmt: skip
            console.print(f"[bold]{len(turns)}. {title}[/]: {escape(instruction)}  ->  {turns[-1].status}, "
                          f"{turns[-1].seconds:.1f} s  {escape(turns[-1].verification)}")  # fmt: skip
            console.print(turns[-1].tokens, style="dim", highlight=False, markup=False)
        undone = session.undo()
        console.print(f"undo: the session's cursor moved back to turn {undone}")
        history = session.history()
    report = _write_report(out, turns, settings.model, len(history))
    console.print(f"images and plans: {out}   report: {report}")
    return turns


def _verification(turn: TurnDetail) -> str:
    """The last verify step's verdict: what the agent found when it checked its own output."""
    checks = [step for step in turn.steps if step.tool == "verify"]
    if not checks:
        return ""
    return f"verify: {checks[-1].error or checks[-1].result}"


def _save_outputs(turn: TurnDetail, out: Path, number: int) -> list[Path]:
    saved = []
    for index, rendered in enumerate(turn.renders):
        target = out / f"turn{number}_{index}.png"
        Image.open(rendered.path).save(target)
        saved.append(target)
    return saved


def _write_report(out: Path, turns: list[DemoTurn], model: str, history_len: int) -> Path:
    rows = []
    for number, turn in enumerate(turns, 1):
        images = "".join(
            f'<img src="{html.escape(p.name)}" width="160" style="image-rendering: pixelated">'
            for p in turn.outputs
        )
        rows.append(
            f"<tr><td>{number}</td><td><b>{html.escape(turn.title)}</b><br>"
            f"<code>{html.escape(turn.instruction)}</code><br>{turn.status}, {turn.seconds:.1f} s"
            f"<br><small>{html.escape(turn.verification)}</small></td>"
            f"<td><pre>{html.escape(turn.tokens)}</pre></td><td>{images}</td></tr>"
        )
    note = (
        "<p><b>tiny-random model:</b> random weights, so the images are noise; planning, "
        "storage and undo are real.</p>"
        if model == "tiny-random"
        else ""
    )
    page = (
        "<!doctype html><meta charset='utf-8'><title>anypix demo</title>"
        "<style>body{font-family:sans-serif} td{vertical-align:top;padding:6px;border-top:1px solid #ccc}"
        "pre{font-size:12px;white-space:pre-wrap;max-width:520px}</style>"
        f"<h1>anypix offline demo</h1><p>model preset: <code>{html.escape(model)}</code>; "
        f"{history_len} turns in the session after undo.</p>{note}"
        f"<h2>attachments</h2><p>{_inputs_html(out / 'inputs')}</p>"
        "<table><tr><th>#</th><th>instruction</th><th>plan</th><th>output</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    report = out / "report.html"
    report.write_text(page, encoding="utf-8")
    return report


def _inputs_html(folder: Path) -> str:
    cells = []
    for path in sorted(folder.glob("*")):
        name = html.escape(path.stem)
        source = html.escape(f"inputs/{path.name}")
        if path.suffix == ".png":
            media = f'<img src="{source}" width="96" style="image-rendering: pixelated">'
        else:
            media = f'<audio controls src="{source}"></audio>'
        cells.append(f"<span style='display:inline-block;margin:4px'>[{name}]<br>{media}</span>")
    return "".join(cells)
