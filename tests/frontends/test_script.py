"""Script files (``anypix run``): the format, running as one session, the manifest, resuming
after an interruption, dry runs, and the exit codes a CI reads."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rich.console import Console

from anypix.errors import AssetError, CancelledError
from anypix.script import (
    EXIT_BAD_FILE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STEP_FAILED,
    MANIFEST,
    ScriptError,
    dry_run,
    load_script,
    run_script,
)
from anypix.studio import Studio
from frontends import StepRenderer, grammar_planner

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ten-steps.yaml"


def console() -> Console:
    return Console(file=io.StringIO(), width=200)


def printed(out: Console) -> str:
    return out.file.getvalue()  # type: ignore[attr-defined]


def studio(tmp_path: Path, renderer: object) -> Studio:
    return Studio(tmp_path / "data", planner=grammar_planner(), renderer=renderer)  # type: ignore[arg-type]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- running -----------------------------------------------------------------------------------------


def test_the_ten_step_example_runs_as_one_chained_session(tmp_path: Path) -> None:
    script = load_script(EXAMPLE)
    renderer = StepRenderer()
    with studio(tmp_path, renderer) as st:
        result = run_script(script, st, tmp_path / "out", console(), model="steps")
        session = st.session(script.session, create=False)
        turns = session.history()
    assert result.exit_code == EXIT_OK, result.message
    assert result.rendered == list(range(1, 11)) and result.skipped == []
    # one turn per step, each continuing from the one before
    assert [(t.seq, t.parent, t.status) for t in turns] == [
        (i, i - 1 or None, "ok") for i in range(1, 11)
    ]
    # knobs: the defaults everywhere, step 9's own seed and steps there
    assert [(p.knobs.seed, p.knobs.steps) for p in renderer.plans] == [(1, 4)] * 8 + [
        (7, 6),
        (1, 4),
    ]
    assert renderer.ticks == [4] * 8 + [6, 4]
    assert renderer.plans[5].knobs.alpha == 0.9 and renderer.plans[4].knobs.alpha == 0.7
    assert renderer.plans[2].base == "last" and renderer.plans[3].style_ref == "stripes"
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["session"] == session.id
    assert [s["status"] for s in manifest["steps"]] == ["ok"] * 10
    for step in manifest["steps"]:
        assert step["outputs"] == [f"step{step['index']:02d}_0.png"]
        with Image.open(tmp_path / "out" / step["outputs"][0]) as image:
            assert image.size == (8, 8)
        assert step["tokens"].count("[op]") >= 1 and step["turn"] == step["index"]
    assert (tmp_path / "out" / "inputs" / "scene.png").is_file()


@pytest.mark.parametrize("interruption", [KeyboardInterrupt(), CancelledError("stop")])
def test_an_interrupted_run_resumes_with_only_the_remaining_steps(
    tmp_path: Path, interruption: BaseException
) -> None:
    script = load_script(EXAMPLE)
    out = tmp_path / "out"
    with studio(tmp_path, StepRenderer(interrupt=(4, interruption))) as st:
        first = run_script(script, st, out, console(), model="steps")
    assert first.exit_code == EXIT_INTERRUPTED
    saved = json.loads((out / MANIFEST).read_text())["steps"]
    assert [s["status"] for s in saved] == ["ok", "ok", "ok", "cancelled"]

    renderer = StepRenderer()
    with studio(tmp_path, renderer) as st:
        second = run_script(script, st, out, console(), model="steps")
        turns = st.session(script.session, create=False).history()
    assert second.exit_code == EXIT_OK
    assert second.skipped == [1, 2, 3] and second.rendered == list(range(4, 11))
    assert len(renderer.plans) == 7  # only the remaining steps were rendered
    # the cancelled turn stays in the history; step 4 ran again from step 3's turn
    assert [(t.seq, t.parent, t.status) for t in turns][3:5] == [(4, 3, "cancelled"), (5, 3, "ok")]
    assert [t.seq for t in turns if t.on_path] == [1, 2, 3, *range(5, 12)]


def test_rerunning_a_finished_script_renders_nothing_and_an_edited_step_reruns_onwards(
    tmp_path: Path,
) -> None:
    text = "session: s\ndefaults: {seed: 3}\nsteps:\n - a red ball\n - make the ball in [last] blue\n - make a variation of [last]\n"
    file = write(tmp_path / "three.yaml", text)
    out = tmp_path / "out"
    with studio(tmp_path, StepRenderer()) as st:
        assert run_script(load_script(file), st, out, console()).exit_code == EXIT_OK
    renderer = StepRenderer()
    with studio(tmp_path, renderer) as st:
        again = run_script(load_script(file), st, out, console())
    assert again.skipped == [1, 2, 3] and renderer.plans == []

    write(file, text.replace("blue", "green"))
    renderer = StepRenderer()
    with studio(tmp_path, renderer) as st:
        edited = run_script(load_script(file), st, out, console())
    assert edited.skipped == [1] and edited.rendered == [2, 3]
    assert "green" in renderer.plans[0].tokens()

    (out / "step03_0.png").unlink()  # an output that went missing is rendered again
    with studio(tmp_path, StepRenderer()) as st:
        assert run_script(load_script(file), st, out, console()).rendered == [3]


def test_a_failed_step_stops_the_run_with_exit_1_and_reruns_next_time(tmp_path: Path) -> None:
    file = write(
        tmp_path / "s.yaml",
        "steps:\n - a red ball\n - instruction: make the ball in [last] blue\n"
        "   expect: {ops: [remove]}\n - make a variation of [last]\n",
    )
    out = tmp_path / "out"
    renderer = StepRenderer()
    with studio(tmp_path, renderer) as st:
        result = run_script(load_script(file), st, out, console())
    assert result.exit_code == EXIT_STEP_FAILED and len(renderer.plans) == 2
    assert "expected ops ['remove'], the plan has ['recolor']" in result.message
    steps = json.loads((out / MANIFEST).read_text())["steps"]
    assert [s["status"] for s in steps] == ["ok", "failed"]
    with studio(tmp_path, StepRenderer()) as st:
        assert run_script(load_script(file), st, out, console()).rendered == [2]


def test_a_step_naming_an_unknown_asset_says_to_list_it_under_assets(tmp_path: Path) -> None:
    file = write(tmp_path / "s.yaml", "steps:\n - a red ball\n - add [dog] to [last]\n")
    out_console = console()
    with studio(tmp_path, StepRenderer()) as st:
        result = run_script(load_script(file), st, tmp_path / "out", out_console)
    assert result.exit_code == EXIT_BAD_FILE  # the file needs fixing; a rerun as is fails again
    assert "step 2/2: failed: [dog] is not in this session" in printed(out_console)
    assert result.message.startswith("[dog] is not in this session")
    assert result.hint == f"add dog: PATH under assets: in {file}"
    assert "--asset" not in printed(out_console) + result.message + result.hint


def test_a_missed_expectation_says_which_step_to_change_not_to_resume(tmp_path: Path) -> None:
    file = write(tmp_path / "s.yaml", "steps:\n - a red ball\n"
                 " - instruction: make the ball in [last] blue\n   expect: {outputs: 2}\n")  # fmt: skip
    with studio(tmp_path, StepRenderer()) as st:
        result = run_script(load_script(file), st, tmp_path / "out", console())
    assert result.exit_code == EXIT_STEP_FAILED
    assert result.message == "expected 2 output(s), got 1"
    assert result.hint == f"change the instruction or the expect: of step 2 of {file}"


def test_an_interrupted_run_says_to_run_it_again(tmp_path: Path) -> None:
    file = write(tmp_path / "s.yaml", "steps:\n - a red ball\n - make the ball in [last] blue\n")
    with studio(tmp_path, StepRenderer(interrupt=(2, KeyboardInterrupt()))) as st:
        result = run_script(load_script(file), st, tmp_path / "out", console())
    assert result.exit_code == EXIT_INTERRUPTED
    assert result.hint == "run the same command again to go on from this step"


def test_a_question_from_the_planner_stops_the_run_naming_the_choices(tmp_path: Path) -> None:
    from anypix.errors import ClarificationNeeded
    from frontends import AskingPlanner

    question = ClarificationNeeded("Which image should I tidy?", ["[photo]", "[scene]"])
    file = write(tmp_path / "s.yaml", "steps:\n - tidy it up\n")
    with Studio(tmp_path / "data", planner=AskingPlanner(question), renderer=StepRenderer()) as st:
        result = run_script(load_script(file), st, tmp_path / "out", console())
        assert st.session("s", create=False).history() == []  # a question is not a turn
    out = console()
    planned = dry_run(load_script(file), AskingPlanner(question), out)
    assert result.exit_code == planned == EXIT_BAD_FILE
    assert result.message == "the planner asks: Which image should I tidy?"
    assert result.hint == f"say which in step 1 of {file}: one of [photo], [scene]"
    assert "cannot plan it: the planner asks: Which image should I tidy? (say which in step 1" \
        in printed(out)  # fmt: skip


def test_text_from_the_file_reaches_the_terminal_with_control_characters_escaped(
    tmp_path: Path,
) -> None:
    file = write(tmp_path / "s.yaml", 'steps:\n - "a red ball\\e[2J\\a"\n')
    assert load_script(file).steps[0].instruction == "a red ball\x1b[2J\x07"
    out = console()
    dry_run(load_script(file), grammar_planner(), out)
    with studio(tmp_path, StepRenderer()) as st:
        run_script(load_script(file), st, tmp_path / "out", out)
    assert "\x1b" not in printed(out) and "\x07" not in printed(out)
    assert "step 1/1: a red ball\\x1b[2J\\x07" in printed(out)


def test_jsonl_and_yaml_describe_the_same_script(tmp_path: Path) -> None:
    Image.new("RGB", (16, 16), "green").save(tmp_path / "photo.png")
    yaml_file = write(
        tmp_path / "s.yaml",
        "session: s\nassets: {photo: photo.png}\ndefaults: {seed: 2}\n"
        "steps:\n - remove the cat from [photo]\n - instruction: make a variation of [last]\n"
        "   knobs: {steps: 2}\n",
    )
    lines = [
        {"session": "s", "assets": {"photo": "photo.png"}, "defaults": {"seed": 2}},
        {"instruction": "remove the cat from [photo]"},
        {"instruction": "make a variation of [last]", "knobs": {"steps": 2}},
    ]
    jsonl_file = write(tmp_path / "s.jsonl", "# a comment\n" + "\n".join(map(json.dumps, lines)))
    from_yaml, from_jsonl = load_script(yaml_file), load_script(jsonl_file)
    assert from_yaml.model_dump() == from_jsonl.model_dump()
    assert from_yaml.knobs(1) == {"seed": 2, "steps": 2}
    assert from_yaml.knobs(1, seed=9) == {"seed": 9, "steps": 2}  # --seed replaces the default


# -- dry run ---------------------------------------------------------------------------------------------


def test_dry_run_prints_every_plan_and_stores_nothing(tmp_path: Path) -> None:
    out = console()
    code = dry_run(load_script(EXAMPLE), grammar_planner(), out)
    text = printed(out)
    assert code == EXIT_OK
    assert text.count("[op]") >= 10 and "step 10/10" in text
    assert "[style] stripes" in text and "seed=7" in text
    assert not (tmp_path / "anypix-data").exists()  # no data dir, no session, no images


def test_dry_run_reports_a_plan_that_misses_its_expected_ops(tmp_path: Path) -> None:
    file = write(
        tmp_path / "s.yaml", "steps:\n - instruction: a red ball\n   expect: {ops: [add]}\n"
    )
    out = console()
    assert dry_run(load_script(file), grammar_planner(), out) == EXIT_STEP_FAILED
    assert "expected ops ['add'], the plan has ['generate']" in printed(out)


# -- bad files ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("a.yaml", "steps: [a red ball\n", "not valid YAML"),
        ("a.yaml", "- just a list\n", "top level must be a mapping"),
        ("a.yaml", "session: x\n", "steps: Field required"),
        ("a.yaml", "steps: []\n", "steps: List should have at least 1 item"),
        ("a.yaml", "steps: ['  ']\n", "the instruction is empty"),
        ("a.yaml", "stepz: [a red ball]\n", "stepz: Extra inputs are not permitted"),
        ("a.yaml", "steps:\n - instruction: a ball\n   knobs: {sead: 1}\n", "step 1: knob sead"),
        ("a.yaml", "defaults: {steps: 0}\nsteps: [a ball]\n", "step 1: knob steps"),
        (
            "a.yaml",
            "assets: {x: {miniworld: {palette: pink}}}\nsteps: [a]\n",
            "not a miniworld palette",
        ),
        ("a.yaml", "assets: {x: {photo: 1}}\nsteps: [a]\n", "assets.x: "),
        # a drawn asset: the family's own options and ranges
        ("a.yaml", "assets: {x: {miniworld: -1}}\nsteps: [a]\n", "assets.x: seed: Input should"),
        ("a.yaml", "assets: {x: {miniworld: {size: 100000}}}\nsteps: [a]\n", "size 100000 is out"),
        ("a.yaml", "assets: {x: {miniworld: {colour: red}}}\nsteps: [a]\n", "argument 'colour'"),
        ("a.yaml", "assets: {x: {sd15: 3}}\nsteps: [a]\n", "{miniworld: SEED}"),
        ("a.yaml", "assets: {last: p.png}\nsteps: [a]\n", "'last' cannot name an asset"),
        ("a.jsonl", '{"instruction": "a"}\n{not json\n', "line 2: not valid JSON"),
        # steps count from 1, as the run prints them
        ("a.yaml", "steps:\n - a\n - {instruction: b, knob: 1}\n", "step 2: knob: Extra inputs"),
        ("a.yaml", "steps:\n - a\n - {instruction: 3}\n", "step 2: instruction: Input should"),
        ("a.yaml", "steps: [a, [b]]\n", "step 2: Input should be"),
        ("a.yaml", "steps:\n - a\x01b\n", "unacceptable character #x0001"),  # raw, not \\x01
        # nesting no script has: one line, not a RecursionError's traceback
        ("a.yaml", "steps: " + "[" * 20_000 + "]" * 20_000 + "\n", "nested too deeply"),
        ("a.yaml", "steps:\n" + "".join(" " * i + "- \n" for i in range(1, 3000)), "nested"),
        ("a.jsonl", '{"steps": ' + "[" * 20_000 + "]" * 20_000 + "}\n", "line 1: lists or"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, name: str, text: str, fragment: str) -> None:
    with pytest.raises(ScriptError) as caught:
        load_script(write(tmp_path / name, text))
    assert fragment in str(caught.value) and caught.value.exit_code == 2
    assert "\n" not in str(caught.value)


def test_a_missing_asset_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    file = write(
        tmp_path / "s.yaml", "assets: {photo: nope.png}\nsteps:\n - remove the cat from [photo]\n"
    )
    renderer = StepRenderer()
    with (
        studio(tmp_path, renderer) as st,
        pytest.raises(AssetError, match=r"nope\.png does not exist"),
    ):
        run_script(load_script(file), st, tmp_path / "out", console())
    assert renderer.plans == []


# -- the command -------------------------------------------------------------------------------------------


def anypix(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anypix.cli", *args], capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_run_exit_code_2_for_a_file_that_is_not_there(tmp_path: Path) -> None:
    result = anypix("run", "/no/such/file.yaml", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "no such file" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_run_exit_code_3_for_a_model_that_is_not_available(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = anypix("run", str(EXAMPLE), "--out", str(out), "--llm", "fast", "--model", "sd15")
    assert result.returncode == 3, result.stderr
    assert "error: step 1:" in result.stderr and "sd15" in result.stderr
    assert "Traceback" not in result.stderr
    steps = json.loads((out / MANIFEST).read_text())["steps"]
    assert [s["status"] for s in steps] == ["failed"]  # saved, so a rerun starts there


def test_run_says_what_to_change_in_the_file_in_one_line(tmp_path: Path) -> None:
    file = write(tmp_path / "s.yaml", "assets: {scene: {miniworld: 3}}\nsteps:\n"
                 " - add [dog] to [scene]\n")  # fmt: skip
    result = anypix("run", str(file), "--out", str(tmp_path / "out"), "--llm", "fast",
                    "--model", "tiny-random")  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"error: step 1: [dog] is not in this session; this session has "
                             f"scene (add dog: PATH under assets: in {file})\n")  # fmt: skip


def test_run_dry_run_from_the_command_line(tmp_path: Path) -> None:
    result = anypix("run", str(EXAMPLE), "--dry-run", "--llm", "fast", "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("step ") == 10 and "seed=5" in result.stdout


def test_run_renders_with_the_configured_model_and_skips_on_a_rerun(tmp_path: Path) -> None:
    """The real command and renderer (tiny-random: random weights, so the pixels are noise)."""
    file = write(
        tmp_path / "two.yaml",
        "assets: {scene: {miniworld: 3}}\ndefaults: {seed: 1, steps: 2}\n"
        "steps:\n - add a yellow ring to [scene]\n - make the ring in [last] green\n",
    )
    out = tmp_path / "out"
    first = anypix("run", str(file), "--out", str(out), "--llm", "fast", "--model", "tiny-random")
    assert first.returncode == 0, first.stderr + first.stdout
    steps = json.loads((out / MANIFEST).read_text())["steps"]
    assert [(s["status"], s["turn"]) for s in steps] == [("ok", 1), ("ok", 2)]
    with Image.open(out / "step02_0.png") as image:
        assert image.size == (64, 64)
    again = anypix("run", str(file), "--out", str(out), "--llm", "fast", "--model", "tiny-random")
    assert again.returncode == 0 and "2/2 steps done (2 from before)" in again.stdout
    assert json.loads((out / MANIFEST).read_text())["steps"] == steps


class Interrupting:
    """Wraps a renderer; raises KeyboardInterrupt (Ctrl-C) instead of render number ``at``."""

    def __init__(self, renderer: Any, at: int | None = None) -> None:
        self.renderer, self.at, self.calls = renderer, at, 0

    def __call__(self, plan: Any, assets: Any, **callbacks: Any) -> Any:
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.renderer(plan, assets, **callbacks)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # ten tiny renders; a CPU shared with training is slow
def test_the_ten_step_example_with_tiny_random_interrupted_and_resumed(tmp_path: Path) -> None:
    """The example file end to end with the demo's renderer, Ctrl-C at step 6, then a resume;
    prints the wall and CPU seconds of both runs (figures, not assertions)."""
    from anypix.config import load_settings
    from anypix.tools.preset import PresetRenderer

    renderer = PresetRenderer(load_settings(model="tiny-random"))
    script = load_script(EXAMPLE)
    figures = []
    for label, at in (("interrupted at step 6", 6), ("resume", None)):
        wrapped = Interrupting(renderer, at)
        wall, cpu = time.perf_counter(), time.process_time()
        with studio(tmp_path, wrapped) as st:
            result = run_script(script, st, tmp_path / "out", console(), model="tiny-random")
        figures.append(
            (label, time.perf_counter() - wall, time.process_time() - cpu, wrapped.calls)
        )
        expected = (EXIT_INTERRUPTED, [1, 2, 3, 4, 5, 6]) if at else (EXIT_OK, [6, 7, 8, 9, 10])
        assert (result.exit_code, result.rendered) == expected, result.message
    steps = json.loads((tmp_path / "out" / MANIFEST).read_text())["steps"]
    assert [s["status"] for s in steps] == ["ok"] * 10
    assert [s["turn"] for s in steps] == [1, 2, 3, 4, 5, 7, 8, 9, 10, 11]  # 6: the cancelled one
    for index, step in enumerate(steps, 1):
        with Image.open(tmp_path / "out" / step["outputs"][0]) as image:
            assert image.size == (64, 64), index
    for label, wall, cpu, calls in figures:
        print(f"\n{label}: {calls} render calls, {wall:.1f} s wall, {cpu:.1f} s CPU")
