"""Fakes for the front-end tests (chat, scripts, MCP, and the TUI's): a renderer that counts
denoising steps through the real progress/cancel callbacks, and can be told to be interrupted at
a given render; the grammar planner; a planner that asks which image is meant."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from anypix.agent.protocol import PlannerBase, PlanResult
from anypix.errors import CancelledError, ClarificationNeeded
from anypix.plan import EditPlan
from anypix.records import Provenance, Render

if TYPE_CHECKING:
    from anypix.agent.references import References


class StepRenderer:
    """An 8x8 image whose colour is a hash of the plan and its inputs' bytes, after ``steps``
    (the plan's knob, else 3) progress ticks. ``interrupt`` = (render number, exception) raises
    that exception at the second step of that render (1-based), as Ctrl-C would."""

    def __init__(self, interrupt: tuple[int, BaseException] | None = None) -> None:
        self.interrupt = interrupt
        self.plans: list[EditPlan] = []  # every plan it was asked to render, in order
        self.ticks: list[int] = []  # steps completed by each render

    def __call__(
        self,
        plan: EditPlan,
        assets: Mapping[str, Any],
        *,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Render:
        self.plans.append(plan)
        self.ticks.append(0)
        total = plan.knobs.steps or 3
        for done in range(1, total + 1):
            if cancel is not None and cancel():
                raise CancelledError(f"cancelled after {done - 1} of {total} steps")
            if self.interrupt is not None and self.interrupt[0] == len(self.plans) and done == 2:
                raise self.interrupt[1]
            self.ticks[-1] = done
            if progress is not None:
                progress(done, total)
        digest = hashlib.sha256(plan.tokens().encode())
        for name in sorted(assets):
            digest.update(Path(assets[name]).read_bytes())
        colour = tuple(digest.digest()[:3])
        provenance = Provenance(
            preset="steps", weight_hash="0" * 64, seed=plan.knobs.seed or 0, scheduler="none",
            steps=total, guidance=0.0, alpha=plan.knobs.alpha, size=(8, 8), device="cpu",
            dtype="uint8", plan_tokens=plan.tokens(),
        )  # fmt: skip
        return Render(images=[Image.new("RGB", (8, 8), colour)], provenance=provenance)


def grammar_planner() -> Any:
    """The real planner on its fast path only (no LLM, no MiniLM): deterministic and offline."""
    from anypix.agent.planner import Planner

    return Planner(None, use_minilm=False)


class AskingPlanner(PlannerBase):
    """A planner that cannot tell which image is meant: it asks ``question`` about any
    instruction without an answer in parentheses at its end, and plans an answered one as a
    removal from the answer: "tidy it ([scene])" -> [base] scene, [op] remove cat."""

    def __init__(self, question: ClarificationNeeded) -> None:
        self.question = question
        self.seen: list[str] = []  # every instruction it was asked to plan

    def plan(
        self,
        instruction: str,
        assets: Mapping[str, str],
        *,
        references: References | None = None,
        feedback: str | None = None,
    ) -> PlanResult:
        self.seen.append(instruction)
        answer = re.search(r"\(\[?([\w.-]+)\]?\)$", instruction)
        if answer is None:
            raise self.question
        base = answer.group(1)
        tokens = f"[base] {base}\n[gen] {base} without the cat\n[op] remove cat"
        return PlanResult(EditPlan.from_tokens(tokens), "function")
