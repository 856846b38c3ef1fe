"""The offline path end to end, as `make demo` runs it: plan, render, store, undo, report."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from anypix.demo import SCRIPT, run_demo
from anypix.studio import Studio


def test_demo_plans_renders_stores_and_undoes(tmp_path: Path) -> None:
    turns = run_demo(tmp_path, model="tiny-random")

    assert [t.status for t in turns] == ["ok"] * len(SCRIPT)
    for turn in turns:
        assert turn.tokens.count("[op]") >= 1
        assert len(turn.outputs) == 1
        with Image.open(turn.outputs[0]) as image:
            assert image.size == (64, 64)
    assert "[blob]" in turns[0].tokens  # the layout sentence became blobs
    assert "[style] stripes" in turns[3].tokens

    with Studio(tmp_path / "data") as studio:
        session = studio.session("demo", create=False)
        history = session.history()
        assert len(history) == len(SCRIPT)  # undo keeps every turn; it moves the cursor
        assert session.undo() == len(SCRIPT) - 2  # the demo's undo already stepped back once
    report = (tmp_path / "report.html").read_text()
    assert all(t.instruction in report for t in turns)
    assert all(p.name in report for t in turns for p in t.outputs)
