"""Running a batch: one turn per input, in the input's own session, several at a time.

Each item's turn runs through the one front-end API (``Session.edit``) in a driver thread; the
studio's renderer is a render pool, so while one thread waits for its worker's pixels, the
others plan, locate and store. Only this process touches the database and the asset store.

**Resuming.** An item is done when the session named after its key (see
:class:`~anypix.batch.spec.BatchItem`) holds a turn stored as ok. A rerun skips those (copying
their images to the output folder again if they are gone) and runs the rest, in the sessions a
killed run left behind, so nothing is stored twice. ``OUT/batch.json`` reports every item as it
finishes; it is a report for people and scripts, the database is what a rerun trusts.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from anypix.batch.spec import BatchItem, BatchSpec, batch_items, file_sha256
from anypix.errors import AnypixError, TurnFailed

if TYPE_CHECKING:
    from anypix.batch.report import BatchProgress
    from anypix.memory.history import TurnDetail
    from anypix.studio import Session, Studio

MANIFEST = "batch.json"
SAVE_EVERY_S = 1.0
Status = Literal["done", "failed", "cancelled"]


@dataclass
class ItemResult:
    """One input's outcome, as ``batch.json`` lists it."""

    file: str
    key: str
    status: Status
    session: str | None = None  # the session's id
    outputs: list[str] = field(default_factory=list)  # image files, relative to OUT
    error: str | None = None
    verified: bool | None = None  # None: the turn carries no verification
    seconds: float = 0.0
    before: bool = False  # done by an earlier run


@dataclass
class BatchResult:
    items: list[ItemResult]
    total: int
    manifest: Path
    seconds: float = 0.0
    interrupted: bool = False

    def count(self, status: Status, *, before: bool | None = None) -> int:
        return sum(i.status == status and (before is None or i.before == before)
                   for i in self.items)  # fmt: skip


def run_batch(spec: BatchSpec, studio: Studio, out: Path, progress: BatchProgress, *,
              threads: int = 1, stop: threading.Event | None = None) -> BatchResult:  # fmt: skip
    """Run every item of ``spec`` not done before, ``threads`` turns at a time; returns when all
    have finished or, after ``stop`` is set (Ctrl-C), when the running ones have stopped."""
    started = time.perf_counter()
    stop = stop or threading.Event()
    out.mkdir(parents=True, exist_ok=True)
    items = batch_items(spec)
    result = BatchResult([], len(items), out / MANIFEST)
    sessions = {info.name: info.id for info in studio.sessions()}
    todo: list[BatchItem] = []
    for item in items:
        done = _done_before(studio, sessions.get(item.session_name), item, out)
        if done is None:
            todo.append(item)
        else:
            result.items.append(done)
    progress.start(len(items), len(result.items))
    lock = threading.Lock()
    saved = [time.monotonic()]

    def finished(item_result: ItemResult) -> None:
        with lock:
            result.items.append(item_result)
            # The report is rewritten whole, so at most once a second: a long batch must not
            # spend its time writing JSON (the database, not this file, is what resumes it).
            if time.monotonic() - saved[0] >= SAVE_EVERY_S:
                _save(result, spec, out)
                saved[0] = time.monotonic()
        progress.advance(item_result)

    order = {item.key: index for index, item in enumerate(items)}
    try:
        _run_items(todo, threads, stop, finished,
                   lambda item: _run_item(spec, studio, sessions.get(item.session_name), item,
                                          out, stop))  # fmt: skip
    except KeyboardInterrupt:
        result.interrupted = True
    finally:  # what finished is reported whatever happened, in the inputs' order
        result.items.sort(key=lambda i: order[i.key])
        _save(result, spec, out)
    result.interrupted = result.interrupted or stop.is_set()
    result.seconds = time.perf_counter() - started
    progress.finish(result)
    return result


def _run_items(todo: list[BatchItem], threads: int, stop: threading.Event,
               finished: Callable[[ItemResult], None],
               run: Callable[[BatchItem], ItemResult]) -> None:  # fmt: skip
    """Run ``todo`` on ``threads`` threads. Ctrl-C (or a bug in one turn) sets ``stop``: running
    turns end cancelled, queued ones never start, and the exception is raised again once every
    thread has returned."""
    with ThreadPoolExecutor(max(1, threads), thread_name_prefix="batch") as executor:
        pending: set[Future[ItemResult]] = {executor.submit(run, item) for item in todo}
        try:
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    finished(future.result())
        except BaseException:
            stop.set()
            for future in pending:
                future.cancel()
            for future in pending:
                if not future.cancelled() and future.exception() is None:
                    finished(future.result())
            raise


def _run_item(spec: BatchSpec, studio: Studio, session_id: str | None, item: BatchItem,
              out: Path, stop: threading.Event) -> ItemResult:  # fmt: skip
    """One turn: the item's session (the one a killed run left, or a new one), the input under
    its name plus the shared attachments, the batch's options."""
    result = ItemResult(str(item.file), item.key, "failed")
    if stop.is_set():
        result.status = "cancelled"
        return result
    started = time.perf_counter()
    session = (studio.session(session_id, create=False) if session_id is not None
               else studio.new_session(item.session_name))  # fmt: skip
    attachments = {spec.input_name: item.file, **spec.shared}
    try:
        turn = session.edit(spec.instruction, attachments, options=spec.options,
                            cancel=stop.is_set)  # fmt: skip
    except TurnFailed as failed:
        if not isinstance(failed.cause, AnypixError | KeyboardInterrupt):
            stop.set()  # queued turns must not start
            raise  # a bug in anypix (stored as a failed turn): it keeps its traceback
        result.status = "cancelled" if failed.cancelled else "failed"
        result.error, result.session = str(failed), session.stored_id
    except AnypixError as exc:  # refused before the turn ran: nothing was stored
        result.error = str(exc)
    else:
        _finish(result, session, turn, item, out)
    result.seconds = time.perf_counter() - started
    return result


def _finish(result: ItemResult, session: Session, turn: TurnDetail, item: BatchItem,
            out: Path) -> None:  # fmt: skip
    result.status, result.session = "done", session.id
    result.outputs = _copy_outputs(turn, item, out)
    result.verified = verification(turn)


def _done_before(studio: Studio, session_id: str | None, item: BatchItem,
                 out: Path) -> ItemResult | None:  # fmt: skip
    """The item's result if an earlier run stored it as ok (its images copied again if they
    are missing); None if it still has to run."""
    if session_id is None:
        return None
    session = studio.session(session_id, create=False)
    ok = [t for t in session.history() if t.status == "ok"]
    if not ok:
        return None
    turn = session.show(ok[-1].seq)
    result = ItemResult(str(item.file), item.key, "done", session.id, before=True)
    result.outputs = _copy_outputs(turn, item, out)
    result.verified = verification(turn)
    return result


def _copy_outputs(turn: TurnDetail, item: BatchItem, out: Path) -> list[str]:
    names = []
    for index, render in enumerate(turn.renders):
        stem = Path(item.output).stem
        name = item.output if index == 0 else f"{stem}_{index}.png"
        target = out / name
        if not target.is_file() or file_sha256(target) != render.sha256:
            partial = target.with_name(f".{name}.partial")
            shutil.copyfile(render.path, partial)
            os.replace(partial, target)  # a killed run never leaves half an image
        names.append(name)
    return names


def verification(turn: TurnDetail) -> bool | None:
    """Whether the turn's output passed its checks: the last ``verify`` step of the agent loop
    (issue 15) without an error; None for a turn that was not checked."""
    checks = [step for step in turn.steps if step.tool == "verify"]
    return None if not checks else checks[-1].error is None


def _save(result: BatchResult, spec: BatchSpec, out: Path) -> None:
    """Write ``batch.json`` atomically (a kill mid-write leaves the previous one)."""
    data = {
        "version": 1, "instruction": spec.instruction, "input": spec.input_name,
        "model": spec.model, "options": spec.options.model_dump(mode="json"),
        "shared": {name: str(path) for name, path in spec.shared.items()},
        "total": result.total, "items": [asdict(item) for item in result.items],
    }  # fmt: skip
    partial = out / f".{MANIFEST}.partial"
    partial.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, out / MANIFEST)
