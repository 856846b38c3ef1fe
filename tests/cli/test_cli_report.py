"""`anypix report`: one self-contained HTML page per session (before/after, plans, verification)
that is written, not opened."""

from __future__ import annotations

import base64
import io
import re
import webbrowser
from pathlib import Path

import pytest
from cli_helpers import FAST_RENDER, cli
from PIL import Image


def test_report_pairs_each_edit_with_the_image_it_changed(
    images: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *a, **k: opened.append(url))  # a fake
    for args in (["-a", f"photo={images['photo']}", "make [photo] brighter"],
                 ["make [last] darker"]):  # fmt: skip
        ran = cli("edit", "--quiet", *FAST_RENDER, "-s", "album", *args)
        assert ran.exit_code == 0, ran.stderr
    page_path = tmp_path / "album.html"
    ran = cli("report", "album", "--out", str(page_path))
    assert ran.exit_code == 0 and ran.stdout.strip() == str(page_path) and opened == []
    page = page_path.read_text()
    assert "src=\"http" not in page and "src='http" not in page  # nothing to fetch: self-contained
    images_shown = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images_shown) == 4  # turn 1: photo -> output; turn 2: output 1 -> output 2
    with Image.open(io.BytesIO(base64.b64decode(images_shown[0]))) as before:
        assert before.size == (32, 32) and before.getpixel((5, 5)) == (0, 128, 0)  # the photo
    assert "before: [photo]" in page
    assert "before: [last]" in page and "make [photo] brighter" in page
    assert images_shown[1] == images_shown[2]  # turn 2 edits what turn 1 made
    assert "[base] photo" in page and "[base] last" in page  # the plans in token form
    assert "<title>anypix session album</title>" in page


def test_report_of_no_session_is_one_line() -> None:
    ran = cli("report", "nowhere")
    assert ran.exit_code == 2 and ran.error_lines == [
        "error: there is no session 'nowhere' (list sessions with: anypix sessions)"
    ]
