"""Input images for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for name, colour in (("photo", "green"), ("dog", "brown")):
        paths[name] = tmp_path / f"{name}.png"
        Image.new("RGB", (32, 32), colour).save(paths[name])
    return paths
