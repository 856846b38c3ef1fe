"""The layout_masks tool, through the one tool table."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anypix.errors import PlanParseError
from anypix.tools import registry

LAYOUT = """
dog {major-radius: 160px; minor-radius: 80px; cx: 200px; cy: 256px; angle: 30}
cat {major-radius: 60px; minor-radius: 60px; cx: 420px; cy: 120px; angle: 0}
"""


def test_layout_masks_is_a_registered_tool_with_a_schema():
    tool = registry.get("layout_masks")
    assert tool.parameters["required"] == ["layout"]
    assert set(tool.parameters["properties"]) == {"layout", "width", "height", "save_to"}
    assert "CSS" in tool.parameters["properties"]["layout"]["description"]


def test_layout_masks_reports_each_blob_and_draws_the_masks(tmp_path: Path):
    out = tmp_path / "layout.png"
    report = registry.get("layout_masks")(layout=LAYOUT, width=512, height=512, save_to=str(out))
    dog, cat = report["blobs"]
    assert (dog["label"], cat["label"]) == ("dog", "cat")
    assert dog["coverage"] == pytest.approx(math.pi * 160 * 80 / 512**2, rel=0.02)
    assert cat["coverage"] == pytest.approx(math.pi * 60 * 60 / 512**2, rel=0.02)
    assert cat["bbox"] == pytest.approx([360 / 512, 60 / 512, 480 / 512, 180 / 512], abs=1e-3)
    assert report["overlap"] == 0.0
    image = np.asarray(Image.open(out))
    assert image.shape == (512, 512)
    assert len(np.unique(image)) == 3  # background and one grey level per blob


def test_layout_masks_rejects_bad_css_with_a_plan_error():
    with pytest.raises(PlanParseError, match="line 1"):
        registry.get("layout_masks")(layout="dog {cx: 3px}")
