"""Fakes and Pilot helpers for the terminal UI tests: the project's fast grammar planner, a
renderer that reports progress step by step, and waits on what the app shows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from PIL import Image
from textual.pilot import Pilot

from anypix.config import load_settings
from anypix.errors import CancelledError
from anypix.plan import EditPlan
from anypix.records import Provenance, Render

HOLD_TIMEOUT_S = 60.0


class SteppingRenderer:
    """A renderer that calls ``progress`` once per step and polls ``cancel`` before each, like
    tools/render.py. With ``hold_at=k`` it stops before step k+1 until cancelled (a long render).
    Output ``n`` (1-based) is a flat image of colour ``colour(n)``, so tests know what to expect."""

    def __init__(self, steps: int = 5, hold_at: int | None = None) -> None:
        self.steps, self.hold_at = steps, hold_at
        self.plans: list[EditPlan] = []
        self.held = threading.Event()  # set when the render reaches hold_at

    @staticmethod
    def colour(n: int) -> tuple[int, int, int]:
        return (40 * n % 256, 200, 255 - 30 * n % 256)

    def __call__(
        self,
        plan: EditPlan,
        assets: Mapping[str, Path],
        *,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        **_: Any,
    ) -> Render:
        self.plans.append(plan)
        for done in range(self.steps):
            if done == self.hold_at:
                self.held.set()
                deadline = time.monotonic() + HOLD_TIMEOUT_S
                while not (cancel and cancel()):  # a render working until it is told to stop
                    if time.monotonic() > deadline:
                        raise AssertionError("the held render was never cancelled")
                    time.sleep(0.002)
            if cancel is not None and cancel():
                raise CancelledError(f"render cancelled after {done} of {self.steps} steps")
            if progress is not None:
                progress(done + 1, self.steps)
        image = Image.new("RGB", (64, 64), self.colour(len(self.plans)))
        provenance = Provenance(
            preset="stepping", weight_hash="0" * 64, seed=1, scheduler="none", steps=self.steps,
            guidance=0.0, alpha=plan.knobs.alpha, size=(64, 64), device="cpu", dtype="uint8",
            plan_tokens=plan.tokens(), inputs={n: str(p) for n, p in assets.items()},
        )  # fmt: skip
        return Render(images=[image], provenance=provenance)


def fast_planner() -> Any:
    from anypix.agent.planner import planner_for

    return planner_for(load_settings(llm="fast"))


async def wait_until(
    pilot: Pilot[Any], condition: Callable[[], bool], what: str, timeout_s: float = HOLD_TIMEOUT_S
) -> None:
    """Let the app run until ``condition()`` holds (fails after ``timeout_s``, saying ``what``)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.01)


async def submit(pilot: Pilot[Any], text: str) -> None:
    """Type ``text`` into the instruction box and press Enter."""
    from anypix.tui.chat_input import InstructionInput

    box = pilot.app.query_one(InstructionInput)
    box.focus()
    box.value = text
    box.cursor_position = len(text)
    await pilot.press("enter")


async def finish_turn(pilot: Pilot[Any], text: str) -> None:
    """Submit an instruction and wait until its turn is shown as finished."""
    from anypix.tui.message_list import TurnMessage

    app = pilot.app
    before = len(app.query(TurnMessage))
    await submit(pilot, text)

    def finished() -> bool:
        entries = app.query(TurnMessage)
        return len(entries) > before and entries.last().status != "running"

    await wait_until(pilot, finished, f"the turn {text!r} to finish")
    await app.workers.wait_for_complete()
    await pilot.pause()


async def attach(pilot: Pilot[Any], name: str, path: Path) -> None:
    """``/attach name=path`` typed in the box; waits until the gallery shows it."""
    from anypix.tui.gallery import Gallery

    await submit(pilot, f"/attach {name}={path}")
    gallery = pilot.app.query_one(Gallery)
    await wait_until(pilot, lambda: name in gallery.shown, f"[{name}] in the gallery")
