"""A whole edit session driven through the real app under Pilot: attach, edit with live
progress, see the result and its plan, undo, redo, branch, cancel mid-render, and errors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from tui_fakes import SteppingRenderer, attach, fast_planner, finish_turn, submit, wait_until

from anypix.config import Settings
from anypix.studio import Studio
from anypix.tui import AnypixApp
from anypix.tui.gallery import AssetCard, Gallery
from anypix.tui.history_tree import HistoryTree
from anypix.tui.message_list import MessageList, TurnMessage
from anypix.tui.messages import StepProgress, TurnFinished, TurnStarted
from anypix.tui.plan_view import PlanView
from anypix.tui.render_progress import RenderProgress
from anypix.tui.status_line import StatusLine

SIZE = (140, 42)


def make_app(studio: Studio, settings: Settings, name: str = "test") -> AnypixApp:
    return AnypixApp(studio, name, settings=settings, image_kind="halfcell")


def preview_pixels(app: AnypixApp, name: str) -> set[tuple[int, int, int]]:
    """The distinct colours of the picture the gallery card of ``name`` draws."""
    card = next(c for c in app.query(AssetCard) if c.asset.name == name)
    image = card.query_one(".preview").image  # type: ignore[attr-defined]
    return {colour for _, colour in image.getcolors(image.width * image.height)}


def notes(app: AnypixApp) -> list[str]:
    return [str(w.content) for w in app.query_one(MessageList).query(".note, .error")]


async def test_an_edit_session_from_instruction_to_undo(
    studio: Studio, settings: Settings, renderer: SteppingRenderer, pictures: dict[str, Path]
) -> None:
    seen: list[Message] = []
    app = make_app(studio, settings)
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        assert app.query_one(StatusLine).status.llm == "fast"
        await attach(pilot, "photo", pictures["photo"])
        await attach(pilot, "dog", pictures["dog"])
        assert sorted(app.query_one(Gallery).names()) == ["dog", "photo"]

        await finish_turn(pilot, "add [dog] to [photo] on the left")

        # progress arrived step by step, between the start and the end of the turn
        kinds = [type(m) for m in seen if isinstance(m, TurnStarted | StepProgress | TurnFinished)]
        assert kinds == [TurnStarted, *[StepProgress] * 5, TurnFinished]
        steps = [(m.done, m.total) for m in seen if isinstance(m, StepProgress)]
        assert steps == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
        assert app.query_one(RenderProgress).bar.progress == 5

        entry = app.query(TurnMessage).last()
        assert entry.status == "ok" and "turn 1" in entry.text.plain
        # the result is the current image, previewed first in the gallery
        assert app.query_one(Gallery).names()[0] == "last"
        assert preview_pixels(app, "last") == {SteppingRenderer.colour(1)}
        captions = [str(c.content) for c in app.query_one(Gallery).query(".caption")]
        assert captions[0] == "[last] current image\n64×64" and "[dog]\n32×32" in captions
        # the plan pane shows the plan that was rendered, with its blob
        plan_view = app.query_one(PlanView)
        assert plan_view.tokens_text() == renderer.plans[0].tokens()
        assert "[blob] dog" in plan_view.tokens_text()
        assert plan_view.border_title == "plan · turn 1"

        await pilot.press("ctrl+z")
        await wait_until(pilot, lambda: "last" not in app.query_one(Gallery).shown, "undo")
        assert [t.current for t in studio.session("test").history()] == [False]
        assert notes(app)[-1] == "undo: the current image is now the start (no image yet)"
        assert app.query_one(HistoryTree).root.label.plain.startswith("● ")  # at the start

        await pilot.press("ctrl+y")
        await wait_until(pilot, lambda: "last" in app.query_one(Gallery).shown, "redo")
        history = studio.session("test").history()
        assert [(t.seq, t.status, t.current) for t in history] == [(1, "ok", True)]
        assert app.query_one(StatusLine).status.turns == 1


async def test_branch_from_an_earlier_turn_keeps_both_branches(
    studio: Studio, settings: Settings, pictures: dict[str, Path]
) -> None:
    app = make_app(studio, settings)
    async with app.run_test(size=SIZE) as pilot:
        await attach(pilot, "photo", pictures["photo"])
        await finish_turn(pilot, "make [photo] brighter")
        await finish_turn(pilot, "make [last] darker")
        await submit(pilot, "/branch 1")
        await wait_until(pilot, lambda: "branch" in (notes(app) or [""])[-1], "the branch note")
        await finish_turn(pilot, "make [last] blue")

        history = studio.session("test").history()
        assert [(t.seq, t.parent) for t in history] == [(1, None), (2, 1), (3, 1)]
        tree = app.query_one(HistoryTree)
        (first,) = tree.root.children
        assert first.data == 1
        assert [child.data for child in first.children] == [2, 3]
        assert str(first.children[1].label).startswith("● #3")

        # ctrl+b branches at the highlighted turn: move the cursor to turn 2 and branch there
        tree.move_cursor(first.children[0])
        await pilot.press("ctrl+b")
        await wait_until(pilot, lambda: "turn 2" in notes(app)[-1], "the branch to turn 2")
        assert [t.seq for t in studio.session("test").history() if t.current] == [2]


@pytest.mark.parametrize("how", ["escape", "button"])
async def test_cancel_mid_render_loses_nothing(
    tmp_path: Path, settings: Settings, pictures: dict[str, Path], how: str
) -> None:
    renderer = SteppingRenderer(steps=10)
    with Studio(tmp_path / "data", planner=fast_planner(), renderer=renderer) as studio:
        app = make_app(studio, settings)
        async with app.run_test(size=SIZE) as pilot:
            await attach(pilot, "photo", pictures["photo"])
            await finish_turn(pilot, "make [photo] brighter")
            before = app.query_one(Gallery).shown

            renderer.hold_at = 3
            await submit(pilot, "make [last] darker")
            assert await asyncio.to_thread(renderer.held.wait, 20)
            progress = app.query_one(RenderProgress)
            await wait_until(pilot, lambda: progress.label == "step 3/10", "step 3 on screen")
            plan_view = app.query_one(PlanView)  # the plan is on screen while it renders
            await wait_until(pilot, lambda: plan_view.border_title == "plan · rendering",
                             "the running turn's plan")  # fmt: skip
            assert plan_view.tokens_text() == renderer.plans[-1].tokens()
            if how == "escape":
                await pilot.press("escape")
            else:
                await pilot.click("#cancel")
            await wait_until(pilot, lambda: app.query(TurnMessage).last().status != "running",
                             "the cancelled turn")  # fmt: skip

            entry = app.query(TurnMessage).last()
            assert entry.status == "cancelled"
            assert "render cancelled after 3 of 10 steps" in entry.text.plain
            assert progress.label == "idle (last turn cancelled)"
            assert app.query_one(Gallery).shown == before  # the current image did not change
            history = studio.session("test").history()
            assert [(t.seq, t.status, t.current) for t in history] == [
                (1, "ok", True),
                (2, "cancelled", False),
            ]

            # the UI is free again: the next turn renders and continues from turn 1
            renderer.hold_at = None
            await finish_turn(pilot, "make [last] blue")
            assert app.query(TurnMessage).last().status == "ok"
            assert studio.session("test").history()[-1].parent == 1


async def test_errors_show_what_was_wrong_and_how_to_fix_it(
    studio: Studio, settings: Settings, pictures: dict[str, Path]
) -> None:
    app = make_app(studio, settings)
    async with app.run_test(size=SIZE) as pilot:
        await attach(pilot, "photo", pictures["photo"])
        await finish_turn(pilot, "add [cat] to [photo]")
        entry = app.query(TurnMessage).last()
        assert entry.status == "failed"
        text = entry.text.plain
        assert "[cat] is not in this session" in text
        assert "hint: attach it with /attach cat=PATH" in text

        await submit(pilot, f"/attach ghost={pictures['photo'].parent / 'missing.png'}")
        await wait_until(pilot, lambda: len(notes(app)) >= 2, "the attach error")
        assert "missing.png" in notes(app)[-1] and "hint:" in notes(app)[-1]
        assert "ghost" not in app.query_one(Gallery).shown

        await submit(pilot, "/frobnicate")
        await wait_until(pilot, lambda: "/frobnicate" in notes(app)[-1], "the command error")
        assert "hint: the commands are /attach" in notes(app)[-1]

        await pilot.press("ctrl+z")  # undo with nothing to undo is explained, not a crash
        await wait_until(pilot, lambda: "nothing to undo" in notes(app)[-1], "the undo error")


async def test_attach_dialog_stores_the_file_under_its_name(
    studio: Studio, settings: Settings, pictures: dict[str, Path]
) -> None:
    app = make_app(studio, settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: len(app.screen_stack) == 2, "the dialog")
        app.screen.query_one("#attach-path").value = str(pictures["dog"])  # type: ignore[attr-defined]
        app.screen.query_one("#attach-name").value = "rex"  # type: ignore[attr-defined]
        await pilot.click("#attach-ok")
        await wait_until(pilot, lambda: "rex" in app.query_one(Gallery).shown, "[rex]")
        assert set(studio.session("test").assets()) == {"rex"}


@pytest.mark.parametrize("next_field", ["tab", "enter"])
async def test_the_keyboard_reaches_the_name_field_and_a_jpeg_is_called_a_jpeg(
    studio: Studio, settings: Settings, tmp_path: Path, next_field: str
) -> None:
    from PIL import Image
    from textual.widgets import Input

    jpeg = tmp_path / "holiday.jpg"
    Image.new("RGB", (40, 30), (200, 120, 40)).save(jpeg, format="JPEG")
    app = make_app(studio, settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: len(app.screen_stack) == 2, "the dialog")
        path_box = app.screen.query_one("#attach-path", Input)
        assert path_box.has_focus  # typing goes to the path first
        path_box.value = str(jpeg)
        await pilot.press(next_field)
        name_box = app.screen.query_one("#attach-name", Input)
        assert name_box.has_focus and len(app.screen_stack) == 2  # not attached yet
        await pilot.press(*"beach")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "beach" in app.query_one(Gallery).shown, "[beach]")
        assert notes(app)[-1] == "attached [beach] (image, jpeg)"
        assert set(studio.session("test").assets()) == {"beach"}


async def test_previews_are_big_enough_to_see(
    studio: Studio, settings: Settings, pictures: dict[str, Path]
) -> None:
    app = make_app(studio, settings)
    async with app.run_test(size=SIZE) as pilot:
        await attach(pilot, "photo", pictures["photo"])
        (card,) = app.query(AssetCard)
        await pilot.pause()
        preview = card.query_one(".preview").region
        # 12 rows of half cells: 24 pixel rows of a 48-row photo (6 before: a smudge)
        assert preview.height == 12 and preview.width >= 24


async def test_a_new_app_reopens_the_session_where_it_was(
    studio: Studio, settings: Settings, pictures: dict[str, Path]
) -> None:
    first = make_app(studio, settings, name="holiday")
    async with first.run_test(size=SIZE) as pilot:
        await attach(pilot, "photo", pictures["photo"])
        await finish_turn(pilot, "make [photo] brighter")
    again = make_app(studio, settings, name="holiday")
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert again.session.id == first.session.id
        assert "last" in again.query_one(Gallery).shown
        assert again.query_one(PlanView).border_title == "plan · turn 1"
        # the conversation is there again: each stored turn, as it ended
        entries = list(again.query(TurnMessage))
        assert [(e.status, e.text.plain) for e in entries] == [
            ("ok", "› make [photo] brighter\n  ✓ turn 1 · 1 image"),
        ]


class BrokenRenderer(SteppingRenderer):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")


async def test_a_bug_is_shown_as_one_and_the_ui_goes_on(
    tmp_path: Path, settings: Settings, pictures: dict[str, Path]
) -> None:
    with Studio(tmp_path / "data", planner=fast_planner(), renderer=BrokenRenderer()) as studio:
        app = make_app(studio, settings)
        async with app.run_test(size=SIZE) as pilot:
            await attach(pilot, "photo", pictures["photo"])
            await finish_turn(pilot, "make [photo] brighter")
            entry = app.query(TurnMessage).last()
            assert entry.status == "failed" and "RuntimeError: boom" in entry.text.plain
            assert "hint: this is a bug in anypix" in entry.text.plain
            assert app.query_one(RenderProgress).label == "idle (last turn failed)"
            assert [t.status for t in studio.session("test").history()] == ["failed"]


async def test_show_export_and_quit_work_as_in_chat(
    studio: Studio, settings: Settings, pictures: dict[str, Path], tmp_path: Path
) -> None:
    app = make_app(studio, settings)
    async with app.run_test(size=SIZE) as pilot:
        await attach(pilot, "photo", pictures["photo"])
        await finish_turn(pilot, "make [photo] brighter")
        await finish_turn(pilot, "make [last] darker")
        await submit(pilot, "/show 1")
        await wait_until(pilot, lambda: "turn 1" in notes(app)[-1], "/show 1")
        assert app.query_one(PlanView).border_title == "plan · turn 1"
        await submit(pilot, "/show")
        await wait_until(pilot, lambda: notes(app)[-1].startswith("session test"), "/show")
        assert notes(app)[-1] == "session test: 2 turn(s), at turn 2; names: [last], [photo]"
        await submit(pilot, f"/export {tmp_path / 'test.zip'}")
        await wait_until(pilot, lambda: "exported" in notes(app)[-1], "/export")
        assert (tmp_path / "test.zip").stat().st_size > 0
        await submit(pilot, "/show 7")
        await wait_until(pilot, lambda: "7" in notes(app)[-1], "no turn 7")
        assert app.query_one(PlanView).border_title == "plan · turn 1"  # unchanged
        await submit(pilot, "/show 99999999999")
        await wait_until(pilot, lambda: "not a turn number" in notes(app)[-1], "a bad number")
        await submit(pilot, "/quit")
        await wait_until(pilot, lambda: not app.is_running, "the app to quit")
