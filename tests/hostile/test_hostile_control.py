"""Terminal control sequences in what people and archives bring in: session names, instructions,
imported archives and script files. Every output shows them as escapes (``\\x1b``), never raw:
``sessions``, ``history`` (tables and ``--json``), ``run --dry-run`` and error lines.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from hostile_helpers import (
    RAW_CONTROL,
    assert_clean_output,
    assert_one_line_error,
    cli,
    make_session,
)

PAYLOADS = {
    "CSI clear screen": "\x1b[2J",
    "OSC window title": "\x1b]0;pwned\x07",
    "OSC 8 hyperlink": "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "bell": "ding\x07",
    "carriage return": "safe\rEVIL",
    "backspaces": "abc\x08\x08\x08xyz",
    "NUL": "a\x00b",
    "DEL": "a\x7fb",
    "C1 CSI": "\x9b2J",
    "C1 next line": "a\x85b",
    "right-to-left override": "invoice\u202egpj.exe",
    "bidi isolate": "\u2066hidden\u2069",
    "Arabic letter mark": "a\u061cb",
    "line separator": "a\u2028b",
}
SOME = ["CSI clear screen", "C1 CSI", "right-to-left override", "carriage return"]


def shown_escaped(output: str, payload: str) -> None:
    """Nothing raw, and the payload's first control character visible as an escape."""
    assert not RAW_CONTROL.search(output), repr(output)
    first = RAW_CONTROL.search(payload)
    assert first is not None
    code = ord(first.group())
    forms = {f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}", repr(first.group())[1:-1]}
    assert any(form in output for form in forms), repr(output)


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_a_session_name_in_the_sessions_table(tmp_path: Path, kind: str) -> None:
    make_session(tmp_path / "data", f"trip {PAYLOADS[kind]}", ["a beach"])
    ran = cli(tmp_path / "data", "sessions")
    assert_clean_output(ran)
    shown_escaped(ran.stdout, PAYLOADS[kind])


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_an_instruction_in_the_history_table(tmp_path: Path, kind: str) -> None:
    make_session(tmp_path / "data", "trip", [f"a beach {PAYLOADS[kind]}"])
    ran = cli(tmp_path / "data", "history", "-s", "trip")
    assert_clean_output(ran)
    shown_escaped(ran.stdout, PAYLOADS[kind])


@pytest.mark.parametrize("kind", SOME)
@pytest.mark.parametrize("command", ["sessions", "history"])
def test_json_output_is_escaped_and_round_trips(tmp_path: Path, kind: str, command: str) -> None:
    payload = PAYLOADS[kind]
    make_session(tmp_path / "data", f"trip {payload}", [f"a beach {payload}"])
    args = ["sessions", "--json"] if command == "sessions" else ["history", "--json"]
    ran = cli(tmp_path / "data", *args)
    assert_clean_output(ran)
    shown = json.loads(ran.stdout)  # escapes in JSON read back as the very same text
    if command == "sessions":
        assert [s["name"] for s in shown] == [f"trip {payload}"]
    else:
        assert shown["turns"][0]["instruction"] == f"a beach {payload}"


@pytest.mark.parametrize("kind", SOME)
def test_an_unknown_session_in_an_error_line(data_dir: Path, kind: str) -> None:
    line = assert_one_line_error(cli(data_dir, "history", "-s", f"x{PAYLOADS[kind]}"))
    shown_escaped(line, PAYLOADS[kind])


@pytest.mark.parametrize("kind", SOME)
def test_a_file_name_in_an_error_line(data_dir: Path, tmp_path: Path, kind: str) -> None:
    line = assert_one_line_error(cli(data_dir, "import", str(tmp_path / f"{PAYLOADS[kind]}.zip")))
    shown_escaped(line, PAYLOADS[kind])


def _archive_with(exported: Path, out: Path, name: str, instruction: str) -> Path:
    """A real export whose session name and first instruction were rewritten."""
    with zipfile.ZipFile(exported) as source:
        files = {n: source.read(n) for n in source.namelist()}
    rows = json.loads(files["rows.json"])
    rows["session"]["name"] = name
    rows["turns"][0]["instruction"] = instruction
    files["rows.json"] = json.dumps(rows).encode()
    manifest = json.loads(files["manifest.json"])
    manifest["rows_sha256"] = hashlib.sha256(files["rows.json"]).hexdigest()
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(out, "w") as target:
        for member, data in files.items():
            target.writestr(member, data)
    return out


@pytest.mark.parametrize("kind", SOME)
def test_an_imported_archive_shows_escaped(data_dir: Path, tmp_path: Path, kind: str) -> None:
    payload = PAYLOADS[kind]
    exported = tmp_path / "clean.zip"
    assert cli(data_dir, "export", "holiday", str(exported)).exit_code == 0
    archive = _archive_with(exported, tmp_path / "dirty.zip", f"evil {payload}", f"x {payload}")
    imported = cli(data_dir, "import", str(archive))
    assert_clean_output(imported)
    listed = cli(data_dir, "sessions")
    assert_clean_output(listed)
    shown_escaped(listed.stdout, payload)
    ids = [s["id"] for s in json.loads(cli(data_dir, "sessions", "--json").stdout)
           if s["name"].startswith("evil")]  # fmt: skip
    assert len(ids) == 1
    shown = cli(data_dir, "history", "-s", ids[0])
    assert_clean_output(shown)
    shown_escaped(shown.stdout, payload)


@pytest.mark.parametrize("kind", SOME)
def test_a_script_dry_run_prints_escapes(data_dir: Path, tmp_path: Path, kind: str) -> None:
    payload = PAYLOADS[kind]
    script = tmp_path / "hostile.yaml"
    script.write_text(json.dumps({"session": f"s {payload}", "steps": [f"a red fox {payload}"]}))
    ran = cli(data_dir, "run", "--llm", "fast", "--dry-run", "--out", str(tmp_path / "o"),
              str(script))  # fmt: skip
    assert_clean_output(ran)
    shown_escaped(ran.stdout + ran.stderr, payload)


@pytest.mark.parametrize("kind", SOME)
def test_a_script_error_line_prints_escapes(data_dir: Path, tmp_path: Path, kind: str) -> None:
    payload = PAYLOADS[kind]
    script = tmp_path / "hostile.yaml"
    script.write_text(json.dumps({"steps": [{"instruction": "a fox", f"k{payload}": 1}]}))
    line = assert_one_line_error(cli(data_dir, "run", "--llm", "fast", "--dry-run", str(script)))
    shown_escaped(line, payload)
