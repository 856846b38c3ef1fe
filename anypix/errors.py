"""User-facing errors.

Every error a person can cause derives from :class:`AnypixError`. Its message says what was wrong
and how to fix it; front ends print it on one line, without a traceback, and exit with
``exit_code``. Anything else that escapes is a bug in anypix and keeps its traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from anypix.memory.history import TurnDetail


class AnypixError(Exception):
    """A problem the user can fix. ``hint`` says how."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class PlanParseError(AnypixError):
    """Token text, CSS layout or plan JSON that does not follow the plan language."""

    def __init__(self, message: str, line: int | None = None, hint: str | None = None) -> None:
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(where + message, hint)


class PlanValidationError(AnypixError):
    """A well-formed plan that is inconsistent with itself or with the session's assets."""


class EmptyInstructionError(AnypixError):
    def __init__(self) -> None:
        super().__init__(
            "the instruction is empty", 'write what to do, e.g. anypix plan "add [dog] to [photo]"'
        )


class UnknownAssetError(AnypixError):
    """An instruction or plan names an asset the session does not have."""

    def __init__(self, name: str, known: list[str] | None = None) -> None:
        have = f"; this session has {', '.join(sorted(known))}" if known else ""
        super().__init__(
            f"[{name}] is not in this session{have}", f"attach it with --asset {name}=PATH"
        )
        self.name = name


class AssetError(AnypixError):
    """A file that cannot be used as an asset (missing, unreadable, wrong type, too large...)."""


class NotAvailableError(AnypixError):
    """A command or feature that this build of anypix does not provide yet."""

    exit_code = 3


class ModelUnavailableError(AnypixError):
    """A model preset whose weights or server cannot be reached."""


class BackendError(AnypixError):
    """An LLM server that is down, slow or answers nonsense after retries."""


class ConfigError(AnypixError):
    """A setting that cannot be used (bad value in the environment or the TOML file)."""


class CancelledError(AnypixError):
    """Work the user cancelled; nothing was stored beyond what is marked cancelled."""

    exit_code = 130


class ClarificationNeeded(AnypixError):
    """The instruction has more than one sensible reading; the planner asks instead of guessing.

    Chat and the TUI show ``question`` and take the reply as the next message; scripts and the MCP
    server report it as an error that names ``choices``."""

    exit_code = 2

    def __init__(self, question: str, choices: list[str] | None = None) -> None:
        self.question = question
        self.choices = list(choices or [])
        listed = f"; one of: {', '.join(self.choices)}" if self.choices else ""
        super().__init__(question, f"say which{listed}" if self.choices else None)


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
