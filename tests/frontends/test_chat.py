"""``anypix chat``: the prompt loop driven with scripted lines; assertions on what it prints and
on the history it stores."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rich.console import Console

from anypix.chat import run_chat
from anypix.errors import CancelledError, ClarificationNeeded
from anypix.studio import Studio
from frontends import AskingPlanner, StepRenderer, grammar_planner


class Lines:
    """An ``input`` stand-in: returns the scripted lines (an exception instance is raised, as
    Ctrl-C at the prompt would), then EOFError like Ctrl-D."""

    def __init__(self, lines: Iterable[str | BaseException]) -> None:
        self.lines, self.prompts = list(lines), 0

    def __call__(self, prompt: str) -> str:
        self.prompts += 1
        if not self.lines:
            raise EOFError
        line = self.lines.pop(0)
        if isinstance(line, BaseException):
            raise line
        return line


def chat(tmp_path: Path, lines: Iterable[str | BaseException],
         renderer: StepRenderer | None = None) -> tuple[str, Studio, Lines]:  # fmt: skip
    studio = Studio(
        tmp_path / "data", planner=grammar_planner(), renderer=renderer or StepRenderer()
    )
    console = Console(file=io.StringIO(), width=200)
    feed = Lines(lines)
    run_chat(studio.session(), feed, console)
    return console.file.getvalue(), studio, feed  # type: ignore[attr-defined]


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    path = tmp_path / "scene.png"
    Image.new("RGB", (16, 16), "green").save(path)
    return path


def test_an_instruction_shows_its_plan_steps_and_output_and_is_stored(
    tmp_path: Path, scene: Path
) -> None:
    text, studio, _ = chat(tmp_path, [f"/attach scene={scene}", "add a yellow ring to [scene]"])
    with studio:
        session = studio.session()
        turns = session.history()
        stored = session.show(1)
    assert "attached [scene] (image png 16x16)" in text
    assert "[base] scene" in text and "[op] add" in text  # the plan's tokens
    assert "turn 1: 1 image(s), 3/3 steps" in text  # the progress callback reached the end
    assert str(stored.renders[0].path) in text
    assert [(t.seq, t.status, t.instruction) for t in turns] == [
        (1, "ok", "add a yellow ring to [scene]")
    ]


def test_the_plan_is_printed_before_the_render_starts(tmp_path: Path, scene: Path) -> None:
    console = Console(file=io.StringIO(), width=200)
    printed_when_rendering: list[str] = []

    class Watching(StepRenderer):
        def __call__(self, plan: Any, assets: Any, **options: Any) -> Any:
            printed_when_rendering.append(console.file.getvalue())  # type: ignore[attr-defined]
            return super().__call__(plan, assets, **options)

    studio = Studio(tmp_path / "data", planner=grammar_planner(), renderer=Watching())
    with studio:
        lines = Lines([f"/attach scene={scene}", "add a yellow ring to [scene]"])
        run_chat(studio.session(), lines, console)
    (before,) = printed_when_rendering
    assert "[base] scene" in before and "[op] add a yellow ring" in before
    assert "turn 1:" not in before


def test_undo_redo_branch_and_show_move_the_stored_cursor(tmp_path: Path, scene: Path) -> None:
    lines = [
        f"/attach scene={scene}",
        "add a yellow ring to [scene]",
        "make the ring in [last] green",
        "undo",  # without its slash, as people type it: the command, not an edit
        "/redo",
        "/branch 1",
        "make a variation of [last]",
        "/show",
        "/show 3",
        "/quit",
        "this line is never read",
    ]
    text, studio, feed = chat(tmp_path, lines)
    with studio:
        turns = studio.session().history()
        last = studio.session().assets()["last"]
    assert "undo: now at turn 1" in text and "redo: now at turn 2" in text
    assert "branch: now at turn 1" in text
    assert [(t.seq, t.parent, t.current) for t in turns] == [(1, None, False), (2, 1, False),
                                                              (3, 1, True)]  # fmt: skip
    assert "turn 3 (ok): make a variation of [last]" in text and "[op] variation" in text
    assert f"[last] image: {last.path}" in text  # /show lists the current image
    assert feed.prompts == 10 and text.rstrip().endswith("bye")


def test_user_errors_are_printed_and_the_chat_goes_on(tmp_path: Path, scene: Path) -> None:
    lines = ["/undo", "/branch x", "/attach scene", f"/attach bad name={scene}",
             "add [dog] to [scene]", "/frobnicate", "   ", f"/attach scene={scene}",
             "remove the cat from [scene]"]  # fmt: skip
    text, studio, _ = chat(tmp_path, lines)
    with studio:
        turns = studio.session().history()
    assert "error: nothing to undo" in text
    assert "error: 'x' is not a turn number (write /branch N" in text
    assert "error: scene does not exist (check the path)" in text  # /attach PATH: no such file
    assert "not a usable asset name" in text
    # the conversation's own way to attach, not the command line's --asset flag
    assert "[dog] is not in this session (attach it with /attach dog=PATH)" in text
    assert "there is no command /frobnicate (the commands are /attach" in text
    # the instruction naming a missing asset was refused before it ran; the last one worked
    assert [t.status for t in turns] == ["ok"]


@pytest.mark.parametrize("interruption", [KeyboardInterrupt(), CancelledError("stop")])
def test_ctrl_c_cancels_the_render_not_the_chat(
    tmp_path: Path, scene: Path, interruption: BaseException
) -> None:
    renderer = StepRenderer(interrupt=(1, interruption))
    lines: list[str | BaseException] = [
        f"/attach scene={scene}",
        "add a yellow ring to [scene]",
        KeyboardInterrupt(),  # Ctrl-C at the prompt only clears the line
        "add a red box to [scene]",
    ]
    text, studio, _ = chat(tmp_path, lines, renderer)
    with studio:
        turns = studio.session().history()
    assert "cancelled: the turn is kept as cancelled" in text
    assert "Ctrl-C clears the line" in text
    assert [(t.seq, t.status, t.current) for t in turns] == [(1, "cancelled", False),
                                                              (2, "ok", True)]  # fmt: skip
    assert renderer.ticks == [1, 3]  # the first render stopped at its second step


def test_export_writes_an_archive_that_imports(tmp_path: Path, scene: Path) -> None:
    archive = tmp_path / "chat.zip"
    text, _, _ = chat(
        tmp_path,
        [
            f"/attach scene={scene}",
            "remove the cat from [scene]",
            f"/export {archive}",
            "/export",
        ],
    )
    assert f"exported to {archive}" in text and "error: /export needs an argument" in text
    with Studio(tmp_path / "other") as other:
        imported = other.import_session(archive)
        assert [t.instruction for t in imported.history()] == ["remove the cat from [scene]"]


def test_help_lists_every_command(tmp_path: Path) -> None:
    text, _, _ = chat(tmp_path, ["/help"])
    for command in ("/attach", "/undo", "/redo", "/branch", "/show", "/export", "/help", "/quit"):
        assert command in text


def test_a_question_from_the_planner_is_asked_and_the_next_line_answers_it(
    tmp_path: Path, scene: Path
) -> None:
    question = ClarificationNeeded("Which image should I tidy?", ["[photo]", "[scene]"])
    planner = AskingPlanner(question)
    console = Console(file=io.StringIO(), width=200)
    renderer = StepRenderer()
    with Studio(tmp_path / "data", planner=planner, renderer=renderer) as studio:
        lines = Lines([f"/attach scene={scene}", f"/attach photo={scene}", "tidy it up",
                       "/show", "2"])  # fmt: skip
        prompts: list[str] = []

        def answer(prompt: str) -> str:
            prompts.append(prompt)
            return lines(prompt)

        run_chat(studio.session(), answer, console)
        turns = studio.session().history()
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Which image should I tidy?\n  1. [photo]\n  2. [scene]\n" in text
    # the question was not a turn; a command in between does not answer it
    assert "no turns yet" in text
    assert prompts == ["anypix> ", "anypix> ", "anypix> ", "answer> ", "answer> ", "anypix> "]
    assert planner.seen == ["tidy it up", "tidy it up ([scene])"]
    assert [(t.seq, t.status, t.instruction) for t in turns] == [(1, "ok", "tidy it up ([scene])")]
    assert renderer.plans[0].base == "scene"


def test_control_characters_from_the_person_are_shown_never_sent(
    tmp_path: Path, scene: Path
) -> None:
    console = Console(file=io.StringIO(), width=200)
    with Studio(tmp_path / "data", planner=grammar_planner(), renderer=StepRenderer()) as studio:
        lines = Lines([f"/attach scene={scene}", "add a red\x1b[2J ring to [scene]", "/show",
                       "/show 1", "/branch \x1b]0;x\x07"])  # fmt: skip
        run_chat(studio.session("tour\x1b[31m"), lines, console)
        (turn,) = studio.session("tour\x1b[31m").history()
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert turn.instruction == "add a red\x1b[2J ring to [scene]"  # stored as typed
    assert "\x1b" not in text and "\x07" not in text
    assert "session tour\\x1b[31m" in text and "red\\x1b[2J ring" in text
    assert "'\\x1b]0;x\\x07' is not a turn number" in text


class AsksOnReplan(AskingPlanner):
    """Plans a removal from [ghost] (not in the session) first; told so, it asks which image."""

    @property
    def can_replan(self) -> bool:
        return True

    def plan(self, instruction: str, assets: Any, *, references: Any = None,
             feedback: str | None = None) -> Any:  # fmt: skip
        if feedback is None and "(" not in instruction:
            self.seen.append(instruction)
            return super().plan(instruction + " ([ghost])", assets)
        return super().plan(instruction, assets, references=references, feedback=feedback)


def test_a_question_asked_when_planning_again_is_asked_too(tmp_path: Path, scene: Path) -> None:
    question = ClarificationNeeded("Which image should I tidy?", ["[scene]"])
    planner = AsksOnReplan(question)
    console = Console(file=io.StringIO(), width=200)
    with Studio(tmp_path / "data", planner=planner, renderer=StepRenderer()) as studio:
        lines = Lines([f"/attach scene={scene}", "tidy it up", "1"])
        run_chat(studio.session(), lines, console)
        turns = studio.session().history()
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Which image should I tidy?\n  1. [scene]" in text
    # the first plan ran into a tool's error, so that turn is kept (failed); the answer renders
    assert [(t.status, t.instruction) for t in turns] == [("failed", "tidy it up"),
                                                          ("ok", "tidy it up ([scene])")]  # fmt: skip


def test_which_of_two_alike_objects_is_asked_and_the_choice_is_the_one_edited(
    tmp_path: Path,
) -> None:
    """ "remove the ring" with a red ring and a blue one: the locator asks which (it took one
    silently before); the person's choice names the ring, and the plan's blob is on it."""
    from anypix.models.miniworld.data import MiniObject, Scene, Style, render
    from anypix.plan import Blob
    from anypix.tools.preset import default_locator

    rings = tuple(
        MiniObject(colour, "ring", "medium", Blob(description="r", cx=cx, cy=0.45, a=0.16, b=0.16))
        for colour, cx in (("red", 0.25), ("blue", 0.75))
    )
    path = tmp_path / "rings.png"
    Image.fromarray(render(Scene(5, Style("warm", "flat"), rings), 64)[0]).save(path)
    console = Console(file=io.StringIO(), width=200)
    renderer = StepRenderer()
    studio = Studio(tmp_path / "data", planner=grammar_planner(), renderer=renderer,
                    locator=default_locator("miniworld"), verifier=None)  # fmt: skip
    with studio:
        lines = Lines([f"/attach scene={path}", "remove the ring from [scene]", "1"])
        run_chat(studio.session(), lines, console)
        turns = studio.session().history()
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert (
        "Which ring should I remove: the red ring on the left or the blue ring on the right?"
        in text
    )
    assert [(t.status, t.instruction) for t in turns][-1] == (
        "ok",
        "remove the ring from [scene] (the red ring on the left)",
    )
    (blob,) = renderer.plans[-1].blobs
    assert blob.cx < 0.4 and blob.description == "background"
