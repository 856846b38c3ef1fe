"""The agent loop checks its own work: render -> verify -> (correct -> render -> verify)*, every
attempt a step of the stored turn, and a turn that never passes stored as failed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from anypix.agent.protocol import PlannerBase, PlanResult
from anypix.agent.verify import Verifier
from anypix.console import verification_lines
from anypix.errors import TurnFailed, VerificationFailed
from anypix.knobs import EditOptions
from anypix.plan import Blob, EditPlan, Knobs, Op
from anypix.records import Provenance, Render
from anypix.studio import Studio
from tests.agent.fake_perception import COLOURS, SquarePerception, canvas

LEFT = Blob(description="a red square", cx=0.25, cy=0.5, a=0.2, b=0.2)
ADD_RED = EditPlan(base="scene", ops=[Op(op="add", target="a red square")], blobs=[LEFT],
                   knobs=Knobs(seed=5))  # fmt: skip
DEFAULT_GUIDANCE = 2.0


class SquareRenderer:
    """Draws the [base] with a square in the blob, of the next colour in ``colours`` (the last
    one again once they run out), and records the plans it drew."""

    def __init__(self, *colours: str) -> None:
        self.colours, self.plans = list(colours), []  # type: list[str], list[EditPlan]

    def __call__(self, plan: EditPlan, assets: Mapping[str, Path], **_: Any) -> Render:
        colour = self.colours[min(len(self.plans), len(self.colours) - 1)]
        self.plans.append(plan)
        image = np.asarray(Image.open(assets["scene"]).convert("RGB")).copy()
        square = np.all(canvas((colour, 0.25, 0.5, 0.1)) == COLOURS[colour], axis=-1)
        image[square] = COLOURS[colour]
        provenance = Provenance(
            preset="squares", weight_hash="0" * 64, seed=plan.knobs.seed or 0, scheduler="none",
            steps=1, guidance=plan.knobs.guidance or DEFAULT_GUIDANCE, alpha=plan.knobs.alpha,
            size=(image.shape[1], image.shape[0]), device="cpu", dtype="uint8",
            plan_tokens=plan.tokens(), inputs={n: str(p) for n, p in assets.items()},
        )  # fmt: skip
        return Render(images=[Image.fromarray(image)], provenance=provenance)


class ReplanningPlanner(PlannerBase):
    """Plans ADD_RED, and again (recording the feedback) as an LLM planner would."""

    def __init__(self) -> None:
        self.feedback: list[str | None] = []

    @property
    def can_replan(self) -> bool:
        return True

    def plan(self, instruction: str, assets: Mapping[str, str], *, references: Any = None,
             feedback: str | None = None) -> PlanResult:  # fmt: skip
        self.feedback.append(feedback)
        return PlanResult(ADD_RED, "llm")


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    path = tmp_path / "scene.png"
    Image.fromarray(canvas(("blue", 0.75, 0.5, 0.1))).save(path)
    return path


def _studio(renderer: SquareRenderer, planner: Any = None) -> Studio:
    return Studio(planner=planner or (lambda text, assets: ADD_RED), renderer=renderer,
                  locator=None, verifier=Verifier(SquarePerception()))  # fmt: skip


def test_a_failed_check_draws_again_with_a_new_seed_and_keeps_the_verified_output(
    scene: Path,
) -> None:
    renderer = SquareRenderer("green", "red")
    with _studio(renderer) as studio:
        session = studio.session()
        turn = session.edit("add a red square to [scene]", {"scene": scene})
        stored = session.show(turn.summary.seq)
    assert stored.summary.status == "ok"
    assert [s.tool for s in stored.steps] == ["plan", "check", "render", "verify", "render",
                                              "verify"]  # fmt: skip
    assert renderer.plans[0].knobs.seed == 5 and renderer.plans[1].knobs.seed != 5
    assert len(stored.renders) == 1  # the kept attempt only, drawn with the second seed
    assert stored.renders[0].provenance["seed"] == renderer.plans[1].knobs.seed
    kept = np.asarray(Image.open(stored.renders[0].path).convert("RGB"))
    assert tuple(kept[16, 8]) == COLOURS["red"]
    assert verification_lines(stored) == [
        "verify: add a red square: failed, a red square not seen in its blob: it looks like "
        "green square",
        "verify: add a red square: verified",
    ]


def test_a_turn_that_never_passes_is_stored_as_failed_with_its_image_and_every_attempt(
    scene: Path,
) -> None:
    renderer = SquareRenderer("green")
    with _studio(renderer) as studio:
        session = studio.session()
        with pytest.raises(TurnFailed, match="not verified after 3 attempts") as raised:
            session.edit("add a red square to [scene]", {"scene": scene},
                         options=EditOptions(attempts=3))  # fmt: skip
        stored = session.show(raised.value.turn.summary.seq)
        assert session.info().cursor is None  # the failed turn is not the current image
    assert isinstance(raised.value.cause, VerificationFailed)
    assert stored.summary.status == "failed" and len(stored.renders) == 1
    assert [s.tool for s in stored.steps].count("verify") == 3
    # each correction stronger than the last: a new seed, then a new seed and more guidance
    seeds = [p.knobs.seed for p in renderer.plans]
    assert len(set(seeds)) == 3
    assert [p.knobs.guidance for p in renderer.plans] == [None, None, DEFAULT_GUIDANCE * 1.5]


def test_verification_off_keeps_the_render_as_drawn(scene: Path) -> None:
    renderer = SquareRenderer("green")
    with _studio(renderer) as studio:
        turn = studio.session().edit("add a red square to [scene]", {"scene": scene},
                                     options=EditOptions(verify=False))  # fmt: skip
    assert turn.summary.status == "ok" and len(renderer.plans) == 1
    assert "verify" not in [s.tool for s in turn.steps]


def test_a_planner_that_can_replan_is_told_what_failed(scene: Path) -> None:
    planner = ReplanningPlanner()
    renderer = SquareRenderer("green", "green", "green", "red")
    with _studio(renderer, planner) as studio:
        turn = studio.session().edit("add a red square to [scene]", {"scene": scene},
                                     options=EditOptions(attempts=4))  # fmt: skip
    assert turn.summary.status == "ok"
    assert planner.feedback[0] is None
    assert planner.feedback[1] is not None and "a red square not seen" in planner.feedback[1]
    assert [s.tool for s in turn.steps] == ["plan", "check", "render", "verify"] + [
        "render", "verify"] * 2 + ["plan", "check", "render", "verify"]  # fmt: skip


def test_a_perception_that_is_not_on_this_machine_says_how_to_edit_without_it(
    scene: Path,
) -> None:
    from anypix.config import load_settings
    from anypix.models.detector import load_detector
    from anypix.models.registry import resolve_source

    verifier = Verifier(load_detector(load_settings(), resolve_source))  # OWLv2: not downloaded in tests
    studio = Studio(planner=lambda text, assets: ADD_RED, renderer=SquareRenderer("red"),
                    locator=None, verifier=verifier)  # fmt: skip
    with studio, pytest.raises(TurnFailed, match="cannot verify the edit") as raised:
        studio.session().edit("add a red square to [scene]", {"scene": scene})
    assert raised.value.exit_code == 3 and "--no-verify" in (raised.value.hint or "")


def test_the_image_of_a_turn_that_failed_its_checks_can_be_gone_on_from(scene: Path) -> None:
    """A person who likes what failed its checks goes on from it with /branch N (the error says
    so); before, branching to a failed turn was refused, and chat's hint named command-line
    flags it has not got. A turn that failed with no image still cannot be branched to."""
    from anypix.commands import conversation_error
    from anypix.errors import HistoryError, ModelError

    with _studio(SquareRenderer("green")) as studio:
        session = studio.session()
        with pytest.raises(TurnFailed) as raised:
            session.edit("add a red square to [scene]", {"scene": scene},
                         options=EditOptions(attempts=1))  # fmt: skip
        seq = raised.value.turn.summary.seq
        _, hint = conversation_error(raised.value)
        assert hint is not None and hint.endswith(f"/branch {seq}") and "--" not in hint
        assert session.branch(seq) == seq and session.info().cursor == seq
        kept = session.show(seq)
        assert kept.summary.status == "failed"
        assert session.assets()["last"].sha256 == kept.renders[0].sha256

    def broken(plan: EditPlan, assets: Mapping[str, Path], **_: Any) -> Render:
        raise ModelError("the model is broken")

    with Studio(planner=lambda text, assets: ADD_RED, renderer=broken, locator=None) as studio:
        session = studio.session()
        with pytest.raises(TurnFailed) as raised:
            session.edit("add a red square to [scene]", {"scene": scene})
        with pytest.raises(HistoryError, match="no image to continue from"):
            session.branch(raised.value.turn.summary.seq)
