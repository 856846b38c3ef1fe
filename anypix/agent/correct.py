"""Render -> verify -> (correct -> render -> verify)*: the agent loop's check of its own work.

:func:`verified_render` takes a render the executor made and checks it with a
:class:`~anypix.agent.verify.Verifier`. While a check fails and ``attempts`` allow, it corrects
and renders again, each correction stronger than the last:

1. a new seed (most failures of a small model are an unlucky draw);
2. a new seed and guidance 1.5x the rendered one (the conditioning is followed more closely);
3. and on: a re-plan with the failure as feedback when the planner ``can_replan`` (an LLM can
   move a blob or reword an op), else seed and guidance again.

Every attempt is recorded as steps of the turn (``verify``, ``render``, and ``plan``/``check``/
``locate`` for a re-plan) through ``record``. The attempt whose checks passed is kept; when none
passed, the one that passed most checks (the earliest of equals), with its verdict, and the
caller stores the turn as failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from anypix.agent.steps import StepRecord, summarise
from anypix.errors import UnavailableError

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from anypix.agent.executor import Locator, Renderer
    from anypix.agent.protocol import PlannerBase
    from anypix.agent.references import References
    from anypix.agent.verify import Verdict, Verifier
    from anypix.plan import EditPlan
    from anypix.records import Render

DEFAULT_ATTEMPTS = 3  # renders an output may take to pass its checks (1: verify, never correct)
GUIDANCE_STEP = 1.5  # each guidance correction multiplies the rendered guidance by this
MAX_GUIDANCE = 50.0  # Knobs' own limit
SEED_STRIDE = 7919  # corrections draw seeds this far apart (variations use seed + 1, + 2...)
Record = Callable[[StepRecord], None]


@dataclass
class Turn:
    """What a correction needs of the turn: the instruction, its assets and the loop's tools."""

    instruction: str
    paths: Mapping[str, Path]  # asset name -> file
    modalities: Mapping[str, str]
    labels: Mapping[str, str]  # how step records name each asset
    planner: PlannerBase
    renderer: Renderer
    locator: Locator | None
    references: References | None = None
    render_options: Mapping[str, Any] | None = None  # progress=, cancel=


@dataclass(frozen=True)
class Outcome:
    """The kept attempt: its plan, render and verdict, and how many renders were made."""

    plan: EditPlan
    render: Render
    verdict: Verdict
    attempts: int


def verified_render(
    turn: Turn, verifier: Verifier, plan: EditPlan, render: Render, attempts: int, record: Record,
    next_index: Callable[[], int],
) -> Outcome:  # fmt: skip
    """Verify ``render`` of ``plan``; correct and render again (at most ``attempts`` renders in
    all) until its checks pass. ``next_index()`` numbers the recorded steps."""
    verdict = _verify(turn, verifier, plan, render, 1, record, next_index)
    kept = Outcome(plan, render, verdict, 1)
    attempt = 1
    while not verdict.passed and attempt < attempts:
        attempt += 1
        plan = _corrected(turn, plan, render, verdict, attempt, record, next_index)
        render = _render(turn, plan, record, next_index)
        verdict = _verify(turn, verifier, plan, render, attempt, record, next_index)
        if verdict.passed or _passed(verdict) > _passed(kept.verdict):
            kept = Outcome(plan, render, verdict, attempt)
    return Outcome(kept.plan, kept.render, kept.verdict, attempt)


def next_seed(seed: int, offset: int) -> int:
    """``seed + offset``, wrapping round to 0 past the largest seed a plan may hold."""
    from annotated_types import Le

    from anypix.plan import Knobs

    limits = Knobs.model_fields["seed"].metadata
    largest = cast(int, next(m.le for m in limits if isinstance(m, Le)))
    return (seed + offset) % (largest + 1)


def _passed(verdict: Verdict) -> int:
    return sum(check.passed for check in verdict.checks)


def _verify(
    turn: Turn, verifier: Verifier, plan: EditPlan, render: Render, attempt: int, record: Record,
    next_index: Callable[[], int],
) -> Verdict:  # fmt: skip
    step = StepRecord("verify", {"attempt": attempt, "seed": render.provenance.seed},
                      index=next_index())  # fmt: skip
    started = time.perf_counter()
    base = _pixels(turn.paths[plan.base]) if plan.base is not None else None
    pictures = [*plan.subs, *([plan.style_ref] if plan.style_ref is not None else [])]
    refs = {name: _pixels(turn.paths[name]) for name in pictures
            if turn.modalities.get(name) == "image"}  # fmt: skip
    try:
        verdict = verifier(plan, _pixels(render.images[0]), base, refs)
    except UnavailableError as exc:  # the perception's model is not on this machine
        hint = f"{exc.hint}; or keep the image unchecked: --no-verify" if exc.hint else None
        raise type(exc)(f"cannot verify the edit: {exc.message}", hint) from None
    step.seconds = time.perf_counter() - started
    step.value, step.result = verdict, verdict.summary()
    step.error = verdict.failure()
    record(step)
    return verdict


def _corrected(
    turn: Turn, plan: EditPlan, render: Render, verdict: Verdict, attempt: int, record: Record,
    next_index: Callable[[], int],
) -> EditPlan:  # fmt: skip
    """The plan of the next attempt (see the module's list)."""
    if attempt >= 4 and turn.planner.can_replan:
        return _replanned(turn, verdict, record, next_index)
    knobs: dict[str, Any] = {"seed": next_seed(render.provenance.seed, SEED_STRIDE)}
    if attempt >= 3:
        knobs["guidance"] = min(MAX_GUIDANCE, round(render.provenance.guidance * GUIDANCE_STEP, 3))
    return plan.model_copy(update={"knobs": plan.knobs.model_copy(update=knobs)})


def _replanned(
    turn: Turn, verdict: Verdict, record: Record, next_index: Callable[[], int]
) -> EditPlan:
    """Plan again with the failed checks as feedback, check it and locate its objects."""
    from anypix.agent.executor import check_plan
    from anypix.lexicon import needs_location

    feedback = f"the last render failed its checks: {verdict.failure()}"
    step = StepRecord("plan", {"instruction": turn.instruction, "assets": dict(turn.modalities),
                               "feedback": [feedback]}, index=next_index())  # fmt: skip
    started = time.perf_counter()
    result = turn.planner.plan(turn.instruction, turn.modalities, references=turn.references,
                               feedback=feedback)  # fmt: skip
    step.seconds, step.value = time.perf_counter() - started, result
    step.result = summarise("plan", result)
    record(step)
    step = StepRecord("check", {"plan": result.plan.tokens()}, index=next_index())
    plan = check_plan(result.plan, turn.modalities)
    step.result = summarise("check", plan)
    record(step)
    if turn.locator is not None and needs_location(plan):
        assert plan.base is not None
        step = StepRecord("locate", {"plan": plan.tokens()}, index=next_index())
        started = time.perf_counter()
        plan = turn.locator(plan, {plan.base: turn.paths[plan.base]})
        step.seconds, step.value = time.perf_counter() - started, plan
        step.result = summarise("locate", plan)
        record(step)
    return plan


def _render(
    turn: Turn, plan: EditPlan, record: Record, next_index: Callable[[], int]
) -> Render:
    names = plan.asset_names()
    step = StepRecord("render", {"assets": {n: turn.labels.get(n, n) for n in names},
                                 "seed": plan.knobs.seed, "guidance": plan.knobs.guidance},
                      index=next_index())  # fmt: skip
    started = time.perf_counter()
    render: Render = turn.renderer(plan, {n: turn.paths[n] for n in names},
                                   **dict(turn.render_options or {}))  # fmt: skip
    step.seconds, step.value = time.perf_counter() - started, render
    step.result = summarise("render", render)
    record(step)
    return render


def _pixels(picture: Path | Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image file or a PIL image."""
    import numpy as np
    from PIL import Image

    if isinstance(picture, Image.Image):
        return np.asarray(picture.convert("RGB"))
    with Image.open(picture) as image:
        return np.asarray(image.convert("RGB"))
