"""The executor: an explicit loop that runs an instruction through the tools, one step at a time.

    for step in Executor(planner).run("add [dog] to [photo]", {"photo": "p.png", "dog": "d.png"}):
        print(step.tool, step.seconds, step.error or step.result)

Each step is a typed record (tool, arguments, result, seconds, error) for memory and the UI. The
loop is plan -> check -> render. An error the *model* caused (a plan naming an asset that is not
attached, geometry or ops a tool refuses) is recorded and fed back to the planner, which plans
again with the error in its prompt; the loop gives up after ``max_steps``. Errors the user must
fix (a missing server, a cancelled render) and bugs in our code are raised, never fed back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anypix.agent.planner import Planner, PlanResult
from anypix.errors import AnypixError, PlanParseError, PlanValidationError, UnknownAssetError
from anypix.plan import EditPlan

# Errors that mean "the plan was wrong", so a better plan can fix them.
MODEL_ERRORS: tuple[type[AnypixError], ...] = (
    PlanValidationError,
    PlanParseError,
    UnknownAssetError,
)
Renderer = Callable[..., Any]  # render(plan, assets, models=None, *, progress=None, cancel=None)


@dataclass(frozen=True)
class Step:
    """One tool call of the loop."""

    index: int
    tool: str
    arguments: dict[str, Any]
    result: Any = None
    seconds: float = 0.0
    error: str | None = None  # set when the call failed with an error fed back to the planner


@dataclass
class _State:
    instruction: str
    assets: Mapping[str, Path | str]
    modalities: dict[str, str]
    plan: EditPlan | None = None
    feedback: list[str] = field(default_factory=list)


def check_plan(plan: EditPlan, modalities: Mapping[str, str]) -> EditPlan:
    """Every asset the plan reads is attached, and the base is an image."""
    for name in plan.asset_names():
        if name not in modalities:
            raise UnknownAssetError(name, list(modalities))
    if plan.base is not None and modalities[plan.base] != "image":
        raise PlanValidationError(
            f"[{plan.base}] is {modalities[plan.base]}; the base must be an image"
        )
    return plan


def _default_renderer(plan: EditPlan, assets: Mapping[str, Any], **kwargs: Any) -> Any:
    from anypix.tools.render import render

    return render(plan, assets, **kwargs)


class Executor:
    def __init__(
        self, planner: Planner, renderer: Renderer | None = None, *, max_steps: int = 6
    ) -> None:
        self.planner, self.renderer, self.max_steps = (
            planner,
            renderer or _default_renderer,
            max_steps,
        )

    def run(
        self,
        instruction: str,
        assets: Mapping[str, Path | str],
        modalities: Mapping[str, str] | None = None,
        **render_options: Any,
    ) -> Iterator[Step]:
        """Yield one :class:`Step` per tool call; the last successful step is the render."""
        state = _State(instruction, assets, dict(modalities or _guess_modalities(assets)))
        pending: list[str] = ["plan"]
        index = 0
        while pending:
            if index >= self.max_steps:
                raise PlanValidationError(
                    f"gave up after {self.max_steps} steps: {state.feedback[-1] if state.feedback else 'no render'}",
                    "rephrase the instruction or use a stronger LLM (--llm openai)",
                )
            tool = pending.pop(0)
            index += 1
            arguments = self._arguments(tool, state)
            started = time.perf_counter()
            try:
                result = self._call(tool, state, render_options)
            except MODEL_ERRORS as exc:
                if self.planner.backend is None or tool == "plan":
                    raise  # nothing can plan again (fast path only), or the planner itself gave up
                state.feedback.append(exc.message)
                yield Step(index, tool, arguments, None, time.perf_counter() - started, exc.message)
                pending = ["plan"]
                continue
            yield Step(index, tool, arguments, result, time.perf_counter() - started)
            pending += {"plan": ["check"], "check": ["render"], "render": []}[tool]

    def _arguments(self, tool: str, state: _State) -> dict[str, Any]:
        if tool == "plan":
            return {
                "instruction": state.instruction,
                "assets": state.modalities,
                "feedback": list(state.feedback),
            }
        assert state.plan is not None
        return {"plan": state.plan.tokens()}

    def _call(self, tool: str, state: _State, render_options: dict[str, Any]) -> Any:
        if tool == "plan":
            feedback = state.feedback[-1] if state.feedback else None
            planned: PlanResult = self.planner.plan(
                state.instruction, state.modalities, feedback=feedback
            )
            state.plan = planned.plan
            return planned
        assert state.plan is not None
        if tool == "check":
            return check_plan(state.plan, state.modalities)
        names = state.plan.asset_names()
        return self.renderer(state.plan, {n: state.assets[n] for n in names}, **render_options)


def _guess_modalities(assets: Mapping[str, Path | str]) -> dict[str, str]:
    from anypix.media import sniff

    return {name: sniff(Path(path))[0] for name, path in assets.items()}
