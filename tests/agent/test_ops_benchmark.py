"""benchmarks/figures_ops.py's dry run: one op through a real verified turn with the miniworld
model at 2 steps, and its figures read back from the log (the benchmark's own code, tiny)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("figures_ops", ROOT / "benchmarks" / "figures_ops.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_figures_count_successes_attempts_and_the_verifiers_mistakes() -> None:
    ops = _load()
    results = [
        # verified on the second render; the first was wrong and the verifier said so
        ops.CaseResult("add", False, True, False, [(False, False), (True, True)], 1.0, 2.5),
        # wrong and accepted: a false accept, and a wrong delivered output
        ops.CaseResult("add", False, False, False, [(True, False)], 1.0, 1.5),
        # right and rejected three times: false rejects, stored as failed
        ops.CaseResult("remove", True, True, True, [(False, True)] * 3, 2.0, 7.0),
    ]
    figures = ops.summarise(results)
    assert figures["op_success_add"] == 0.5 and figures["op_success_add_unverified"] == 0.0
    assert figures["op_success_remove"] == 1.0 and figures["op_flagged_remove"] == 1.0
    assert figures["verify_attempts_mean"] == pytest.approx(2.0)
    assert figures["verifier_checks"] == 6
    assert figures["verifier_false_accepts"] == pytest.approx(1 / 2)  # of the 2 wrong outputs
    assert figures["verifier_false_rejects"] == pytest.approx(3 / 4)  # of the 4 right ones
    assert figures["verified_time_ratio"] == pytest.approx((11 / 3) / (4 / 3))


@pytest.mark.usefixtures("one_thread")
def test_the_dry_run_measures_an_op_end_to_end_and_its_log_gives_the_same_figures(
    tmp_path: Path,
) -> None:
    ops = _load()
    log = tmp_path / "ops.jsonl"
    figures = ops.main(["--ops", "add", "--n", "1", "--steps", "2", "--log", str(log), "--json"])
    assert set(figures) >= {"op_success_add", "op_success_add_unverified", "verify_attempts_mean",
                            "verifier_false_accepts", "verified_time_ratio"}  # fmt: skip
    assert 1 <= figures["verify_attempts_mean"] <= 3  # the default bound on renders
    [line] = log.read_text().splitlines()
    assert json.loads(line)["op"] == "add"
    again = ops.main(["--from-log", str(log), "--json"])
    assert again["op_success_add"] == figures["op_success_add"]
