"""What a batch is: one instruction, many input files, the same knobs; and the items it splits
into, each keyed by what its result depends on, so a rerun knows what is already done."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.agent.protocol import PlannerBase, PlanResult
from anypix.errors import UserError

if TYPE_CHECKING:
    from anypix.agent.references import References
    from anypix.knobs import EditOptions

KEY_VERSION = 1  # bump when what a key covers changes, so old batches are redone
BRACKETED = re.compile(r"\[([A-Za-z0-9_.-]+)\]")  # [name] references (descriptions have spaces)


@dataclass(frozen=True)
class BatchSpec:
    """``instruction`` applied to each of ``files``, which it calls ``[input_name]``; ``shared``
    attachments (a style reference, a subject) go with every turn."""

    instruction: str
    files: list[Path]
    input_name: str
    options: EditOptions
    model: str
    shared: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def create(cls, instruction: str, files: list[Path], options: EditOptions, model: str, *,
               input_name: str | None = None, shared: Mapping[str, Path] | None = None,
               ) -> BatchSpec:  # fmt: skip
        """Check the batch before anything runs: files exist, and the input has a name."""
        text = instruction.strip()
        if not text:
            raise UserError("the instruction is empty",
                              'write what to do to each file, e.g. "make [photo] warmer"')  # fmt: skip
        if not files:
            raise UserError("no input files", "give the files to edit after the instruction")
        missing = [str(f) for f in files if not Path(f).is_file()]
        if missing:
            raise UserError(f"no such file: {', '.join(missing[:3])}"
                              + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""),
                              "check the paths")  # fmt: skip
        given = dict(shared or {})
        name = input_name or _input_name(text, given)
        if name in given:
            raise UserError(f"[{name}] is both the batch's input and an --asset",
                              "give the input another name with --as")  # fmt: skip
        return cls(text, [Path(f) for f in files], name, options, model, given)


def _input_name(instruction: str, shared: Mapping[str, Path]) -> str:
    """The one [name] of the instruction that no --asset gives: where each file goes."""
    names = list(dict.fromkeys(n for n in BRACKETED.findall(instruction) if n not in shared))
    if len(names) == 1:
        return names[0]
    if not names:
        raise UserError("the instruction names no input",
                          'write [photo] where each file goes, e.g. "make [photo] warmer"')  # fmt: skip
    listed = ", ".join(f"[{n}]" for n in names)
    raise UserError(f"the instruction names {listed}; which one is each input file?",
                      f"say it with --as {names[0]}, and attach the others with --asset")  # fmt: skip


@dataclass(frozen=True)
class BatchItem:
    """One input file's edit: its key, the session that holds it, and its output file name."""

    file: Path
    sha256: str
    key: str
    output: str  # file name under the batch's output folder (PNG)

    @property
    def session_name(self) -> str:
        # The key in the name is what a rerun looks for; the file name is for people.
        return f"{self.file.name} (batch {self.key[:12]})"


def batch_items(spec: BatchSpec) -> list[BatchItem]:
    """The spec's items in file order; a file given twice (same content) is one item."""
    shared = {name: file_sha256(path) for name, path in sorted(spec.shared.items())}
    seen: set[str] = set()
    taken: set[str] = set()
    items = []
    for file in spec.files:
        digest = file_sha256(file)
        key = item_key(spec, digest, shared)
        if key in seen:
            continue
        seen.add(key)
        items.append(BatchItem(file, digest, key, _output_name(file, taken)))
    return items


def item_key(spec: BatchSpec, sha256: str, shared: Mapping[str, str]) -> str:
    """What an item's result depends on: the input's content, the instruction, the knobs, the
    shared attachments' content and the model. Paths are left out: a moved file is still done."""
    record = {
        "version": KEY_VERSION, "instruction": spec.instruction, "input": spec.input_name,
        "sha256": sha256, "shared": dict(shared), "model": spec.model,
        "options": spec.options.model_dump(mode="json"),
    }  # fmt: skip
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _output_name(file: Path, taken: set[str]) -> str:
    """``photo.png`` for ``photo.jpg``; ``photo-2.png`` when another input already has it."""
    name, number = f"{file.stem}.png", 1
    while name.lower() in taken:
        number += 1
        name = f"{file.stem}-{number}.png"
    taken.add(name.lower())
    return name


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SerialPlanner(PlannerBase):
    """A planner that many threads may call: one plans at a time (an embedded LLM such as
    llama.cpp's is not safe to call from two threads at once)."""

    def __init__(self, inner: PlannerBase) -> None:
        self.inner = inner
        self._lock = threading.Lock()

    @property
    def can_replan(self) -> bool:
        return self.inner.can_replan

    def plan(self, instruction: str, assets: Mapping[str, str], *,
             references: References | None = None, feedback: str | None = None,
             ) -> PlanResult:  # fmt: skip
        with self._lock:
            return self.inner.plan(instruction, assets, references=references, feedback=feedback)


class SharedPlanner(SerialPlanner):
    """Plans each distinct request once for the whole batch. Every item asks the same thing
    (the same instruction over the same names and modalities), so a thousand items cost one
    LLM call, made by one thread while the others wait for it."""

    def __init__(self, inner: PlannerBase) -> None:
        super().__init__(inner)
        self._plans: dict[tuple[Any, ...], PlanResult] = {}

    def plan(self, instruction: str, assets: Mapping[str, str], *,
             references: References | None = None, feedback: str | None = None,
             ) -> PlanResult:  # fmt: skip
        # References (file names, descriptions) are left out of the key: every item's input
        # has the same name, and a batch instruction cannot name one item's file.
        key = (instruction, tuple(sorted(assets.items())), feedback)
        with self._lock:
            if key not in self._plans:
                self._plans[key] = self.inner.plan(instruction, assets, references=references,
                                                   feedback=feedback)  # fmt: skip
            return self._plans[key]
