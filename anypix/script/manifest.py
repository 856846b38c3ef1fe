"""The manifest of a scripted run: which steps finished, keyed so a rerun knows what to skip."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.errors import (
    AnypixError,
)

if TYPE_CHECKING:
    pass

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


@dataclass
class StepState:
    """One step as the manifest records it."""

    index: int  # 1-based, as the user counts
    instruction: str
    key: str
    status: str = "pending"  # ok, failed, cancelled, pending
    turn: int | None = None  # the session's turn seq
    outputs: list[str] = field(default_factory=list)  # image files, relative to OUT
    tokens: str = ""
    seconds: float = 0.0
    error: str | None = None
    sha256: list[str] = field(default_factory=list)  # of each output, chained into the next key


@dataclass
class Manifest:
    file: str
    session: str | None = None
    model: str = ""
    steps: list[StepState] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        """The manifest at ``path``; None when there is none (or it is from another version)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise AnypixError(f"cannot read {path}: {exc}", "remove it to start over") from None
        if data.get("version") != MANIFEST_VERSION:
            return None
        steps = [StepState(**s) for s in data["steps"]]
        return cls(data["file"], data.get("session"), data.get("model", ""), steps)

    def save(self, path: Path) -> None:
        """Write atomically, so a kill mid-write leaves the previous manifest."""
        data = {"version": MANIFEST_VERSION, **asdict(self), "updated_at": time.time()}
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(partial, path)


def step_key(index: int, instruction: str, knobs: Mapping[str, Any], inputs: Mapping[str, str],
             model: str, previous: str) -> str:  # fmt: skip
    """What a step's result depends on; the previous key chains in the image it edits."""
    record = {"index": index, "instruction": instruction, "knobs": dict(knobs),
              "inputs": dict(sorted(inputs.items())), "model": model, "previous": previous}  # fmt: skip
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()
