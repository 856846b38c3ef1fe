"""The conversation pane under Pilot: a question from the planner and the answer typed next,
what a turn shows while it runs and when it ends, and text from outside shown, never sent raw."""

from __future__ import annotations

from pathlib import Path

from frontends import AskingPlanner
from textual.message import Message
from tui_fakes import SteppingRenderer, attach, fast_planner, finish_turn, submit, wait_until

from anypix.config import Settings
from anypix.errors import ClarificationNeeded
from anypix.memory.history import TurnDetail, TurnSummary
from anypix.records import StepRecord
from anypix.studio import Studio
from anypix.tui import AnypixApp
from anypix.tui.chat_input import InstructionInput
from anypix.tui.history_tree import HistoryTree
from anypix.tui.message_list import TurnMessage
from anypix.tui.messages import PlanReady, StepProgress, TurnFinished
from anypix.tui.plan_view import PlanView
from anypix.tui.status_line import StatusLine

SIZE = (140, 42)


async def test_a_question_is_shown_and_the_next_instruction_answers_it(
    tmp_path: Path, settings: Settings, pictures: dict[str, Path]
) -> None:
    question = ClarificationNeeded("Which image should I tidy?", ["[photo]", "[dog]"])
    planner = AskingPlanner(question)
    renderer = SteppingRenderer(steps=3)
    with Studio(tmp_path / "data", planner=planner, renderer=renderer) as studio:
        app = AnypixApp(studio, "ask", settings=settings, image_kind="halfcell")
        async with app.run_test(size=SIZE) as pilot:
            await attach(pilot, "photo", pictures["photo"])
            await attach(pilot, "dog", pictures["dog"])
            await finish_turn(pilot, "tidy it up")

            asked = app.query(TurnMessage).last()
            assert asked.status == "question"
            assert asked.text.plain.splitlines() == [
                "› tidy it up",
                "  ? Which image should I tidy?",
                "      1. [photo]",
                "      2. [dog]",
                "    (reply with a number or your own words)",
            ]
            box = app.query_one(InstructionInput)
            assert box.placeholder.startswith("your answer")
            assert studio.session("ask").history() == []  # a question is not a turn

            await finish_turn(pilot, "1")
            answered = app.query(TurnMessage).last()
            assert answered.status == "ok", (planner.seen, answered.text.plain)
            assert answered.instruction == "tidy it up ([photo])"
            assert not box.placeholder.startswith("your answer")
    assert planner.seen == ["tidy it up", "tidy it up ([photo])"]
    assert renderer.plans[0].base == "photo"


async def test_a_turn_shows_its_plan_then_its_progress_then_its_result(
    studio: Studio, settings: Settings, pictures: dict[str, Path]
) -> None:
    seen: list[Message] = []
    app = AnypixApp(studio, "live", settings=settings, image_kind="halfcell")
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await attach(pilot, "photo", pictures["photo"])
        await finish_turn(pilot, "make [photo] brighter")
        kinds = [type(m) for m in seen if isinstance(m, PlanReady | StepProgress | TurnFinished)]
        assert kinds == [PlanReady, *[StepProgress] * 5, TurnFinished]  # the plan comes first
        entry = app.query(TurnMessage).last()
        assert entry.text.plain.endswith("✓ turn 1 · 1 image · now the current image")


async def test_control_characters_are_shown_as_escapes(
    tmp_path: Path, settings: Settings, pictures: dict[str, Path]
) -> None:
    with Studio(tmp_path / "data", planner=fast_planner(), renderer=SteppingRenderer()) as studio:
        app = AnypixApp(studio, "evil\x1b[2J", settings=settings, image_kind="halfcell")
        async with app.run_test(size=SIZE) as pilot:
            await attach(pilot, "photo", pictures["photo"])
            await finish_turn(pilot, "make [photo] brighter\x1b]0;pwned\x07")
            await submit(pilot, "/attach x\x1b[31m=nowhere.png")
            await wait_until(pilot, lambda: len(app.query(".error")) == 1, "the attach error")
            shown = [
                app.query(TurnMessage).last().text.plain,
                str(app.query(".error").last().content),
                app.query_one(StatusLine).status.text().plain,
                str(app.query_one(HistoryTree).root.children[0].label),
                str(app.query_one(HistoryTree).root.label),
                app.query_one(PlanView).query_one("#plan-tokens").content.plain,  # type: ignore[attr-defined]
            ]
    assert not any(ch in text for text in shown for ch in "\x1b\x07"), shown
    assert "brighter\\x1b]0;pwned\\x07" in shown[0] and "evil\\x1b[2J" in shown[2]


def checked_turn(status: str, checks: list[tuple[str, str | None]]) -> TurnDetail:
    """A stored turn whose verify steps found ``checks`` ((result, error) each)."""
    summary = TurnSummary(seq=4, parent=3, status=status, instruction="add a ring to [last]",
                          created_at=0.0, outputs=1, current=True, on_path=True)  # fmt: skip
    steps = [StepRecord("plan"), StepRecord("render"),
             *(StepRecord("verify", result=result, error=error) for result, error in checks)]  # fmt: skip
    return TurnDetail(summary, {}, None, "verify: the ring is missing" if status == "failed" else
                      None, {}, steps, [])  # fmt: skip


async def test_what_verification_found_is_shown_under_the_turn() -> None:
    from textual.app import App, ComposeResult

    from anypix.tui.message_list import MessageList

    class Conversation(App[None]):
        def compose(self) -> ComposeResult:
            yield MessageList()

    app = Conversation()
    async with app.run_test() as pilot:
        messages = app.query_one(MessageList)
        live = messages.add_turn("add a ring to [last]")
        live.finish(checked_turn("ok", [("add ring: verified", None)]), None, "ok")
        messages.add_stored([checked_turn("failed", [("", "add ring: no ring in its blob")])])
        await pilot.pause()
        ok, failed = app.query(TurnMessage)
    assert ok.text.plain.splitlines()[1:] == [
        "  ✓ turn 4 · 0 images · now the current image",
        "    verify: add ring: verified",
    ]
    assert failed.text.plain.splitlines()[1:] == [
        "  ✗ failed: verify: the ring is missing · turn 4",
        "    verify: add ring: no ring in its blob",
    ]
