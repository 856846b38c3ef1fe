"""Every error anypix shows a person, in one module.

Each error's message says what was wrong and its ``hint`` how to fix it; front ends print both on
one line, without a traceback, and exit with the class's ``exit_code`` (commands never choose
one). Anything else that escapes is a bug in anypix and keeps its traceback.

Two kinds, told apart by type:

* :class:`ModelError` -- the *plan* was wrong (it names an asset that is not attached, its
  geometry or ops are refused by a tool). The executor feeds the message back to the planner,
  which plans again; only when it cannot (or gives up) does the person see it.
* :class:`UserError` -- the person must act: fix the input, start a server, install a model.
  Never fed back to the planner.

:class:`ClarificationNeeded` is the planner's question; front ends ask the person.

Exit codes (every command, every front end):

====  =====================================================================  ======================
code  meaning                                                                classes
====  =====================================================================  ======================
0     done
1     a script step ran but its result is not what the script expects        ExpectationError
2     the input needs fixing: instruction, asset, plan, file, setting        UserError, ModelError
3     a model, LLM server or feature is not available here                   UnavailableError
130   cancelled by the person (Ctrl-C, the cancel button)                    CancelledError
====  =====================================================================  ======================

A bug (any other exception) exits 1 with its traceback, as Python does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from anypix.memory.history import TurnDetail


class AnypixError(Exception):
    """An error shown on one line: ``message`` (what was wrong) and ``hint`` (how to fix it)."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UserError(AnypixError):
    """A problem the person fixes; never fed back to the planner."""


class ModelError(AnypixError):
    """A plan that is wrong in a way a better plan can fix; the executor feeds the message back
    to the planner (so it is written for the model as much as for the person)."""


# -- the plan (model-caused) -------------------------------------------------------------------------


class PlanParseError(ModelError):
    """Token text, CSS layout or plan JSON that does not follow the plan language."""

    def __init__(self, message: str, line: int | None = None, hint: str | None = None) -> None:
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(where + message, hint)


class PlanValidationError(ModelError):
    """A well-formed plan that is inconsistent with itself or with the session's assets."""


class UnknownAssetError(ModelError):
    """An instruction or plan names an asset the session does not have. Raised by the planner
    (the instruction's own ``[name]``) it reaches the person; raised by a tool on a plan it goes
    back to the planner."""

    def __init__(self, name: str, known: list[str] | None = None) -> None:
        have = f"; this session has {', '.join(sorted(known))}" if known else ""
        super().__init__(
            f"[{name}] is not in this session{have}", f"attach it with --asset {name}=PATH"
        )
        self.name = name


# -- the instruction and its references ---------------------------------------------------------------


class EmptyInstructionError(UserError):
    def __init__(self) -> None:
        super().__init__(
            "the instruction is empty", 'write what to do, e.g. anypix plan "add [dog] to [photo]"'
        )


class HistoryStepError(UserError):
    """An instruction that only steps through the history ("undo", "go back")."""

    def __init__(self, step: str) -> None:
        super().__init__(
            f"'{step}' steps through the session's history; it is not an edit",
            f"type /{step} in chat or the TUI, or run anypix {step} -s SESSION",
        )


class NotCanonicalError(UserError):
    """The instruction is not one of the forms the fast path reads; the planner asks the LLM."""

    def __init__(self, message: str) -> None:
        super().__init__(
            f"the fast path cannot read this instruction: {message}",
            "rephrase it canonically (e.g. 'add [dog] to [photo] and remove the cat') "
            "or plan with an LLM backend (--llm smollm2)",
        )


class NothingToEditError(NotCanonicalError):
    """An edit ("make the ring green") with no picture to apply it to: nothing is attached and
    the session has none yet. No planner can do better, so none is asked."""

    def __init__(self) -> None:
        UserError.__init__(
            self,
            "there is no picture to edit yet",
            "attach one (--asset photo=photo.png, or /attach in chat) or continue a session "
            "that has one (--session NAME); to draw a new picture, describe it, e.g. 'a green "
            "ring on the left'",
        )


class LayoutError(UserError):
    """A scene description no blob layout can satisfy (a star above a moon above the star, an
    object left of itself, more objects than blobs); the message says which part."""


class Candidate(Protocol):
    """A retrieval hit (:class:`anypix.tools.retrieve.Hit`): an asset name and its score."""

    @property
    def name(self) -> str: ...

    @property
    def score(self) -> float: ...


class AmbiguousReferenceError(UserError):
    """Two or more assets match a description about equally well; the planner should ask or
    name one. ``candidates`` holds them, best first."""

    def __init__(self, ref: str, candidates: Sequence[Candidate]) -> None:
        options = " or ".join(f"[{h.name}] ({h.score:.2f})" for h in candidates)
        super().__init__(
            f"{ref!r} could mean {options}", f"name the asset, e.g. [{candidates[0].name}]"
        )
        self.ref = ref
        self.candidates = list(candidates)


class NotFoundError(UserError):
    """The edit names an object the [base] does not seem to hold."""

    def __init__(self, phrase: str, base: str) -> None:
        super().__init__(
            f"found no {phrase!r} in [{base}]",
            'say where it is ("... on the left", "... at the top") or name its colour and shape',
        )


class ClarificationNeeded(UserError):
    """The instruction has more than one sensible reading; the planner asks instead of guessing.

    Chat and the TUI show ``question`` and take the reply as the next message; scripts and the MCP
    server report it as an error that names ``choices``."""

    def __init__(self, question: str, choices: list[str] | None = None) -> None:
        self.question = question
        self.choices = list(choices or [])
        listed = f"; one of: {', '.join(self.choices)}" if self.choices else ""
        super().__init__(question, f"say which{listed}" if self.choices else None)


class UnusedAttachmentQuestion(ClarificationNeeded):
    """The plan the grammar read leaves something attached this turn unused. An LLM planner may
    still read the instruction so that it is used ("feel like the song"); if it cannot, ask."""


class VerificationFailed(ModelError):
    """The output still fails an op's check after every correction the agent loop may try; the
    turn is stored as failed, with its image and each attempt's verdict."""

    def __init__(self, failure: str, attempts: int, hint: str | None = None) -> None:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(
            f"not verified after {tries}: {failure}",
            hint or "rephrase the edit, try another --seed, allow more --attempts, or keep the "
            "image as drawn with --no-verify",
        )
        self.failure, self.attempts = failure, attempts

    @classmethod
    def kept(cls, error: VerificationFailed, command: str) -> VerificationFailed:
        """The same failure, its hint naming ``command``, which continues from the image the
        failed turn kept ("anypix branch 3", "/branch 3")."""
        return cls(error.failure, error.attempts,
                   f"{error.hint}; or continue from its image anyway: {command}")  # fmt: skip


# -- files, sessions, settings ------------------------------------------------------------------------


class AssetError(UserError):
    """A file that cannot be used as an asset (missing, unreadable, wrong type, too large...)."""


class ConfigError(UserError):
    """A setting that cannot be used (bad value in the environment or the TOML file)."""


class SessionNotFoundError(UserError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"there is no session {ref!r}", "list sessions with: anypix sessions")


class HistoryError(UserError):
    """An undo, redo or branch that the session's history cannot do."""


class ArchiveError(UserError):
    """A session archive that cannot be imported."""


class ScriptError(UserError):
    """A script file that cannot be read or does not follow the format."""

    def __init__(self, file: Path, message: str, hint: str | None = None) -> None:
        super().__init__(f"{file}: {message}", hint or "see docs/scripts.md for the format")


class ExpectationError(UserError):
    """A script step that ran but whose result is not what its ``expect`` says."""

    exit_code = 1


# -- what this machine has ------------------------------------------------------------------------------


class UnavailableError(UserError):
    """Something this machine does not have: a model, an LLM server, a feature of this build."""

    exit_code = 3


class NotAvailableError(UnavailableError):
    """A command or feature that this build of anypix does not provide yet."""


class ModelUnavailableError(UnavailableError):
    """A model preset whose weights or server cannot be reached."""


class BackendError(UnavailableError):
    """An LLM server that is down, slow or answers nonsense after retries."""


class CancelledError(UserError):
    """Work the user cancelled; nothing was stored beyond what is marked cancelled."""

    exit_code = 130


# -- batches and render pools (anypix.batch) -------------------------------------------------------------


class RenderTimeoutError(UserError):
    """A render that took longer than its pool's time-out (``anypix batch --timeout``)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"the render took longer than {timeout_s:g} s and was stopped",
                         "raise --timeout, or lower the steps or size")  # fmt: skip
        self.timeout_s = timeout_s


class WorkersLostError(UnavailableError):
    """A render whose workers kept dying (out of memory, a node gone) past the retry bound."""


class BatchIncomplete(UserError):
    """A batch that ran to its end with some edits failed (the summary lists each reason); exit
    code 1, as a script whose step failed."""

    exit_code = 1


# -- a turn that ran ------------------------------------------------------------------------------------


class TurnFailed(AnypixError):
    """A turn that ran and was stored as failed or cancelled; ``turn`` is the stored record
    (``turn.summary.status``) and ``cause`` what ended it. Its message, hint and exit code are
    the cause's; a cause that is not an AnypixError is a bug in anypix (front ends re-raise it)."""

    def __init__(self, turn: TurnDetail, cause: BaseException) -> None:
        if isinstance(cause, AnypixError):
            super().__init__(cause.message, cause.hint)
            self.exit_code = cause.exit_code
        elif isinstance(cause, KeyboardInterrupt):
            super().__init__("cancelled")
            self.exit_code = 130
        else:
            super().__init__(f"{type(cause).__name__}: {cause}")
            self.exit_code = 1
        self.turn = turn
        self.cause = cause

    @property
    def cancelled(self) -> bool:
        return isinstance(self.cause, CancelledError | KeyboardInterrupt)
