"""Numbers out of range at every entry: the CLI's flags and turn numbers, script files, the MCP
tools and the memory API (archives: ``test_hostile_archives``). Each is refused in one line (a
tool error over MCP, never a protocol error an agent would retry), nothing is stored, and what is
stored stays readable: the largest seed there is goes in and comes back out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hostile_helpers import (
    assert_clean_output,
    assert_one_line_error,
    cli,
    data_dir_state,
    fake_planner,
    flat_renderer,
)

from anypix.errors import AnypixError
from anypix.studio import Studio

SQLITE_MAX = 2**63 - 1
HUGE = str(10**30)

# -- the CLI --------------------------------------------------------------------------------------------

TURN_NUMBERS = ["-1", HUGE, str(2**63), str(SQLITE_MAX), "99", "1e3", "NaN", "inf", "0x10", "",
                "1.5", "2 3"]  # fmt: skip


@pytest.mark.parametrize("turn", TURN_NUMBERS)
def test_branch_to_a_turn_number_out_of_range(data_dir: Path, turn: str) -> None:
    before = data_dir_state(data_dir)
    assert_one_line_error(cli(data_dir, "branch", "-s", "holiday", "--", turn))
    assert data_dir_state(data_dir) == before


FAST = ("--model", "tiny-random", "--llm", "fast")
FLAGS: dict[str, list[str]] = {
    "--seed": ["-1", HUGE, str(2**63), "NaN", "1.5", "inf"],
    "--steps": ["0", "-3", HUGE, "nan"],
    "--guidance": ["-1", "nan", "inf", "1e309"],
    "--strength": ["1.5", "-0.1", "nan"],
    "--size": ["0x0", "99999x99999", "-8x8", "axb", "64x64x64"],
    "--variations": ["0", "-1", "1000000"],
}
FLAG_CASES = [(flag, value) for flag, values in FLAGS.items() for value in values]


@pytest.mark.parametrize(("flag", "value"), FLAG_CASES)
def test_edit_flags_out_of_range_store_nothing(
    data_dir: Path, tmp_path: Path, flag: str, value: str
) -> None:
    before = data_dir_state(data_dir)
    ran = cli(data_dir, "edit", *FAST, f"{flag}={value}", "a red fox")
    assert_one_line_error(ran)
    assert data_dir_state(data_dir) == before  # no turn, no empty session, no file


@pytest.mark.parametrize("seed", ["-1", HUGE])
def test_plan_refuses_the_same_seeds(data_dir: Path, seed: str) -> None:
    assert_one_line_error(cli(data_dir, "plan", "--llm", "fast", f"--seed={seed}", "a red fox"))


# -- script files ---------------------------------------------------------------------------------------

SCRIPT_KNOBS: dict[str, Any] = {
    "seed -1": {"seed": -1},
    "seed 10**30": {"seed": 10**30},
    "seed .nan": {"seed": float("nan")},
    "steps 0": {"steps": 0},
    "guidance .inf": {"guidance": float("inf")},
    "alpha 7": {"alpha": 7},
    "size 0x0": {"size": [0, 0]},
}


@pytest.mark.parametrize("kind", list(SCRIPT_KNOBS))
@pytest.mark.parametrize("where", ["defaults", "step"])
def test_script_knobs_out_of_range_are_refused_before_anything_runs(
    data_dir: Path, tmp_path: Path, kind: str, where: str
) -> None:
    knobs = SCRIPT_KNOBS[kind]
    step: Any = {"instruction": "a red fox", "knobs": knobs} if where == "step" else "a red fox"
    script: dict[str, Any] = {"session": "script", "steps": [step]}
    if where == "defaults":
        script["defaults"] = knobs
    # YAML is a superset of JSON: .nan and .inf go in as JSON's NaN and Infinity.
    path = tmp_path / "hostile.yaml"
    path.write_text(json.dumps(script).replace("NaN", ".nan").replace("Infinity", ".inf"))
    before = data_dir_state(data_dir)
    ran = cli(data_dir, "run", *FAST, "--dry-run", "--out", str(tmp_path / "out"), str(path))
    assert_one_line_error(ran)
    assert data_dir_state(data_dir) == before
    assert not (tmp_path / "out").exists()


# -- the MCP tools --------------------------------------------------------------------------------------

MCP_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "edit seed -1": ("edit", {"instruction": "a fox", "options": {"seed": -1}}),
    "edit seed 10**30": ("edit", {"instruction": "a fox", "options": {"seed": 10**30}}),
    "edit seed 'NaN'": ("edit", {"instruction": "a fox", "options": {"seed": "NaN"}}),
    "edit seed 1.5": ("edit", {"instruction": "a fox", "options": {"seed": 1.5}}),
    "edit steps 0": ("edit", {"instruction": "a fox", "options": {"steps": 0}}),
    "edit variations 10**6": ("edit", {"instruction": "a fox", "options": {"variations": 10**6}}),
    "generate seed -1": ("generate", {"prompt": "a fox", "options": {"seed": -1}}),
    "generate knobs line seed=-1": ("generate", {"plan": "[gen] a fox\n[knobs] seed=-1"}),
    "generate knobs line seed=10**30": ("generate", {"plan": f"[gen] a fox\n[knobs] seed={HUGE}"}),
    "plan seed 10**30": ("plan", {"instruction": "a fox", "options": {"seed": 10**30}}),
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", list(MCP_CALLS))
async def test_mcp_numbers_out_of_range_are_tool_errors(data_dir: Path, kind: str) -> None:
    from mcp import Client

    from anypix.api import build_server

    tool, arguments = MCP_CALLS[kind]
    before = data_dir_state(data_dir)
    server = build_server(lambda: Studio(data_dir, planner=fake_planner,
                                         renderer=flat_renderer, locator=None),
                          session="holiday")  # fmt: skip
    async with Client(server) as client:
        result = await client.call_tool(tool, arguments)  # a protocol error would raise here
    assert result.is_error, result
    assert data_dir_state(data_dir) == before


# -- the memory API, and values at the edge ---------------------------------------------------------


@pytest.mark.parametrize("turn", [-1, 0, 10**30, 2**63, -(2**63) - 1])
def test_show_and_branch_refuse_turn_numbers_sqlite_cannot_hold(data_dir: Path, turn: int) -> None:
    with Studio(data_dir, planner=fake_planner, renderer=flat_renderer, locator=None) as studio:
        session = studio.session("holiday", create=False)
        with pytest.raises(AnypixError, match="no turn"):
            session.show(turn)
        if turn != 0:  # branch 0 is the start, a real place
            with pytest.raises(AnypixError, match="no turn"):
                session.branch(turn)


def test_the_largest_seed_is_stored_and_read_back(data_dir: Path) -> None:
    from anypix.knobs import EditOptions

    with Studio(data_dir, planner=fake_planner, renderer=flat_renderer, locator=None) as studio:
        turn = studio.session("holiday", create=False).edit(
            "one more", options=EditOptions(seed=SQLITE_MAX)
        )
    assert turn.renders[0].provenance["seed"] == SQLITE_MAX
    listed = cli(data_dir, "history", "--json", "-s", "holiday")
    assert_clean_output(listed)
    assert len(json.loads(listed.stdout)["turns"]) == 3
    archive = data_dir.parent / "edge.zip"
    assert cli(data_dir, "export", "holiday", str(archive)).exit_code == 0
    assert cli(data_dir, "import", str(archive)).exit_code == 0  # the archive checks agree
