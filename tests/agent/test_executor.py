"""The executor loop: typed steps, model-caused errors fed back, our bugs raised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from anypix.agent.executor import Executor
from anypix.agent.llm import FakeLLM
from anypix.agent.planner import Planner
from anypix.agent.steps import StepRecord
from anypix.errors import PlanValidationError
from anypix.plan import EditPlan

MODALITIES = {"photo": "image", "dog": "image"}
FILES = {"photo": Path("photo.png"), "dog": Path("dog.png")}
LLM_PLAN = {"base": "photo", "subs": ["dog"], "style_ref": None, "gen": "a dog, small",
            "ops": [{"op": "add", "target": "a small dog", "ref": "dog"}]}  # fmt: skip


class FakeRenderer:
    """Refuses the first ``refusals`` plans as a tool would refuse bad geometry."""

    def __init__(self, refusals: int = 0, bug: bool = False) -> None:
        self.refusals, self.bug = refusals, bug
        self.calls: list[Any] = []

    def __call__(self, plan: EditPlan, assets: dict[str, Path], **options: Any) -> str:
        self.calls.append((plan, assets, options))
        if self.bug:
            raise RuntimeError("a bug in the renderer")
        if len(self.calls) <= self.refusals:
            raise PlanValidationError("the dog's blob covers the whole canvas; make it smaller")
        return "rendered"


def test_steps_are_plan_check_render_with_timings() -> None:
    renderer = FakeRenderer()
    steps = list(
        Executor(Planner(None), renderer).run("add [dog] to [photo]", FILES, MODALITIES, seed=3)
    )
    assert [s.tool for s in steps] == ["plan", "check", "render"]
    assert [s.index for s in steps] == [1, 2, 3] and all(s.seconds >= 0 for s in steps)
    assert steps[-1].value == "rendered" and steps[-1].result == "rendered"
    assert steps[0].value.source == "fast" and steps[0].result.endswith("# planned by: fast")
    assert steps[2].arguments == {"assets": {"photo": "photo.png", "dog": "dog.png"}}
    plan, assets, options = renderer.calls[0]
    assert plan.base == "photo"
    assert assets == FILES and options == {"seed": 3}  # only the assets the plan reads


def test_a_refused_plan_is_fed_back_and_planned_again() -> None:
    fake = FakeLLM([LLM_PLAN])
    renderer = FakeRenderer(refusals=1)
    steps = list(
        Executor(Planner(fake, use_minilm=False), renderer).run(
            "add [dog] to [photo]", FILES, MODALITIES
        )
    )
    assert [s.tool for s in steps] == ["plan", "check", "render", "plan", "check", "render"]
    assert "covers the whole canvas" in (steps[2].error or "")
    assert "covers the whole canvas" in fake.requests[0][0][-1]["content"]  # fed back to the model
    assert steps[3].value.source == "llm" and steps[-1].value == "rendered"


def test_gives_up_after_max_steps() -> None:
    fake = FakeLLM([LLM_PLAN] * 5)
    executor = Executor(Planner(fake, use_minilm=False), FakeRenderer(refusals=99), max_steps=6)
    with pytest.raises(PlanValidationError, match="gave up after 6 steps"):
        list(executor.run("add [dog] to [photo]", FILES, MODALITIES))


def test_our_bugs_raise_instead_of_being_fed_back() -> None:
    fake = FakeLLM([LLM_PLAN])
    executor = Executor(Planner(fake, use_minilm=False), FakeRenderer(bug=True))
    seen: list[StepRecord] = []
    with pytest.raises(RuntimeError, match="a bug in the renderer"):
        seen.extend(executor.run("add [dog] to [photo]", FILES, MODALITIES))
    assert fake.requests == []
    # The failed step is still yielded first, so memory can keep it.
    assert [s.tool for s in seen] == ["plan", "check", "render"]
    assert seen[-1].error == "RuntimeError: a bug in the renderer" and seen[-1].value is None


def _locate_ring(plan: EditPlan, assets: dict[str, Any]) -> EditPlan:
    from anypix.plan import Blob

    assert list(assets) == ["photo"]  # the locator sees the [base] only
    blob = Blob(description="a green ring", cx=0.3, cy=0.6, a=0.2, b=0.1)
    return plan.model_copy(update={"blobs": [blob]})


def test_a_located_edit_runs_plan_check_locate_render() -> None:
    renderer = FakeRenderer()
    executor = Executor(Planner(None), renderer, locator=_locate_ring)
    steps = list(executor.run("make the ring in [photo] green", FILES, MODALITIES))

    assert [s.tool for s in steps] == ["plan", "check", "locate", "render"]
    assert steps[2].result.startswith("[blob] green_ring") and '"a green ring"' in steps[2].result
    rendered = renderer.calls[0][0]
    assert [b.description for b in rendered.blobs] == ["a green ring"]
    assert rendered.ops[0].op == "recolor"


def test_edits_with_a_place_or_without_a_base_are_not_located() -> None:
    def refuse(plan: EditPlan, assets: dict[str, Any]) -> EditPlan:
        raise AssertionError("nothing to locate")

    executor = Executor(Planner(None), FakeRenderer(), locator=refuse)
    for instruction in ("add [dog] to [photo] on the left", "a red ball on the left"):
        steps = list(executor.run(instruction, FILES, MODALITIES))
        assert [s.tool for s in steps] == ["plan", "check", "render"], instruction
