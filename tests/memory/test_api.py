"""The Python API: ``import anypix`` stays light, and Studio reads the configured data dir."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

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


# -- the front-end API: Studio.from_settings, session rules, plan, edit, TurnFailed ----------------


def test_from_settings_applies_overrides_without_touching_the_environment(tmp_path: Path) -> None:
    import os

    before = dict(os.environ)
    with Studio.from_settings(data_dir=tmp_path / "elsewhere", llm="fast", model=None) as studio:
        assert studio.data_dir == tmp_path / "elsewhere" and studio.settings.llm == "fast"
        assert not studio.planner.can_replan  # the grammar alone, as --llm fast asks
    assert dict(os.environ) == before


def test_a_new_session_is_stored_with_its_first_turn(tmp_path: Path) -> None:
    from memory_fakes import fake_planner, flat_renderer

    from anypix.errors import SessionNotFoundError

    with Studio(planner=fake_planner, renderer=flat_renderer) as studio:
        garden = studio.session("garden")  # unknown: a new session of that name
        assert studio.sessions() == [] and garden.history() == [] and garden.name == "garden"
        garden.edit("new a rose")
        assert [(s.name, s.turns) for s in studio.sessions()] == [("garden", 1)]
        assert studio.session("garden").id == garden.id  # found again by name...
        assert studio.session(garden.id[:6]).id == garden.id  # ...and by id prefix
        assert studio.session().id == garden.id  # no ref: the most recent
        with pytest.raises(SessionNotFoundError, match="'nowhere'"):
            studio.session("nowhere", create=False)


def test_a_name_two_sessions_share_is_never_guessed(tmp_path: Path) -> None:
    from memory_fakes import fake_planner, flat_renderer

    from anypix.errors import HistoryError

    with Studio(planner=fake_planner, renderer=flat_renderer) as studio:
        first, second = studio.new_session("twin"), studio.new_session("twin")
        first.edit("new a rose")
        second.edit("new a tulip")
        with pytest.raises(HistoryError, match="2 sessions are named 'twin'") as raised:
            studio.session("twin")
        assert first.id[:8] in str(raised.value) and second.id[:8] in str(raised.value)
        assert studio.session(first.id).id == first.id


def test_plan_reads_references_as_edit_does_and_stores_nothing(tmp_path: Path) -> None:
    from memory_fakes import flat_renderer, image_file

    from anypix.agent.planner import Planner

    photo = image_file(tmp_path / "photo.png")
    dog = image_file(tmp_path / "IMG_0042.png", (9, 9, 9))
    with Studio(planner=Planner(None), renderer=flat_renderer) as studio:
        session = studio.new_session("beach")
        session.attach("photo", photo)  # a name the session already knows
        files = studio.store.files()
        result = session.plan("add [img_0042.png] to [photo]", {"dog": dog})
        assert (result.plan.base, result.plan.subs, result.source) == ("photo", ["dog"], "fast")
        assert session.history() == [] and studio.store.files() == files


def test_an_edit_refused_before_it_runs_leaves_nothing_behind(tmp_path: Path) -> None:
    from memory_fakes import flat_renderer, image_file

    from anypix.agent.planner import Planner
    from anypix.errors import AssetError, EmptyInstructionError, UnknownAssetError

    photo = image_file(tmp_path / "photo.png")
    with Studio(planner=Planner(None), renderer=flat_renderer) as studio:
        with pytest.raises(UnknownAssetError, match=r"\[cat\] is not in this session"):
            studio.new_session().edit("add [cat] to [photo]", {"photo": photo})
        with pytest.raises(EmptyInstructionError):
            studio.session("named").edit("  ", {"photo": photo})
        with pytest.raises(AssetError):
            studio.session("named").edit("remove the cat from [photo]", {"photo": tmp_path})
        assert studio.sessions() == [] and studio.store.files() == {}


def test_a_failed_turn_raises_with_the_turn_as_stored(tmp_path: Path) -> None:
    from memory_fakes import fake_planner

    from anypix.errors import CancelledError, TurnFailed

    def cancelled(*_: object, **__: object) -> None:
        raise CancelledError("render cancelled after 3 of 20 steps")

    def broken(*_: object, **__: object) -> None:
        raise ZeroDivisionError("a bug")

    with Studio(planner=fake_planner, renderer=cancelled) as studio:
        session = studio.new_session("stop")
        with pytest.raises(TurnFailed, match="after 3 of 20") as raised:
            session.edit("new a rose")
        assert raised.value.cancelled and raised.value.exit_code == 130
        assert raised.value.turn == session.show(1) and raised.value.turn.summary.status == "cancelled"
    with Studio(planner=fake_planner, renderer=broken) as studio:
        with pytest.raises(TurnFailed) as raised:
            studio.new_session().edit("new a rose")
        assert isinstance(raised.value.cause, ZeroDivisionError) and raised.value.exit_code == 1
        assert raised.value.turn.summary.status == "failed"


def test_options_set_knobs_and_variations_take_the_next_seeds(tmp_path: Path) -> None:
    import json

    from memory_fakes import fake_planner, flat_renderer

    from anypix.knobs import EditOptions

    options = EditOptions(seed=5, steps=3, strength=0.25, variations=3)
    with Studio(planner=fake_planner, renderer=flat_renderer) as studio:
        session = studio.new_session("Garden Party!")
        turn = session.edit("new a rose", options=options)
        saved = session.save_outputs(turn, tmp_path / "out")
    assert [r.provenance["seed"] for r in turn.renders] == [5, 6, 7]
    assert {r.provenance["alpha"] for r in turn.renders} == {0.75}
    assert turn.plan is not None and turn.plan["knobs"]["steps"] == 3
    assert [s.tool for s in turn.steps][-2:] == ["render", "render"]  # the extra variations
    assert len({r.sha256 for r in turn.renders}) == 3
    assert [p.name for p in saved] == [
        "garden-party-t1-generate.png", "garden-party-t1-generate-2.png",
        "garden-party-t1-generate-3.png",
    ]  # fmt: skip
    assert [p.read_bytes() for p in saved] == [r.path.read_bytes() for r in turn.renders]
    record = json.loads(json.dumps(turn.to_json()))
    assert record["outputs"] == [str(r.path) for r in turn.renders]
    assert record["seq"] == 1 and record["status"] == "ok" and len(record["renders"]) == 3


def test_variations_past_the_largest_seed_wrap_round(tmp_path: Path) -> None:
    from memory_fakes import fake_planner, flat_renderer

    from anypix.knobs import EditOptions, knob_range

    largest = knob_range("seed")[1]
    with Studio(planner=fake_planner, renderer=flat_renderer) as studio:
        turn = studio.new_session().edit("new a rose", options=EditOptions(seed=largest, variations=2))
    assert [r.provenance["seed"] for r in turn.renders] == [largest, 0]
