"""The executor: an explicit loop that runs an instruction through the tools, one step at a time.

    executor = Executor(planner, renderer, locator=locator)
    for step in executor.run("add [dog] to [photo]", {"photo": "p.png", "dog": "d.png"}):
        print(step.tool, step.seconds, step.error or step.result)

Each step is a :class:`~anypix.records.StepRecord` (tool, arguments, result summary, seconds,
error; ``value`` holds what the tool returned), the same record memory stores. The loop is plan ->
check -> render, with a locate step before the render when the executor has a locator and the
plan edits an object of its [base] without saying where. The planner, the renderer and the
locator are given to it (front ends get them from the studio), so the loop imports no tool.

An error the *model* caused (:class:`~anypix.errors.ModelError`: a plan naming an asset that is
not attached, geometry or ops a tool refuses) is recorded and fed back to a planner that
``can_replan``, which plans again with the error in its prompt; the loop gives up after
``max_steps``. Every other error -- one the user must fix (a missing server, a cancelled render),
the planner's question (:class:`~anypix.errors.ClarificationNeeded`) or a bug in our code -- ends
the loop: the failed step is yielded (so memory keeps it) and the error is raised on the next
iteration, never fed back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.agent.protocol import PlannerBase
from anypix.agent.steps import StepRecord, summarise
from anypix.errors import ModelError, PlanValidationError, UnknownAssetError
from anypix.lexicon import needs_location
from anypix.plan import EditPlan

if TYPE_CHECKING:
    from anypix.agent.references import References

Renderer = Callable[..., Any]  # render(plan, assets, *, progress=None, cancel=None) -> Render
Locator = Callable[[EditPlan, Mapping[str, Any]], EditPlan]  # plan with blobs where objects are
__all__ = ["Executor", "Locator", "Renderer", "check_plan"]


@dataclass
class _State:
    instruction: str
    assets: Mapping[str, Path | str]
    modalities: dict[str, str]
    labels: Mapping[str, str]  # how the step records name each asset
    references: References | None = None
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


class Executor:
    def __init__(
        self,
        planner: PlannerBase,
        renderer: Renderer,
        *,
        max_steps: int = 6,
        locator: Locator | None = None,
    ) -> None:
        """``renderer`` draws a checked plan (:class:`~anypix.tools.preset.PresetRenderer` in
        front ends); ``locator`` finds the objects an edit names without a place (None: such
        edits apply to the whole image)."""
        self.planner, self.renderer = planner, renderer
        self.max_steps, self.locator = max_steps, locator

    def run(
        self,
        instruction: str,
        assets: Mapping[str, Path | str],
        modalities: Mapping[str, str] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        references: References | None = None,
        **render_options: Any,
    ) -> Iterator[StepRecord]:
        """Yield one :class:`StepRecord` per tool call; the last successful step is the render.
        ``labels`` name the assets in the records (default: their paths), ``references`` resolve
        file names and descriptions (see :mod:`anypix.agent.references`)."""
        state = _State(
            instruction,
            assets,
            dict(modalities or _guess_modalities(assets)),
            labels or {name: str(path) for name, path in assets.items()},
            references,
        )
        pending: list[str] = ["plan"]
        index = 0
        while pending:
            if index >= self.max_steps:
                last = state.feedback[-1] if state.feedback else "no render"
                raise PlanValidationError(
                    f"gave up after {self.max_steps} steps: {last}",
                    "rephrase the instruction or use a stronger LLM (--llm openai)",
                )
            tool = pending.pop(0)
            index += 1
            step = StepRecord(tool, self._arguments(tool, state), index=index)
            started = time.perf_counter()
            try:
                step.value = self._call(tool, state, render_options)
            except ModelError as exc:  # the plan was wrong: a better plan can fix it
                step.seconds = time.perf_counter() - started
                if not self.planner.can_replan or tool == "plan":
                    # nothing can plan again (fast path only), or the planner itself gave up
                    step.error = f"{type(exc).__name__}: {exc}"
                    yield step
                    raise
                state.feedback.append(exc.message)
                step.error = exc.message
                yield step
                pending = ["plan"]
                continue
            except Exception as exc:
                step.seconds = time.perf_counter() - started
                step.error = f"{type(exc).__name__}: {exc}"
                yield step  # memory keeps the failed step; the caller then gets the error
                raise
            step.seconds = time.perf_counter() - started
            step.result = summarise(tool, step.value)
            yield step
            pending += self._next(tool, state)

    def _next(self, tool: str, state: _State) -> list[str]:
        if tool == "check" and self.locator is not None:
            assert state.plan is not None
            return ["locate" if needs_location(state.plan) else "render"]
        return {"plan": ["check"], "check": ["render"], "locate": ["render"], "render": []}[tool]

    def _arguments(self, tool: str, state: _State) -> dict[str, Any]:
        if tool == "plan":
            return {
                "instruction": state.instruction,
                "assets": state.modalities,
                "feedback": list(state.feedback),
            }
        assert state.plan is not None
        if tool in ("check", "locate"):
            return {"plan": state.plan.tokens()}
        return {"assets": {n: state.labels.get(n, n) for n in state.plan.asset_names()}}

    def _call(self, tool: str, state: _State, render_options: dict[str, Any]) -> Any:
        if tool == "plan":
            feedback = state.feedback[-1] if state.feedback else None
            planned = self.planner.plan(
                state.instruction, state.modalities, references=state.references, feedback=feedback
            )
            state.plan = planned.plan
            return planned
        assert state.plan is not None
        if tool == "check":
            return check_plan(state.plan, state.modalities)
        if tool == "locate":
            assert self.locator is not None and state.plan.base is not None
            state.plan = self.locator(state.plan, {state.plan.base: state.assets[state.plan.base]})
            return state.plan
        names = state.plan.asset_names()
        return self.renderer(state.plan, {n: state.assets[n] for n in names}, **render_options)


def _guess_modalities(assets: Mapping[str, Path | str]) -> dict[str, str]:
    from anypix.media import sniff

    return {name: sniff(Path(path))[0] for name, path in assets.items()}
