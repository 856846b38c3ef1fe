"""The Python API: ``import anypix`` stays light, and Studio reads the configured data dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anypix
from anypix.studio import Studio


def test_import_anypix_does_not_load_the_database_layer() -> None:
    code = "import sys, anypix; print('sqlalchemy' in sys.modules, 'anypix.studio' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["False", "False"]


def test_studio_is_exported_lazily_and_uses_the_settings_data_dir(_isolated_settings: Path) -> None:
    from memory_fakes import fake_planner, flat_renderer

    assert anypix.Studio is Studio
    with anypix.Studio(planner=fake_planner, renderer=flat_renderer) as studio:
        assert studio.data_dir == _isolated_settings
        turn = studio.edit("new a red ball")  # no session yet: a new one
        again = studio.edit("make it blue")  # the most recent session
        assert [s.turns for s in studio.sessions()] == [2]
        assert again.summary.parent == turn.summary.seq
    assert (_isolated_settings / "anypix.db").exists()


def test_the_default_planner_is_the_agents_fast_path(monkeypatch, tmp_path: Path) -> None:
    from memory_fakes import flat_renderer, image_file

    monkeypatch.setenv("ANYPIX_LLM", "fast")
    photo, dog = image_file(tmp_path / "photo.png"), image_file(tmp_path / "dog.png", (9, 9, 9))
    with Studio(renderer=flat_renderer) as studio:
        turn = studio.session().edit("add [dog] to [photo]", {"photo": photo, "dog": dog})
    assert turn.plan is not None and (turn.plan["base"], turn.plan["subs"]) == ("photo", ["dog"])
    assert turn.steps[0].result.endswith("# planned by: fast")
    assert set(turn.renders[0].provenance["inputs"]) == {"photo", "dog"}


def test_attachments_can_be_cli_options_or_attachment_records(tmp_path: Path) -> None:
    from memory_fakes import fake_planner, flat_renderer, image_file

    from anypix.media import parse_attachment

    dog, cat = image_file(tmp_path / "dog.png"), image_file(tmp_path / "cat.png", (1, 2, 3))
    with Studio(planner=fake_planner, renderer=flat_renderer) as studio:
        session = studio.session()
        first = session.edit("new [dog]", [f"dog={dog}"])
        second = session.edit("add [cat]", [parse_attachment(f"cat={cat}")])
        assert first.attachments.keys() == {"dog"} and second.attachments.keys() == {"cat"}
        assert set(session.assets()) == {"dog", "cat", "last"}
