"""The planner protocol: what the executor, the studio and every front end ask of a planner.

A planner turns an instruction and the session's assets (``{name: "image" | "audio"}``) into a
:class:`PlanResult`, always: the plan, and how it was made.

    result = planner.plan("add [dog] to [photo]", {"photo": "image", "dog": "image"})
    result.plan          # the EditPlan
    result.source        # "fast", "llm" or "function"

    planner.plan(..., references=refs)             # [file names] and [descriptions] -> names
    if planner.can_replan:                         # it can plan again with a tool's error
        planner.plan(..., feedback="the blob covers the whole canvas")

Every planner subclasses :class:`PlannerBase`; there are three kinds:

* :class:`anypix.agent.planner.Planner` -- the fast path, then an LLM under a schema
  (``planner_for(settings)`` builds the configured one); it can re-plan when it has an LLM;
* :class:`FunctionPlanner` -- a plain ``function(instruction, {name: modality}) -> EditPlan``
  (tests, a front end that already has its plan); it cannot re-plan;
* :class:`KnobOverrides` -- any planner whose plans sample with some knobs fixed
  (``anypix edit --seed 3``, a script step's ``knobs:``); it re-plans as the planner it wraps.

:func:`as_planner` takes either a planner or a plain function and gives a planner, for APIs that
accept both (``Studio(planner=...)``).

A planner that cannot tell what is meant raises :class:`anypix.errors.ClarificationNeeded` (its
question); the executor lets it through to the front end, which asks the person.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from anypix.plan import EditPlan, Knobs

if TYPE_CHECKING:
    from anypix.agent.references import References

Source = Literal["fast", "llm", "function"]
PlanFunction = Callable[[str, dict[str, str]], EditPlan]


@dataclass
class PlanResult:
    """A plan and how it was made (for the UI, memory and the benchmark)."""

    plan: EditPlan
    source: Source
    attempts: int = 0  # LLM calls spent (0 on the fast path)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # validation errors fed back to the model


class PlannerBase(ABC):
    """Instruction + assets -> :class:`PlanResult`."""

    @property
    def can_replan(self) -> bool:
        """Whether :meth:`plan` can use ``feedback`` (a tool's error on an earlier plan) to make
        a different plan. When it cannot, the executor raises a model-caused error instead of
        asking again."""
        return False

    @abstractmethod
    def plan(
        self,
        instruction: str,
        assets: Mapping[str, str],
        *,
        references: References | None = None,
        feedback: str | None = None,
    ) -> PlanResult:
        """Plan ``instruction`` over ``assets`` (name -> modality). ``references`` resolves
        ``[file names]`` and ``[descriptions]`` to asset names; ``feedback`` is the error a tool
        raised on the previous plan."""


class FunctionPlanner(PlannerBase):
    """A ``function(instruction, {name: modality}) -> EditPlan`` as a planner (references are
    rewritten to names first). It cannot re-plan: the same function would give the same plan."""

    def __init__(self, function: PlanFunction) -> None:
        self.function = function

    def plan(
        self,
        instruction: str,
        assets: Mapping[str, str],
        *,
        references: References | None = None,
        feedback: str | None = None,
    ) -> PlanResult:
        if references is not None:
            instruction = references.rewrite(instruction, assets)
        return PlanResult(self.function(instruction, dict(assets)), "function")


class KnobOverrides(PlannerBase):
    """``inner``'s plans with ``knobs`` fixed (``{"seed": 3}``, a script step's knobs); set
    :attr:`knobs` again between turns to change them. Re-plans exactly as ``inner`` does."""

    def __init__(self, inner: PlannerBase, knobs: Mapping[str, Any] | None = None) -> None:
        self.inner = inner
        self.knobs: dict[str, Any] = dict(knobs or {})

    @property
    def can_replan(self) -> bool:
        return self.inner.can_replan

    def plan(
        self,
        instruction: str,
        assets: Mapping[str, str],
        *,
        references: References | None = None,
        feedback: str | None = None,
    ) -> PlanResult:
        result = self.inner.plan(instruction, assets, references=references, feedback=feedback)
        if not self.knobs:
            return result
        knobs = Knobs.model_validate({**result.plan.knobs.model_dump(), **self.knobs})
        return replace(result, plan=result.plan.model_copy(update={"knobs": knobs}))


def as_planner(planner: PlannerBase | PlanFunction) -> PlannerBase:
    """A planner as is; a plain function behind :class:`FunctionPlanner`."""
    return planner if isinstance(planner, PlannerBase) else FunctionPlanner(planner)
