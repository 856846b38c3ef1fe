"""What the screen looks like at 140x42 (half-cell previews, so it does not depend on the
terminal): after an edit, after a failed turn, and with the attach dialog open. Regenerate with
``pytest tests/tui --snapshot-update`` after an intended change, and look at the SVGs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input
from tui_fakes import attach, finish_turn, wait_until

from anypix.config import Settings
from anypix.studio import Studio
from anypix.tui import AnypixApp

SIZE = (140, 42)
Compare = Callable[..., bool]


def make_app(studio: Studio, settings: Settings) -> AnypixApp:
    return AnypixApp(studio, "snapshot", settings=settings, image_kind="halfcell")


async def steady_cursors(pilot: Pilot[Any]) -> None:
    """A blinking cursor is drawn or not depending on when the screenshot is taken."""
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


def test_snapshot_after_an_edit(
    snap_compare: Compare, studio: Studio, settings: Settings, pictures: dict[str, Path]
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await attach(pilot, "photo", pictures["photo"])
        await attach(pilot, "dog", pictures["dog"])
        await finish_turn(pilot, "add [dog] to [photo] on the left")
        await steady_cursors(pilot)

    assert snap_compare(make_app(studio, settings), terminal_size=SIZE, run_before=run_before)


def test_snapshot_of_a_failed_turn_with_its_hint(
    snap_compare: Compare, studio: Studio, settings: Settings, pictures: dict[str, Path]
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await attach(pilot, "photo", pictures["photo"])
        await finish_turn(pilot, "add [cat] to [photo]")
        await steady_cursors(pilot)

    assert snap_compare(make_app(studio, settings), terminal_size=SIZE, run_before=run_before)


def test_snapshot_of_the_attach_dialog(
    snap_compare: Compare, studio: Studio, settings: Settings
) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: len(pilot.app.screen_stack) == 2, "the dialog")
        await steady_cursors(pilot)

    assert snap_compare(make_app(studio, settings), terminal_size=SIZE, run_before=run_before)
