"""What a batch shows while it runs and when it ends: one progress bar over the whole batch on a
terminal (a plain line per finished item otherwise, for logs and CI), then a summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from anypix.batch.run import BatchResult, ItemResult


class BatchProgress:
    """Follows a batch: ``start``, then ``advance`` per finished item (from any thread), then
    ``finish`` with the result."""

    def __init__(self, console: Console, *, describe: str = "") -> None:
        self.console = console
        self.describe = describe  # the backend, e.g. "Ray: 4 actor(s), one GPU each"
        self.total = self.count = self.failed = 0
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    def start(self, total: int, done_before: int) -> None:
        self.total, self.count = total, done_before
        where = f" on {self.describe}" if self.describe else ""
        before = f" ({done_before} done before)" if done_before else ""
        self.console.print(f"batch: {total} edit(s){before}{where}", highlight=False)
        if not self.console.is_terminal:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(TextColumn("batch"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[failed]}"), TimeElapsedColumn(),
                             TimeRemainingColumn(), console=self.console)  # fmt: skip
        self._task = self._bar.add_task("batch", total=total, completed=done_before, failed="")
        self._bar.start()

    def advance(self, item: ItemResult) -> None:
        self.count += 1
        self.failed += item.status != "done"
        if self._bar is not None and self._task is not None:
            failed = f"{self.failed} failed" if self.failed else ""
            self._bar.update(self._task, advance=1, failed=failed)
            if item.status != "done":
                self._bar.console.print(f"{escape(item.file)}: {item.status}: "
                                        f"{escape(item.error or '')}", style="red")  # fmt: skip
            return
        outputs = ", ".join(item.outputs)
        line = (f"[{self.count}/{self.total}] {item.status} {item.file}"
                + (f" -> {outputs}" if outputs else "") + f" ({item.seconds:.1f} s)"
                + (f": {item.error}" if item.error else ""))  # fmt: skip
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def finish(self, result: BatchResult) -> None:
        if self._bar is not None:
            self._bar.stop()
        self.console.print(summary(result), markup=False, highlight=False, soft_wrap=True)


def summary(result: BatchResult) -> str:
    """The closing lines: counts, verification, each failure with its reason."""
    done, before = result.count("done"), result.count("done", before=True)
    failed = [i for i in result.items if i.status == "failed"]
    cancelled = result.count("cancelled")
    not_started = result.total - len(result.items)
    parts = [f"{done} done" + (f" ({before} before this run)" if before else ""),
             f"{len(failed)} failed"]  # fmt: skip
    if cancelled or not_started:
        parts.append(f"{cancelled + not_started} not finished")
    lines = [f"{result.total} edit(s): {', '.join(parts)} in {result.seconds:.1f} s"]
    checked = [i for i in result.items if i.status == "done" and i.verified is not None]
    if checked:
        passed = sum(bool(i.verified) for i in checked)
        lines.append(f"verified: {passed} of {len(checked)} checked edit(s) passed their checks")
    lines += [f"  failed: {i.file}: {i.error}" for i in failed]
    lines.append(f"outputs and batch.json in {result.manifest.parent}")
    if failed or cancelled or not_started:
        lines.append("rerun the same command to retry what did not finish")
    return "\n".join(lines)
