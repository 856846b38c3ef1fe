"""``[name`` completes to a session asset name: the pure rule, and the keys in the real app."""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_fakes import attach, wait_until

from anypix.config import Settings
from anypix.studio import Studio
from anypix.tui import AnypixApp
from anypix.tui.chat_input import InstructionInput, complete_name

NAMES = ["dog", "dune", "photo", "last"]


@pytest.mark.parametrize(
    ("typed", "completed"),
    [
        ("add [d", "add [dog]"),  # the first match in name order
        ("add [du", "add [dune]"),
        ("add [P", "add [photo]"),  # case-insensitive match, the name's own spelling
        ("add [dog] to [", "add [dog] to [dog]"),
        ("add [dog] to [l", "add [dog] to [last]"),
    ],
)
def test_an_open_bracket_completes_to_a_name(typed: str, completed: str) -> None:
    assert complete_name(typed, NAMES) == completed


@pytest.mark.parametrize("typed", ["add a dog", "add [dog]", "add [x", "make [the first"])
def test_nothing_to_complete(typed: str) -> None:
    assert complete_name(typed, NAMES) is None


async def test_tab_and_right_accept_the_suggested_name(
    studio: Studio, settings: Settings, pictures: dict[str, Path]
) -> None:
    app = AnypixApp(studio, "test", settings=settings, image_kind="halfcell")
    async with app.run_test(size=(140, 42)) as pilot:
        await attach(pilot, "photo", pictures["photo"])
        await attach(pilot, "dog", pictures["dog"])
        box = app.query_one(InstructionInput)
        box.focus()
        await pilot.press(*"add [d")
        await wait_until(pilot, lambda: box._suggestion == "add [dog]", "the suggestion")
        await pilot.press("tab")
        assert box.value == "add [dog]" and box.has_focus
        await pilot.press(*" to [p")
        await wait_until(pilot, lambda: box._suggestion == "add [dog] to [photo]", "[photo]")
        await pilot.press("right")
        assert box.value == "add [dog] to [photo]"
        await pilot.press("tab")  # nothing to complete: Tab moves the focus on as usual
        assert box.value == "add [dog] to [photo]" and not box.has_focus

