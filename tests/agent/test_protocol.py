"""The planner protocol: every planner returns a PlanResult and says whether it can re-plan;
the executor re-plans only with those that can, and lets the planner's question through."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from anypix.agent.executor import Executor
from anypix.agent.llm import FakeLLM
from anypix.agent.planner import Planner
from anypix.agent.protocol import (
    FunctionPlanner,
    KnobOverrides,
    PlannerBase,
    PlanResult,
    as_planner,
)
from anypix.agent.references import References
from anypix.errors import ClarificationNeeded, PlanValidationError
from anypix.plan import EditPlan, Knobs

MODALITIES = {"photo": "image", "dog": "image"}
FILES = {"photo": Path("photo.png"), "dog": Path("dog.png")}
LLM_PLAN = {"base": "photo", "subs": ["dog"], "style_ref": None, "gen": "a dog",
            "ops": [{"op": "add", "target": "a dog", "ref": "dog"}]}  # fmt: skip


def _add_dog(instruction: str, modalities: dict[str, str]) -> EditPlan:
    return EditPlan.from_tokens("[base] photo\n[sub] dog\n[gen] a dog\n[op] add a dog ref=dog")


class Refusing:
    """A renderer that refuses every plan as a tool refuses bad geometry."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, plan: EditPlan, assets: Mapping[str, Any], **_: Any) -> str:
        self.calls += 1
        raise PlanValidationError("the dog's blob covers the whole canvas")


class Asking(PlannerBase):
    """A planner that cannot tell what is meant and asks."""

    @property
    def can_replan(self) -> bool:
        return True

    def plan(self, instruction: str, assets: Mapping[str, str], *, references: Any = None,
             feedback: str | None = None) -> PlanResult:  # fmt: skip
        raise ClarificationNeeded("which dog?", ["dog", "puppy"])


def test_a_function_planner_returns_a_plan_result_and_cannot_replan() -> None:
    planner = FunctionPlanner(_add_dog)
    result = planner.plan("anything", MODALITIES)
    assert isinstance(result, PlanResult) and result.source == "function"
    assert result.plan.base == "photo" and not planner.can_replan


def test_a_function_planner_sees_references_rewritten_to_names() -> None:
    seen: list[str] = []

    def record(instruction: str, modalities: dict[str, str]) -> EditPlan:
        seen.append(instruction)
        return _add_dog(instruction, modalities)

    FunctionPlanner(record).plan("add [dog] to [IMG_1.png]", MODALITIES,
                                 references=References({"photo": "IMG_1.png"}))  # fmt: skip
    assert seen == ["add [dog] to [photo]"]


def test_replanning_follows_the_planner_not_its_backend_attribute() -> None:
    assert not Planner(None).can_replan
    assert Planner(FakeLLM()).can_replan
    assert KnobOverrides(Planner(FakeLLM()), {"seed": 1}).can_replan
    assert not KnobOverrides(FunctionPlanner(_add_dog)).can_replan


def test_knob_overrides_fix_knobs_and_keep_the_rest_of_the_plan() -> None:
    planner = KnobOverrides(Planner(None), {"seed": 7, "steps": 4})
    result = planner.plan("add [dog] to [photo]", MODALITIES)
    assert result.source == "fast"
    assert result.plan.knobs == Knobs(seed=7, steps=4)
    assert result.plan.subs == ["dog"] and result.plan.base == "photo"
    planner.knobs = {"seed": 8}  # set again between turns (a script's steps)
    assert planner.plan("add [dog] to [photo]", MODALITIES).plan.knobs == Knobs(seed=8)
    with pytest.raises(ValueError):  # a knob that does not exist is refused, not ignored
        KnobOverrides(Planner(None), {"sead": 1}).plan("add [dog] to [photo]", MODALITIES)


def test_as_planner_wraps_functions_and_keeps_planners() -> None:
    planner = Planner(None)
    assert as_planner(planner) is planner
    assert isinstance(as_planner(_add_dog), FunctionPlanner)


def test_a_planner_that_cannot_replan_gets_no_second_call() -> None:
    renderer = Refusing()
    steps: list[Any] = []
    with pytest.raises(PlanValidationError, match="covers the whole canvas"):
        steps.extend(Executor(FunctionPlanner(_add_dog), renderer).run("x", FILES, MODALITIES))
    assert renderer.calls == 1 and [s.tool for s in steps] == ["plan", "check", "render"]


def test_a_planner_that_can_replan_gets_the_error_as_feedback() -> None:
    fake = FakeLLM([LLM_PLAN, LLM_PLAN])
    executor = Executor(KnobOverrides(Planner(fake, fast_path=False, use_minilm=False)),
                        Refusing(), max_steps=6)  # fmt: skip
    with pytest.raises(PlanValidationError, match="gave up after 6 steps"):
        list(executor.run("add [dog] to [photo]", FILES, MODALITIES))
    assert "covers the whole canvas" in fake.requests[1][0][-1]["content"]


def test_the_planners_question_reaches_the_caller_and_is_not_fed_back() -> None:
    steps: list[Any] = []
    with pytest.raises(ClarificationNeeded, match="which dog"):
        steps.extend(Executor(Asking(), Refusing()).run("add the dog", FILES, MODALITIES))
    assert [s.tool for s in steps] == ["plan"]
    assert steps[0].error is not None and "which dog" in steps[0].error
