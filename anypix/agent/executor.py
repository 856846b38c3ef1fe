"""The executor: an explicit loop that runs an instruction through the tools, one step at a time.

    for step in Executor(planner).run("add [dog] to [photo]", {"photo": "p.png", "dog": "d.png"}):
        print(step.tool, step.seconds, step.error or step.result)

Each step is a :class:`~anypix.agent.steps.StepRecord` (tool, arguments, result summary, seconds,
error; ``value`` holds what the tool returned), the same record memory stores. The loop is plan ->
check -> render, with a locate step before the render when the executor has a locator and the
plan edits an object of its [base] without saying where (:mod:`anypix.tools.locate`). An error the *model* caused (a plan naming an asset that is not attached,
geometry or ops a tool refuses) is recorded and fed back to the planner, which plans again with
the error in its prompt; the loop gives up after ``max_steps``. Errors the user must fix (a
missing server, a cancelled render) and bugs in our code end the loop: the failed step is yielded
(so memory keeps it) and the error is raised on the next iteration, never fed back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from anypix.agent.steps import StepRecord, summarise
from anypix.errors import AnypixError, PlanParseError, PlanValidationError, UnknownAssetError
from anypix.plan import EditPlan

if TYPE_CHECKING:
    from anypix.agent.references import References

# Errors that mean "the plan was wrong", so a better plan can fix them.
MODEL_ERRORS: tuple[type[AnypixError], ...] = (
    PlanValidationError,
    PlanParseError,
    UnknownAssetError,
)
Renderer = Callable[..., Any]  # render(plan, assets, models=None, *, progress=None, cancel=None)
Locator = Callable[[EditPlan, Mapping[str, Any]], EditPlan]  # plan with blobs where objects are


class PlannerLike(Protocol):
    """What the loop needs of a planner (:class:`~anypix.agent.planner.Planner` is one);
    ``backend`` None means it cannot plan again with feedback."""

    @property
    def backend(self) -> Any: ...

    def plan(
        self,
        instruction: str,
        assets: Mapping[str, str],
        feedback: str | None = None,
        references: References | None = None,
    ) -> Any: ...


class FunctionPlanner:
    """A ``planner(instruction, {name: modality}) -> EditPlan`` function behind the loop's
    planner interface (references are resolved first)."""

    backend = None  # a function cannot plan again with feedback: model errors are raised

    def __init__(self, function: Callable[[str, dict[str, str]], Any]) -> None:
        self.function = function

    def plan(
        self,
        instruction: str,
        assets: Mapping[str, str],
        feedback: str | None = None,
        references: References | None = None,
    ) -> Any:
        if references is not None:
            instruction = references.rewrite(instruction, assets)
        return self.function(instruction, dict(assets))


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


def _default_renderer(plan: EditPlan, assets: Mapping[str, Any], **kwargs: Any) -> Any:
    from anypix.tools.render import render

    return render(plan, assets, **kwargs)


class Executor:
    def __init__(
        self,
        planner: PlannerLike,
        renderer: Renderer | None = None,
        *,
        max_steps: int = 6,
        locator: Locator | None = None,
    ) -> None:
        self.planner, self.max_steps, self.locator = planner, max_steps, locator
        self.renderer = renderer or _default_renderer

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
            except MODEL_ERRORS as exc:
                step.seconds = time.perf_counter() - started
                if self.planner.backend is None or tool == "plan":
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
            from anypix.tools.locate import needs_location

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
                state.instruction, state.modalities, feedback=feedback, references=state.references
            )
            state.plan = getattr(planned, "plan", planned)  # a PlanResult, or a bare EditPlan
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
