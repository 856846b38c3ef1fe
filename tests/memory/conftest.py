"""Fixtures for the memory tests: a Studio in the test's own data dir, with fake planner/renderer
(``studio.renderer.failure = ...`` makes its renders fail)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from memory_fakes import SwitchableRenderer, fake_planner

from anypix.studio import Studio


@pytest.fixture
def studio() -> Iterator[Studio]:
    with Studio(planner=fake_planner, renderer=SwitchableRenderer(), locator=None) as opened:
        yield opened
