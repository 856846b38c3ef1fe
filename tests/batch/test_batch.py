"""Batch edits without Ray: the items a batch splits into, running them through the studio in
several threads, resuming, failures with reasons, the progress lines and the summary. The
renderer is the front-end tests' step-counting fake, so these run in a second or two."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from frontends import StepRenderer, grammar_planner

from anypix.agent.protocol import PlannerBase, PlanResult
from anypix.agent.steps import StepRecord
from anypix.batch import (
    MANIFEST,
    BatchProgress,
    BatchSpec,
    SharedPlanner,
    batch_items,
    run_batch,
    verification,
)
from anypix.errors import AnypixError, AssetError, TurnFailed
from anypix.knobs import EditOptions
from anypix.plan import EditPlan
from anypix.records import Render
from anypix.studio import Studio
from batch import INSTRUCTION, printed, quiet_console, stored_counts


def pngs(folder: Path, count: int) -> list[Path]:
    """Small distinct PNG files (the fake renderer hashes their bytes into its colour)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = folder / f"img{i:02d}.png"
        Image.new("RGB", (16, 16), (i * 9, 200 - i * 5, 40)).save(path)
        files.append(path)
    return files


def spec_for(files: list[Path], **options: Any) -> BatchSpec:
    return BatchSpec.create(INSTRUCTION, files, EditOptions.parse({"seed": 1, **options}), "steps")


class FailsFor(StepRenderer):
    """The step renderer, except that it refuses the inputs whose bytes are ``bad``."""

    def __init__(self, bad: list[Path], stop_after: int | None = None,
                 stop: threading.Event | None = None) -> None:  # fmt: skip
        super().__init__()
        self.bad = {p.read_bytes() for p in bad}
        self.stop_after, self.stop = stop_after, stop

    def __call__(self, plan: EditPlan, assets: Mapping[str, Any], **callbacks: Any) -> Render:
        if Path(assets["photo"]).read_bytes() in self.bad:
            raise AssetError("this photo is too dark to edit", "brighten it first")
        if self.stop is not None and len(self.plans) + 1 == self.stop_after:
            self.stop.set()  # as Ctrl-C would, while this render runs
        return super().__call__(plan, assets, **callbacks)


def run(tmp_path: Path, spec: BatchSpec, renderer: Any, *, threads: int = 3,
        stop: threading.Event | None = None) -> Any:  # fmt: skip
    with Studio(tmp_path / "data", planner=grammar_planner(), renderer=renderer,
                locator=None) as studio:  # fmt: skip
        return run_batch(spec, studio, tmp_path / "out", BatchProgress(quiet_console()),
                         threads=threads, stop=stop)  # fmt: skip


# -- what a batch is --------------------------------------------------------------------------------


def test_the_input_is_the_one_name_no_asset_gives(tmp_path: Path) -> None:
    files = pngs(tmp_path, 1)
    options = EditOptions()
    style = files[0]
    spec = BatchSpec.create("paint [photo] like [style]", files, options, "m", shared={"style": style})
    assert spec.input_name == "photo"
    with pytest.raises(AnypixError, match=r"names \[photo\], \[style\]; which one"):
        BatchSpec.create("paint [photo] like [style]", files, options, "m")
    with pytest.raises(AnypixError, match="names no input"):
        BatchSpec.create("make it warmer", files, options, "m")
    assert BatchSpec.create("make it warmer", files, options, "m", input_name="x").input_name == "x"
    with pytest.raises(AnypixError, match=r"no such file: nope\.png"):
        BatchSpec.create(INSTRUCTION, [Path("nope.png")], options, "m")


def test_items_are_keyed_by_content_instruction_and_knobs_not_by_path(tmp_path: Path) -> None:
    files = pngs(tmp_path / "a", 3)
    copy = tmp_path / "b" / files[0].name
    copy.parent.mkdir()
    copy.write_bytes(files[0].read_bytes())
    items = batch_items(spec_for([*files, copy]))
    # the same bytes twice are one edit
    assert [i.file for i in items] == files
    assert [i.output for i in items] == ["img00.png", "img01.png", "img02.png"]
    moved = batch_items(spec_for([copy, files[1], files[2]]))
    assert [i.key for i in moved] == [i.key for i in items]
    assert batch_items(spec_for(files, steps=5))[0].key != items[0].key
    other = BatchSpec.create("add a red box to [photo]", files, EditOptions.parse({"seed": 1}), "steps")
    assert batch_items(other)[0].key != items[0].key


def test_inputs_with_the_same_file_name_get_their_own_outputs(tmp_path: Path) -> None:
    first, second = pngs(tmp_path / "a", 1)[0], tmp_path / "b" / "img00.png"
    second.parent.mkdir()
    pngs(tmp_path / "c", 2)[1].rename(second)
    assert [i.output for i in batch_items(spec_for([first, second]))] == ["img00.png", "img00-2.png"]


# -- running ------------------------------------------------------------------------------------------


def test_every_input_becomes_one_turn_in_its_own_session(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 6)
    renderer = StepRenderer()
    result = run(tmp_path, spec_for(files, steps=2), renderer)
    assert [(i.status, i.outputs) for i in result.items] == [("done", [f"img{i:02d}.png"])
                                                               for i in range(6)]  # fmt: skip
    assert len(renderer.plans) == 6 and {p.knobs.steps for p in renderer.plans} == {2}
    counts = stored_counts(tmp_path / "data")
    assert counts["sessions"] == counts["session_names"] == counts["ok_turns"] == 6
    with Studio(tmp_path / "data", planner=grammar_planner(), renderer=renderer) as studio:
        for item, result_item in zip(batch_items(spec_for(files, steps=2)), result.items, strict=True):
            session = studio.session(item.session_name, create=False)
            assert session.id == result_item.session
            turn = session.show(1)
            assert turn.attachments == {"photo": item.sha256}
            out = tmp_path / "out" / item.output
            assert out.read_bytes() == Path(turn.renders[0].path).read_bytes()
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["total"] == 6 and manifest["options"]["steps"] == 2
    assert [i["status"] for i in manifest["items"]] == ["done"] * 6


def test_a_rerun_skips_what_is_done_and_retries_what_failed(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 5)
    first = run(tmp_path, spec_for(files), FailsFor([files[1], files[3]]))
    assert [i.status for i in first.items] == ["done", "failed", "done", "failed", "done"]
    assert first.items[1].error == "this photo is too dark to edit (brighten it first)"
    again = StepRenderer()
    second = run(tmp_path, spec_for(files), again)
    assert [(i.status, i.before) for i in second.items] == [
        ("done", True), ("done", False), ("done", True), ("done", False), ("done", True)]  # fmt: skip
    assert len(again.plans) == 2  # only the two that failed were rendered again
    counts = stored_counts(tmp_path / "data")
    # the failed turns stay in their sessions' history; no session was made twice
    assert (counts["sessions"], counts["turns"], counts["ok_turns"]) == (5, 7, 5)
    third = StepRenderer()
    assert [i.before for i in run(tmp_path, spec_for(files), third).items] == [True] * 5
    assert third.plans == []


def test_changing_the_knobs_makes_a_new_batch(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 2)
    run(tmp_path, spec_for(files), StepRenderer())
    renderer = StepRenderer()
    result = run(tmp_path, spec_for(files, steps=7), renderer)
    assert [i.before for i in result.items] == [False, False] and len(renderer.plans) == 2
    assert stored_counts(tmp_path / "data")["sessions"] == 4


def test_an_interrupted_batch_resumes_where_it_stopped(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 8)
    stop = threading.Event()
    first = run(tmp_path, spec_for(files), FailsFor([], stop_after=3, stop=stop), threads=2,
                stop=stop)  # fmt: skip
    assert first.interrupted
    done = [i for i in first.items if i.status == "done"]
    assert 2 <= len(done) < 8 and first.count("failed") == 0
    renderer = StepRenderer()
    second = run(tmp_path, spec_for(files), renderer)
    assert not second.interrupted and second.count("done") == 8
    assert second.count("done", before=True) == len(done) and len(renderer.plans) == 8 - len(done)
    counts = stored_counts(tmp_path / "data")
    assert counts["sessions"] == counts["session_names"] == counts["ok_turns"] == 8


def test_a_session_left_by_a_killed_run_is_used_not_duplicated(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 2)
    item = batch_items(spec_for(files))[0]
    with Studio(tmp_path / "data", planner=grammar_planner(), renderer=StepRenderer()) as studio:
        left = studio.new_session(item.session_name).id  # stored, then the driver died
    result = run(tmp_path, spec_for(files), StepRenderer())
    assert result.items[0].session == left
    assert stored_counts(tmp_path / "data")["sessions"] == 2


def test_an_output_deleted_after_a_run_is_copied_again(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 2)
    run(tmp_path, spec_for(files), StepRenderer())
    out = tmp_path / "out" / "img01.png"
    kept = out.read_bytes()
    out.unlink()
    renderer = StepRenderer()
    run(tmp_path, spec_for(files), renderer)
    assert out.read_bytes() == kept and renderer.plans == []


class BugFor(StepRenderer):
    """The step renderer with a bug for the third input."""

    def __call__(self, plan: EditPlan, assets: Mapping[str, Any], **callbacks: Any) -> Render:
        if len(self.plans) == 2:
            self.plans.append(plan)
            raise ZeroDivisionError("a bug in anypix")
        return super().__call__(plan, assets, **callbacks)


def test_a_bug_in_one_turn_stops_the_batch_with_its_traceback(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 5)
    renderer = BugFor()
    with pytest.raises(TurnFailed) as failed:
        run(tmp_path, spec_for(files), renderer, threads=1)
    assert isinstance(failed.value.cause, ZeroDivisionError)
    assert len(renderer.plans) == 3  # the two after it never started
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    statuses = [i["status"] for i in manifest["items"]]
    assert statuses.count("done") == 2 and set(statuses) <= {"done", "cancelled"}
    counts = stored_counts(tmp_path / "data")
    assert (counts["turns"], counts["ok_turns"]) == (3, 2)  # the bug's turn is kept, as failed


# -- planning once, and what people see ---------------------------------------------------------------


class CountingPlanner(PlannerBase):
    def __init__(self) -> None:
        self.inner = grammar_planner()
        self.calls = 0

    def plan(self, instruction: str, assets: Mapping[str, str], *, references: Any = None,
             feedback: str | None = None) -> PlanResult:  # fmt: skip
        self.calls += 1
        return self.inner.plan(instruction, assets, references=references, feedback=feedback)


def test_the_batch_plans_its_instruction_once(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 6)
    counting = CountingPlanner()
    with Studio(tmp_path / "data", planner=SharedPlanner(counting), renderer=StepRenderer(),
                locator=None) as studio:  # fmt: skip
        result = run_batch(spec_for(files), studio, tmp_path / "out",
                           BatchProgress(quiet_console()), threads=3)  # fmt: skip
    assert result.count("done") == 6 and counting.calls == 1


def test_progress_lines_and_the_summary_say_what_happened(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 3)
    console = quiet_console()
    with Studio(tmp_path / "data", planner=grammar_planner(), renderer=FailsFor([files[2]]),
                locator=None) as studio:  # fmt: skip
        run_batch(spec_for(files), studio, tmp_path / "out", BatchProgress(console), threads=1)
    lines = printed(console).splitlines()
    assert lines[0] == "batch: 3 edit(s)"
    assert lines[1].startswith(f"[1/3] done {files[0]} -> img00.png (")
    assert lines[3].startswith(f"[3/3] failed {files[2]} (")
    assert lines[3].endswith("): this photo is too dark to edit (brighten it first)")
    assert lines[4].startswith("3 edit(s): 2 done, 1 failed in ")
    assert lines[5] == f"  failed: {files[2]}: this photo is too dark to edit (brighten it first)"
    assert lines[-1] == "rerun the same command to retry what did not finish"
    assert not any(line.startswith("verified") for line in lines)  # no turn was checked


def test_verification_is_read_from_the_turns_verify_steps() -> None:
    from types import SimpleNamespace

    def turn(*steps: StepRecord) -> Any:
        return SimpleNamespace(steps=list(steps))

    render = StepRecord("render", {}, index=3)
    failed = StepRecord("verify", {}, index=4, error="the ring is green, not yellow")
    passed = StepRecord("verify", {}, index=6)
    assert verification(turn(render)) is None
    assert verification(turn(render, failed)) is False
    assert verification(turn(render, failed, render, passed)) is True


# -- a pool, in threads -------------------------------------------------------------------------------


class SlowRenderer(StepRenderer):
    """Records how many renders overlap (a pool must let turns run side by side)."""

    def __init__(self) -> None:
        super().__init__()
        self.active = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, plan: EditPlan, assets: Mapping[str, Any], **callbacks: Any) -> Render:
        import time

        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(0.05)
        try:
            return super().__call__(plan, assets, **callbacks)
        finally:
            with self.lock:
                self.active -= 1


def test_turns_run_side_by_side_on_the_driver_threads(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 6)
    renderer = SlowRenderer()
    result = run(tmp_path, spec_for(files), renderer, threads=3)
    assert result.count("done") == 6 and renderer.most >= 2




class SlowSteps(StepRenderer):
    """The step renderer at 50 ms a step, polling ``cancel`` before each."""

    def __call__(self, plan: EditPlan, assets: Mapping[str, Any], **callbacks: Any) -> Render:
        import time

        cancel, progress = callbacks.get("cancel"), callbacks.get("progress")

        def slow(done: int, total: int) -> None:
            time.sleep(0.05)
            if progress is not None:
                progress(done, total)

        return super().__call__(plan, assets, cancel=cancel, progress=slow)


def test_the_in_process_pool_stops_a_render_on_cancel_and_on_its_time_out() -> None:
    from anypix.batch import InProcessPool
    from anypix.config import load_settings
    from anypix.errors import CancelledError, RenderTimeoutError

    plan = grammar_planner().plan("a red ball", {}).plan
    plan = plan.model_copy(update={"knobs": plan.knobs.model_copy(update={"steps": 200})})
    pool = InProcessPool(load_settings(), timeout_s=0.3)
    pool.renderer = SlowSteps()  # type: ignore[assignment]
    seen: list[int] = []
    with pytest.raises(CancelledError):
        pool(plan, {}, progress=lambda done, total: seen.append(done), cancel=lambda: len(seen) >= 2)
    assert seen == [1, 2]
    with pytest.raises(RenderTimeoutError, match=r"longer than 0\.3 s"):
        pool(plan, {})
    assert pool.renderer.ticks[-1] < 20  # type: ignore[attr-defined]


# -- the command ----------------------------------------------------------------------------------------


def anypix_batch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "anypix.cli", "batch", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_the_command_refuses_a_bad_batch_in_one_line_before_anything_runs(tmp_path: Path) -> None:
    files = pngs(tmp_path / "in", 2)
    cases = [
        (["make it warmer", *map(str, files)],
         "error: the instruction names no input (write [photo] where each file goes"),
        (["paint [photo] like [style]", str(files[0])],
         "error: the instruction names [photo], [style]; which one is each input file?"),
        ([INSTRUCTION, str(tmp_path / "missing.png")], "error: no such file: "),
        ([INSTRUCTION, str(files[0]), "--timeout", "0"], "error: --timeout 0 is not a time"),
        ([INSTRUCTION, str(files[0]), "--steps", "0"], "error: --steps"),
    ]  # fmt: skip
    for args, expected in cases:
        result = anypix_batch(*args, "--out", str(tmp_path / "out"))
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith(expected), (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "anypix-data").exists()
