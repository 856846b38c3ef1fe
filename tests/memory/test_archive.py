"""Export -> import is lossless; a damaged archive is refused and stores nothing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import soundfile
from memory_fakes import fake_planner, flat_renderer, image_file, sine, stored_files

from anypix.errors import TurnFailed
from anypix.memory.archive import ArchiveError, collect_rows
from anypix.studio import Session, Studio


def busy_session(studio: Studio, tmp_path: Path) -> Session:
    """A session with branches, a failed turn, an undo, uploads (image and audio) and renders."""
    session = studio.new_session("holiday")
    sound = tmp_path / "birds.flac"
    soundfile.write(sound, sine(0.5), 8000, format="FLAC")
    session.attach("birds", sound)
    session.edit("new a beach with [dog]", {"dog": image_file(tmp_path / "dog.png", (90, 60, 20))})
    session.edit("make it sunset")
    session.edit("add a boat")
    studio.renderer.failure = RuntimeError("out of memory")
    with pytest.raises(TurnFailed, match="out of memory"):
        session.edit("add a whale")
    studio.renderer.failure = None
    session.branch(1)
    session.edit("make it night")
    session.undo()
    return session


def test_export_then_import_is_lossless(studio: Studio, tmp_path: Path) -> None:
    session = busy_session(studio, tmp_path)
    archive = session.export(tmp_path / "holiday.zip")

    with Studio(tmp_path / "elsewhere", planner=fake_planner, renderer=flat_renderer) as other:
        imported = other.import_session(archive)
        assert imported.id == session.id
        assert collect_rows(other.engine, imported.id) == collect_rows(studio.engine, session.id)
        assert imported.history() == session.history()
        for turn in session.history():
            mine, theirs = session.show(turn.seq), imported.show(turn.seq)
            assert (
                theirs.plan == mine.plan
                and theirs.steps == mine.steps
                and theirs.error == mine.error
            )
            assert [(r.parent, r.provenance, r.sha256) for r in theirs.renders] == [
                (r.parent, r.provenance, r.sha256) for r in mine.renders
            ]
            for a, b in zip(theirs.renders, mine.renders, strict=True):
                assert a.path.read_bytes() == b.path.read_bytes()
        assert {n: a.sha256 for n, a in imported.assets().items()} == {
            n: a.sha256 for n, a in session.assets().items()
        }
        again = imported.export(tmp_path / "again.zip")
        assert imported.redo() == session.redo()  # the undo was carried over too
    with zipfile.ZipFile(archive) as first, zipfile.ZipFile(again) as second:
        assert first.read("rows.json") == second.read("rows.json")
        assert sorted(first.namelist()) == sorted(second.namelist())


def test_importing_into_the_same_data_dir_makes_a_new_session(
    studio: Studio, tmp_path: Path
) -> None:
    session = busy_session(studio, tmp_path)
    files = set(stored_files(studio))
    copy = studio.import_session(session.export(tmp_path / "s.zip"))
    assert copy.id != session.id
    assert copy.history() == session.history()
    assert set(stored_files(studio)) == files  # the same content is not stored twice


def _rewrite(archive: Path, out: Path, change) -> Path:
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, change(name, source.read(name)))
    return out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda name, data: data[:-10] + b"0123456789" if name.endswith(".png") else data,
            "does not match its sha256",
        ),
        (
            lambda name, data: data.replace(b'"ok"', b'"fine"') if name == "rows.json" else data,
            "does not match its manifest",
        ),
        (
            lambda name, data: (
                json.dumps({**json.loads(data), "format": "other"}).encode()
                if name == "manifest.json"
                else data
            ),
            "not an anypix session archive",
        ),
    ],
    ids=["asset-bytes", "rows", "manifest"],
)
def test_a_damaged_archive_is_refused_and_nothing_is_stored(
    studio: Studio, tmp_path: Path, change, message: str
) -> None:
    session = busy_session(studio, tmp_path)
    damaged = _rewrite(session.export(tmp_path / "s.zip"), tmp_path / "damaged.zip", change)
    with Studio(tmp_path / "fresh", planner=fake_planner, renderer=flat_renderer) as fresh:
        with pytest.raises(ArchiveError, match=message):
            fresh.import_session(damaged)
        assert fresh.sessions() == [] and stored_files(fresh) == {}


def test_a_file_that_is_not_an_archive_is_refused(studio: Studio, tmp_path: Path) -> None:
    not_zip = tmp_path / "notes.zip"
    not_zip.write_text("hello")
    with pytest.raises(ArchiveError, match="not a readable zip archive"):
        studio.import_session(not_zip)
    with pytest.raises(ArchiveError, match="does not exist"):
        studio.import_session(tmp_path / "missing.zip")


def test_exporting_a_session_whose_files_were_deleted_says_so(
    studio: Studio, tmp_path: Path
) -> None:
    session = studio.new_session("damaged")
    turn = session.edit("new a red ball")
    turn.renders[0].path.unlink()
    with pytest.raises(ArchiveError, match="missing from"):
        session.export(tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()
