"""Fixtures for the memory tests: a Studio in the test's own data dir, with fake planner/renderer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from memory_fakes import fake_planner, flat_renderer

from anypix.studio import Studio


@pytest.fixture
def studio() -> Iterator[Studio]:
    with Studio(planner=fake_planner, renderer=flat_renderer) as opened:
        yield opened
