"""``anypix report``: a session as one self-contained HTML page.

Each turn is a row: its number, instruction and status; the image it edited beside what it made
(before/after), the references it read, its plan in token form and what its verify steps found.
Images are embedded as ``data:`` URIs, so the page is one file that can be mailed or archived;
writing it opens nothing.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import re
from pathlib import Path
from typing import TYPE_CHECKING

from anypix.console import verification_lines, visible, when
from anypix.errors import UserError

if TYPE_CHECKING:
    from anypix.memory.history import TurnDetail
    from anypix.studio import Session

_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse}
td,th{vertical-align:top;padding:8px;border-top:1px solid #ccc;text-align:left}
img{max-width:256px;image-rendering:pixelated;border:1px solid #ddd}
figure{display:inline-block;margin:0 8px 8px 0}
figcaption{font-size:12px;color:#555}
pre{font-size:12px;white-space:pre-wrap;max-width:480px;margin:0}
.failed,.cancelled{color:#b00}
.ok{color:#070}
"""


def _text(value: str) -> str:
    return html.escape(visible(value))


def _data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _figure(path: Path | None, caption: str) -> str:
    if path is None or not path.is_file():
        return f"<figure><figcaption>{_text(caption)} (file missing)</figcaption></figure>"
    uri = _data_uri(path)
    media = (f'<audio controls src="{uri}"></audio>' if uri.startswith("data:audio")
             else f'<img src="{uri}" alt="{_text(caption)}">')  # fmt: skip
    return f"<figure>{media}<figcaption>{_text(caption)}</figcaption></figure>"


def _inputs(turn: TurnDetail, files: dict[str, Path]) -> tuple[str, str]:
    """The turn's before image (its [base]) and the other inputs it read, as figures."""
    plan = turn.plan or {}
    read: dict[str, str] = turn.renders[0].provenance.get("inputs", {}) if turn.renders else {}
    base = plan.get("base")
    before = _figure(files.get(read[base]), f"before: [{base}]") if base in read else ""
    others = "".join(
        _figure(files.get(sha), f"[{name}]") for name, sha in read.items() if name != base
    )
    if not before:
        before = "<p>new image</p>" if turn.plan and base is None else ""
    return before, others


def _row(turn: TurnDetail, files: dict[str, Path]) -> str:
    summary = turn.summary
    before, others = _inputs(turn, files)
    after = "".join(
        _figure(render.path, f"after{f' {index + 1}' if len(turn.renders) > 1 else ''}")
        for index, render in enumerate(turn.renders)
    )
    plan_text = ""
    if turn.plan is not None:
        from anypix.plan import EditPlan

        plan_text = EditPlan.model_validate(turn.plan).tokens()
    checks = "".join(f"<li>{_text(line)}</li>" for line in verification_lines(turn))
    error = f"<p class='failed'>{_text(turn.error)}</p>" if turn.error else ""
    return (
        f"<tr><td>{summary.seq}</td>"
        f"<td><code>{_text(summary.instruction)}</code><br>"
        f"<span class='{html.escape(summary.status)}'>{html.escape(summary.status)}</span>, "
        f"{when(summary.created_at)}{error}{f'<ul>{checks}</ul>' if checks else ''}</td>"
        f"<td>{before}{others}</td><td>{after}</td><td><pre>{_text(plan_text)}</pre></td></tr>"
    )


def report_html(session: Session) -> str:
    """The page for ``session`` as a string."""
    info = session.info()
    files = session.studio.store.files()  # sha256 -> file, for the inputs renders read
    rows = [_row(session.show(turn.seq), files) for turn in session.history()]
    body = (
        "<table><tr><th>turn</th><th>instruction</th><th>before</th><th>after</th>"
        "<th>plan</th></tr>" + "".join(rows) + "</table>"
        if rows
        else "<p>no turns yet</p>"
    )
    title = f"anypix session {visible(info.name)}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>id <code>{info.id}</code>; {info.turns} turn(s); last used {when(info.updated_at)}"
        f"</p>{body}</body></html>\n"
    )


def default_path(session: Session) -> Path:
    slug = re.sub(r"[^a-z0-9._-]+", "-", session.name.lower()).strip("-.")[:40] or "session"
    return Path(f"{slug}-report.html")


def write_report(session: Session, out: Path | None = None) -> Path:
    """Write the page to ``out`` (default: ``SESSION-report.html`` in the current folder)."""
    target = out or default_path(session)
    if target.exists() and not target.is_file():
        raise UserError(f"{target} exists and is not a file", "give --out a file name")
    page = report_html(session)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror}", "choose another --out") from None
    return target
