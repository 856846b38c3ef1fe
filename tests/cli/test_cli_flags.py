"""The knob flags (--seed --steps --guidance --strength --size --negative -n): one model checks
them for every command, and a value out of range is one line naming the range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from annotated_types import Ge, Le
from cli_helpers import FAST_RENDER, cli, stored_files
from pydantic import ValidationError

from anypix.knobs import SIDE_RANGE, EditOptions, knob_range
from anypix.plan import Knobs

BAD_VALUES = [
    (["--seed", "-1"], "--seed -1 is out of range (use 0 to 9223372036854775807)"),
    (["--seed", str(10**30)], f"--seed {10**30} is out of range"),
    (["--steps", "0"], "--steps 0 is out of range (use 1 to 1000)"),
    (["--steps", "1001"], "--steps 1001 is out of range (use 1 to 1000)"),
    (["--guidance", "-0.5"], "--guidance -0.5 is out of range (use 0 to 50)"),
    (["--guidance", "51"], "--guidance 51.0 is out of range (use 0 to 50)"),
    (["--strength", "1.5"], "--strength 1.5 is out of range (use 0 to 1)"),
    (["--size", "4x4"], "--size '4x4': 4x4 is out of range: 8 to 4096 a side"),
    (["--size", "big"], "--size 'big': 'big' is not WIDTHxHEIGHT, e.g. 512x384"),
    (["--steps", "many"], "--steps"),  # not a number: typer's own check, as one line too
]


@pytest.mark.parametrize(("flags", "message"), BAD_VALUES)
@pytest.mark.parametrize("command", ["plan", "edit"])
def test_a_value_out_of_range_is_one_line_and_nothing_is_stored(
    command: str, flags: list[str], message: str, images: dict[str, Path],
    _isolated_settings: Path,
) -> None:  # fmt: skip
    ran = cli(command, *flags, "--asset", f"photo={images['photo']}", "make [photo] brighter")
    assert ran.exit_code == 2, ran.stderr
    assert len(ran.error_lines) == 1 and ran.error_lines[0].startswith("error: ")
    assert message in ran.stderr and "Traceback" not in ran.stderr
    assert ran.stdout == ""
    assert not (_isolated_settings / "anypix.db").exists() or stored_files(_isolated_settings) == []


@pytest.mark.parametrize(("flags", "message"), [
    (["-n", "0"], "--variations 0 is out of range (use 1 to 16)"),
    (["--variations", "17"], "--variations 17 is out of range (use 1 to 16)"),
])  # fmt: skip
def test_variations_are_range_checked(flags: list[str], message: str, images: dict[str, Path]) -> None:
    ran = cli("edit", *flags, "--asset", f"photo={images['photo']}", "make [photo] brighter")
    assert (ran.exit_code, ran.error_lines) == (2, [f"error: {message}"])


def test_flags_reach_the_plan_knobs(images: dict[str, Path]) -> None:
    ran = cli("plan", "--json", "--seed", "9", "--steps", "12", "--guidance", "3.5",
              "--strength", "0.25", "--size", "64x48", "--asset", f"photo={images['photo']}",
              "remove the cat from [photo]")  # fmt: skip
    assert ran.exit_code == 0, ran.stderr
    tokens = json.loads(ran.stdout)["tokens"]
    assert "[knobs] alpha=0.75 guidance=3.5 steps=12 seed=9 size=64x48" in tokens


def test_edit_renders_with_the_flags_and_makes_the_variations(images: dict[str, Path]) -> None:
    ran = cli("edit", "--json", "--quiet", *FAST_RENDER, "--seed", "4", "--guidance", "1.5",
              "-n", "2", "--asset", f"photo={images['photo']}", "make [photo] brighter")  # fmt: skip
    assert ran.exit_code == 0, ran.stderr
    turn = json.loads(ran.stdout)
    used = [(r["provenance"]["seed"], r["provenance"]["steps"], r["provenance"]["guidance"],
             tuple(r["provenance"]["size"])) for r in turn["renders"]]  # fmt: skip
    assert used == [(4, 2, 1.5, (32, 32)), (5, 2, 1.5, (32, 32))]
    assert all(Path(p).is_file() for p in turn["files"]) and len(turn["files"]) == 2


def test_the_options_ranges_are_the_plans_own() -> None:
    schema = EditOptions.model_json_schema()["properties"]
    for name in ("seed", "steps", "guidance"):
        low, high = knob_range(name)
        knob = Knobs.model_fields[name].metadata
        assert (low, high) == (next(m.ge for m in knob if isinstance(m, Ge)),
                               next(m.le for m in knob if isinstance(m, Le)))  # fmt: skip
        bounds = next(s for s in schema[name]["anyOf"] if s.get("type") != "null")
        assert (bounds["minimum"], bounds["maximum"]) == (low, high)
    low, high = SIDE_RANGE  # Knobs checks sizes in a validator: the same bounds, and no wider
    Knobs(size=(low, high))
    for side in (low - 1, high + 1):
        with pytest.raises(ValidationError):
            Knobs(size=(side, side))


def test_options_turn_into_plan_knobs() -> None:
    options = EditOptions.parse({"strength": 0.3, "size": "96", "seed": None})
    assert options.knobs() == {"alpha": 0.7, "size": (96, 96)}
    assert options.variations == 1
    with pytest.raises(Exception, match="colour is not an option"):
        EditOptions.parse({"colour": "red"})


def test_a_negative_prompt_reaches_the_plan_and_the_render(images: dict[str, Path]) -> None:
    ran = cli("plan", "--json", "--negative", "blurry, dark", "-a", f"photo={images['photo']}",
              "make [photo] brighter")  # fmt: skip
    assert ran.exit_code == 0, ran.stderr
    assert "[negative] blurry, dark" in json.loads(ran.stdout)["tokens"].splitlines()
    ran = cli("edit", "--json", "--quiet", *FAST_RENDER, "--negative", "blurry, dark",
              "--asset", f"photo={images['photo']}", "make [photo] brighter")  # fmt: skip
    assert ran.exit_code == 0, ran.stderr
    assert json.loads(ran.stdout)["renders"][0]["provenance"]["knobs"]["negative"] == "blurry, dark"
