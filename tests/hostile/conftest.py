"""Fixtures for the hostile-input tests: a data dir holding one session with two turns."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_helpers import make_session


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir with the session "holiday" (two ok turns, each with an image)."""
    folder = tmp_path / "data"
    make_session(folder, "holiday", ["a beach", "make it sunset"])
    return folder
