"""Studio turns run through the executor: a render error the plan caused goes back to the
planner, and every step (the failed ones too) is stored with the turn."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from anypix.agent.llm import FakeLLM
from anypix.agent.planner import Planner
from anypix.errors import PlanValidationError, TurnFailed
from anypix.plan import EditPlan
from anypix.records import Provenance, Render
from anypix.studio import Studio

LLM_PLAN = {"base": "photo", "subs": ["dog"], "style_ref": None, "gen": "a small dog",
            "ops": [{"op": "add", "target": "a small dog", "ref": "dog"}]}  # fmt: skip


class RefusingRenderer:
    """Refuses the first ``refusals`` plans (as a tool refuses bad geometry), then renders."""

    def __init__(self, refusals: int) -> None:
        self.refusals, self.plans = refusals, []  # type: int, list[EditPlan]

    def __call__(self, plan: EditPlan, assets: Mapping[str, Path], **_: Any) -> Render:
        self.plans.append(plan)
        if len(self.plans) <= self.refusals:
            raise PlanValidationError("the dog's blob covers the whole canvas; make it smaller")
        provenance = Provenance(
            preset="flat", weight_hash="0" * 64, seed=1, scheduler="none", steps=1, guidance=0.0,
            alpha=plan.knobs.alpha, size=(8, 8), device="cpu", dtype="uint8",
            plan_tokens=plan.tokens(), inputs={n: str(p) for n, p in assets.items()},
        )  # fmt: skip
        return Render(images=[Image.new("RGB", (8, 8), (1, 2, 3))], provenance=provenance)


def _image(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (16, 12), colour).save(path)
    return path


def test_a_render_error_is_fed_back_and_the_steps_are_stored(tmp_path: Path) -> None:
    fake = FakeLLM([LLM_PLAN])
    renderer = RefusingRenderer(refusals=1)
    photo, dog = (
        _image(tmp_path / "photo.png", (9, 9, 9)),
        _image(tmp_path / "dog.png", (200, 1, 1)),
    )
    with Studio(planner=Planner(fake, use_minilm=False), renderer=renderer) as studio:
        session = studio.session()
        turn = session.edit("add [dog] to [photo]", {"photo": photo, "dog": dog})
        shown = session.show(turn.summary.seq)
    assert shown.summary.status == "ok" and len(shown.renders) == 1
    assert [s.tool for s in shown.steps] == ["plan", "check", "render"] * 2
    assert shown.steps[0].result.endswith("# planned by: fast")
    assert "covers the whole canvas" in (shown.steps[2].error or "")
    assert shown.steps[3].arguments["feedback"] == [shown.steps[2].error]
    assert shown.steps[3].result.endswith("# planned by: llm") and shown.steps[5].error is None
    assert "covers the whole canvas" in fake.requests[0][0][-1]["content"]  # the LLM was told
    assert len(renderer.plans) == 2 and shown.plan == renderer.plans[1].model_dump(mode="json")
    assert shown.timings["plan_s"] > 0 and shown.timings["render_s"] > 0


def test_a_turn_that_never_renders_is_failed_with_every_step_kept(tmp_path: Path) -> None:
    fake = FakeLLM([LLM_PLAN] * 3)
    photo, dog = (
        _image(tmp_path / "photo.png", (9, 9, 9)),
        _image(tmp_path / "dog.png", (200, 1, 1)),
    )
    planner = Planner(fake, use_minilm=False)
    with Studio(planner=planner, renderer=RefusingRenderer(99), max_steps=6) as studio:
        session = studio.session()
        with pytest.raises(TurnFailed, match="gave up after 6 steps") as raised:
            session.edit("add [dog] to [photo]", {"photo": photo, "dog": dog})
        stored = session.show(1)
    failed = raised.value.turn  # the error carries the turn as stored
    assert isinstance(raised.value.cause, PlanValidationError) and raised.value.exit_code == 2
    assert failed == stored and failed.summary.status == "failed" and failed.renders == []
    assert [s.tool for s in failed.steps] == ["plan", "check", "render"] * 2


def test_file_names_of_the_turns_attachments_are_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANYPIX_LLM", "fast")
    beach = _image(tmp_path / "beach.png", (9, 9, 9))
    pet = _image(tmp_path / "IMG_0042.JPG", (200, 1, 1))
    with Studio(renderer=RefusingRenderer(0)) as studio:
        session = studio.session()
        turn = session.edit("add [img_0042.jpg] to [beach.png]", {"photo": beach, "dog": pet})
    assert turn.plan is not None and (turn.plan["base"], turn.plan["subs"]) == ("photo", ["dog"])
    assert turn.steps[0].arguments["instruction"] == "add [img_0042.jpg] to [beach.png]"


def test_descriptions_resolve_through_the_studios_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from anypix.errors import UnknownAssetError

    sys.path.insert(0, str(Path(__file__).parents[1] / "binding"))
    from fakes import BagOfWordsEncoder

    monkeypatch.setenv("ANYPIX_LLM", "fast")
    beach = _image(tmp_path / "beach.png", (9, 9, 9))
    pet = _image(tmp_path / "pet.png", (200, 1, 1))
    encoders: list[BagOfWordsEncoder] = []

    def load() -> BagOfWordsEncoder:
        encoders.append(BagOfWordsEncoder())
        return encoders[-1]

    with Studio(renderer=RefusingRenderer(0), encoder=load) as studio:
        session = studio.session()
        session.attach("photo", beach)
        session.edit("add [dog] to [photo]", {"dog": pet})
        assert encoders == []  # names alone never load the encoder
        turn = session.edit("make [the first picture] brighter")
    assert turn.plan is not None and turn.plan["base"] == "photo" and len(encoders) == 1
    plain = Studio(renderer=RefusingRenderer(0))  # no encoder: nothing to retrieve with
    with plain, pytest.raises(UnknownAssetError, match="the first picture"):
        plain.session().edit("make [the first picture] brighter", {"photo": beach})


def test_the_locator_is_the_given_one_or_the_configured_presets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from anypix.tools.locate import Locator

    given = Locator(encoder=object())
    with Studio(tmp_path / "a", renderer=RefusingRenderer(0), locator=given) as studio:
        assert studio.locator is given
    with Studio(tmp_path / "b", renderer=RefusingRenderer(0)) as studio:
        assert studio.locator is None  # a renderer of its own: edits without a place stay global
    with Studio(tmp_path / "c") as studio:  # the preset renderer: the configured preset's
        assert isinstance(studio.locator, Locator)
    monkeypatch.setenv("ANYPIX_MODEL", "tiny-random")
    with Studio(tmp_path / "d") as studio:
        assert studio.locator is None
    with Studio(tmp_path / "e", locator=None) as studio:
        assert studio.locator is None
