"""Domain messages: how the turn worker and the widgets tell the app what happened.

The worker runs in a thread and posts these (``post_message`` is thread-safe); handlers run on
the app's event loop, so widgets are only touched there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from anypix.memory.history import AssetInfo, TurnDetail
    from anypix.plan import EditPlan


class TurnStarted(Message):
    """An instruction was submitted and its turn began (planning comes first)."""

    def __init__(self, instruction: str) -> None:
        super().__init__()
        self.instruction = instruction


class PlanReady(Message):
    """The turn has its plan (after planning, and again, ``located``, once the objects it
    names are found in the image)."""

    def __init__(self, plan: EditPlan, *, located: bool = False) -> None:
        super().__init__()
        self.plan, self.located = plan, located


class StepProgress(Message):
    """The renderer finished ``done`` of ``total`` UNet passes (inversions included)."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__()
        self.done, self.total = done, total


class TurnFinished(Message):
    """A turn ended. ``detail`` is the turn as stored (None when it was refused before it ran:
    a bad attachment, an unknown name, a question back); ``error`` is what ended it early."""

    def __init__(
        self, instruction: str, detail: TurnDetail | None, error: BaseException | None
    ) -> None:
        super().__init__()
        self.instruction, self.detail, self.error = instruction, detail, error

    @property
    def status(self) -> str:
        """ok, cancelled or failed, as the history stores it; question when the planner asked
        one instead of planning (nothing was stored)."""
        from anypix.errors import CancelledError, ClarificationNeeded

        if self.error is None and self.detail is not None:
            return "ok"
        if isinstance(self.error, ClarificationNeeded):
            return "question"
        return "cancelled" if isinstance(self.error, CancelledError) else "failed"


class AttachFinished(Message):
    """``/attach`` or the dialog stored ``asset`` in the session, or failed with ``error``;
    ``format`` is the attached file's own (jpeg, wav...), whatever the store keeps."""

    def __init__(
        self, spec: str, asset: AssetInfo | None, format: str | None, error: Exception | None
    ) -> None:
        super().__init__()
        self.spec, self.asset, self.format, self.error = spec, asset, format, error


class ModelReady(Message):
    """The diffusion preset finished loading (``device`` is where it runs), or failed to."""

    def __init__(self, preset: str, device: str | None, error: Exception | None = None) -> None:
        super().__init__()
        self.preset, self.device, self.error = preset, device, error
