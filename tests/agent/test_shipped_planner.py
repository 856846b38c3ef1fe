"""The shipped planner adapter, loaded for real (SmolLM2-135M + the LoRA through llama.cpp), reads
everyday edits on its own: no fast path, instructions written for this test."""

from __future__ import annotations

import pytest

from anypix.agent.llm import PLANNER_ADAPTER, LlamaCppLLM
from anypix.agent.planner import Planner
from anypix.agent.references import References

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.skipif(not PLANNER_ADAPTER.exists(), reason="no adapter is shipped")


@pytest.fixture(scope="module")
def planner() -> Planner:
    backend = LlamaCppLLM(n_threads=1, n_ctx=1024, lora_path=PLANNER_ADAPTER)
    backend.short_prompt = True
    return Planner(backend, fast_path=False)


@pytest.mark.parametrize(
    ("instruction", "op"),
    [
        ("have grandpa wear a straw hat", "add"),
        ("the kettle ought to be gone", "remove"),
        ("swap the teapot for a vase", "replace"),
        ("what if the door was orange?", "recolor"),
    ],
)
def test_the_trained_model_edits_the_one_attached_photo(
    planner: Planner, instruction: str, op: str
) -> None:
    assets = {"kitchen": "image"}
    result = planner.plan(instruction, assets, references=References({"kitchen": "IMG_5521.jpg"}))
    assert result.source == "llm"
    assert result.plan.base == "kitchen" and [o.op for o in result.plan.ops] == [op]


def test_the_trained_model_takes_a_sound_as_the_style_of_a_new_picture(planner: Planner) -> None:
    assets = {"surf": "audio"}
    result = planner.plan("a lighthouse at night that feels like [surf]", assets)
    assert result.plan.base is None and result.plan.style_ref == "surf"
    assert [o.op for o in result.plan.ops] == ["generate"]
