"""The trained planner as the fallback: asked with the short prompt it learnt, chosen by ``auto``
when an adapter is shipped or configured, plain SmolLM2 otherwise. No model is loaded here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from anypix.agent import llm as llm_module
from anypix.agent.llm import FakeLLM, LlamaCppLLM, planner_adapter
from anypix.agent.planner import Planner, planner_for
from anypix.agent.prompting import plan_answer, short_plan_messages
from anypix.agent.references import References
from anypix.agent.training_data import generate_pairs
from anypix.config import Settings
from anypix.errors import ModelUnavailableError


@pytest.fixture
def no_shipped_adapter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(llm_module, "PLANNER_ADAPTER", tmp_path / "none" / "planner-lora.gguf")


def settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", **changes)  # type: ignore[arg-type]


def test_a_trained_backend_gets_the_short_prompt_it_learnt() -> None:
    plan = {"base": "photo", "subs": [], "style_ref": None, "gen": "a blue car",
            "ops": [{"op": "recolor", "target": "the car blue", "ref": None}]}  # fmt: skip
    fake = FakeLLM([plan])
    fake.short_prompt = True
    assets = {"photo": "image", "last": "image"}
    result = Planner(fake, fast_path=False).plan(
        "what if the car was blue?", assets, references=References(files={"photo": "IMG_7.jpg"})
    )
    messages, _ = fake.requests[0]
    assert messages == short_plan_messages("what if the car was blue?", assets,
                                           {"photo": "IMG_7.jpg"})  # fmt: skip
    assert messages[1]["content"] == (
        "Assets: photo: image, attached as IMG_7.jpg; last: image\n"
        "Instruction: what if the car was blue?"
    )
    assert (result.plan.base, [op.op for op in result.plan.ops]) == ("photo", ["recolor"])


def test_an_untrained_backend_still_gets_the_few_shot_prompt() -> None:
    fake = FakeLLM([{"base": "photo", "subs": [], "style_ref": None, "gen": "snow",
                     "ops": [{"op": "restyle", "target": "snowy", "ref": None}]}])  # fmt: skip
    Planner(fake, fast_path=False, use_minilm=False).plan("make [photo] snowy", {"photo": "image"})
    messages, _ = fake.requests[0]
    assert messages[0]["role"] == "system" and len(messages) > 2  # examples as turns


def test_the_answer_the_model_learns_is_a_plan_the_planner_accepts() -> None:
    from anypix.agent.planner import validate

    for pair in [p for p in generate_pairs(60, seed=3) if p["task"] == "plan"]:
        answer = plan_answer(pair["plan"])
        assert json.loads(answer) == pair["plan"]
        plan = validate(answer, pair["assets"], pair["instruction"])
        assert plan.base == pair["plan"]["base"]


def test_auto_falls_back_to_the_trained_planner_when_an_adapter_is_configured(
    tmp_path: Path, no_shipped_adapter: None
) -> None:
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "planner-lora.gguf").write_bytes(b"GGUF")
    planner = planner_for(settings(tmp_path, model_paths={"planner": tmp_path / "weights"}))
    assert isinstance(planner.backend, LlamaCppLLM)
    assert planner.backend.lora_path == tmp_path / "weights" / "planner-lora.gguf"
    assert planner.backend.short_prompt and planner.fast_path  # the grammar still goes first


def test_auto_uses_plain_smollm2_when_no_adapter_exists(
    tmp_path: Path, no_shipped_adapter: None
) -> None:
    planner = planner_for(settings(tmp_path))
    assert isinstance(planner.backend, LlamaCppLLM)
    assert planner.backend.lora_path is None and not planner.backend.short_prompt
    with pytest.raises(ModelUnavailableError, match="no trained planner adapter"):
        planner_for(settings(tmp_path, llm="planner"))


def test_a_configured_folder_without_an_adapter_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match=r"holds no planner-lora\.gguf") as caught:
        planner_adapter(settings(tmp_path, model_paths={"planner": tmp_path}))
    assert "anypix train planner" in (caught.value.hint or "")
