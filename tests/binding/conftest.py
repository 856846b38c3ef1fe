"""Binding tests run single-threaded (faster overall on a shared 2-core machine); the previous
thread count is restored after each module."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_thread: None) -> None:
    """Every module here uses the shared ``one_thread`` fixture."""
