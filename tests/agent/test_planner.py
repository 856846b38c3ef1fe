"""The planning pipeline with a queue-scripted fake LLM behind the real backend interface."""

from __future__ import annotations

import json

import pytest

from anypix.agent.grammar import NotCanonicalError
from anypix.agent.llm import FakeLLM, get_backend
from anypix.agent.planner import Planner
from anypix.errors import PlanValidationError, UnknownAssetError

ASSETS = {"room": "image", "sofa": "image", "rain": "audio"}
REQUEST = "I'd like [sofa] in [room] instead of the old couch"  # not a canonical form
GOOD = {
    "base": "room",
    "subs": ["sofa"],
    "style_ref": None,
    "ops": [{"op": "replace", "target": "the old couch", "ref": "sofa"}],
    "gen": "a room with a new sofa",
}


def planner(*answers: object, **kwargs: object) -> tuple[Planner, FakeLLM]:
    fake = FakeLLM(list(answers))  # type: ignore[arg-type]
    return Planner(fake, use_minilm=False, **kwargs), fake  # type: ignore[arg-type]


def test_canonical_instructions_never_reach_the_llm() -> None:
    plan, fake = planner()  # an empty queue: any LLM call would raise
    result = plan.plan("add [sofa] to [room] and make it feel like [rain]", ASSETS)
    assert result.source == "fast" and result.attempts == 0 and fake.requests == []


def test_fast_path_only_refuses_non_canonical_input() -> None:
    with pytest.raises(NotCanonicalError):
        Planner(None).plan(REQUEST, ASSETS)


def test_llm_answer_becomes_the_plan_and_the_prompt_carries_protocol_schema_and_examples() -> None:
    plan, fake = planner(GOOD)
    result = plan.plan(REQUEST, ASSETS)
    assert result.source == "llm" and result.attempts == 1
    assert (result.plan.base, result.plan.subs) == ("room", ["sofa"])
    messages, schema = fake.requests[0]
    assert "[base]" in messages[0]["content"] or "base:" in messages[0]["content"]
    assert messages[-1]["content"].endswith(REQUEST)
    assert len(messages) == 1 + 2 * 3 + 1  # system, three worked examples, the question
    # asset names are enums: a grammar-constrained model cannot invent one, audio cannot be base
    assert schema["properties"]["base"]["anyOf"][0]["enum"] == ["room", "sofa"]
    assert schema["properties"]["subs"]["items"]["enum"] == ["rain", "room", "sofa"]


def test_validation_error_is_fed_back_and_the_repair_is_used() -> None:
    bad = {**GOOD, "ops": [{"op": "generate", "target": "", "ref": None}, *GOOD["ops"]]}
    plan, fake = planner(bad, GOOD)
    result = plan.plan(REQUEST, ASSETS)
    assert result.attempts == 2
    assert result.errors == ["'generate' makes a new image and must be the only op"]
    repair = fake.requests[1][0]
    assert repair[-2] == {"role": "assistant", "content": json.dumps(bad)}
    assert "must be the only op" in repair[-1]["content"]


def test_repairs_are_bounded_and_end_in_a_clear_error() -> None:
    plan, fake = planner("not json", {"base": "rain", "subs": [], "ops": [], "gen": ""}, "{}")
    with pytest.raises(PlanValidationError, match="invalid after 3 tries"):
        plan.plan(REQUEST, ASSETS)
    assert len(fake.requests) == 3 and fake.answers == []


def test_unknown_reference_is_the_users_error_not_the_models() -> None:
    plan, fake = planner(GOOD)
    with pytest.raises(UnknownAssetError):
        plan.plan("I want [cat] in [room]", ASSETS)
    assert fake.requests == []


def test_unambiguous_slips_are_tidied_before_validation() -> None:
    slip = {
        "base": None,  # the one image the instruction names and nothing else uses
        "subs": [],
        "style_ref": None,
        "ops": [{"op": "replace", "target": "the old couch", "ref": "sofa"}],  # sofa not in subs
        "gen": "",
    }
    plan, _ = planner(slip)
    result = plan.plan(REQUEST, ASSETS)
    assert (result.plan.base, result.plan.subs, result.attempts) == ("room", ["sofa"], 1)


def test_generation_from_the_llm_gets_a_solver_layout() -> None:
    answer = {"base": None, "subs": [], "style_ref": None, "gen": "two cats left of a dog",
              "ops": [{"op": "generate", "target": "", "ref": None}]}  # fmt: skip
    plan, _ = planner(answer)
    blobs = plan.plan("I want two cats left of a dog", {}).plan.blobs
    cats = [b for b in blobs if b.label.startswith("cat")]
    dog = next(b for b in blobs if b.label == "dog")
    assert len(cats) == 2 and all(c.cx < dog.cx for c in cats)


def test_llm_layout_in_css_form_is_parsed_and_repaired() -> None:
    css = ["cat {major-radius: 100px; minor-radius: 80px; cx: 128px; cy: 256px; angle: 0}"]
    plan, fake = planner({"css": ["cat {oops}"]}, {"css": css}, layout="llm")
    blobs = plan.layout_blobs("a cat")
    assert (
        len(blobs) == 1 and blobs[0].cx == 0.25 and blobs[0].a == pytest.approx(100 / 512, abs=1e-4)
    )
    assert "cannot read CSS property 'oops'" in fake.requests[1][0][-1]["content"]


def test_fake_is_registered_like_the_real_backends() -> None:
    assert isinstance(get_backend("fake"), FakeLLM)


def test_a_langchain_chat_model_plugs_in_through_the_same_interface() -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from anypix.agent.llm import LangChainLLM

    backend = LangChainLLM(FakeListChatModel(responses=[json.dumps(GOOD)]))
    result = Planner(backend, use_minilm=False).plan(REQUEST, ASSETS)
    assert result.source == "llm" and result.plan.ops[0].op == "replace"


def test_a_counted_add_from_the_llm_is_an_add_of_each_as_the_grammar_plans_it() -> None:
    from anypix.agent.grammar import split_counted_adds
    from anypix.plan import Blob, EditPlan, Op

    answer = {"base": "room", "subs": [], "style_ref": None, "gen": "a room with two lamps",
              "ops": [{"op": "add", "target": "two brass lamps", "ref": None}]}  # fmt: skip
    plan, _ = planner(answer, fast_path=False)  # every instruction through the LLM
    result = plan.plan("the room could do with a couple of lamps, maybe brass", ASSETS)
    assert result.source == "llm"
    assert [(o.op, o.target) for o in result.plan.ops] == [("add", "a brass lamp")] * 2
    assert not result.plan.blobs  # unplaced: the locator finds each one room
    # one blob for the two: spread into one each, one above another on the right
    right = Blob(description="two brass lamps", cx=0.75, cy=0.55, a=0.22, b=0.18)
    placed = split_counted_adds(EditPlan(base="room", ops=[Op(op="add", target="two brass lamps")],
                                         blobs=[right]))  # fmt: skip
    assert [(b.description, b.cx) for b in placed.blobs] == [("a brass lamp", 0.75)] * 2
    assert placed.blobs[0].cy < placed.blobs[1].cy
    vague = EditPlan(base="room", ops=[Op(op="add", target="some lamps")])
    assert split_counted_adds(vague) is vague


@pytest.mark.parametrize("typed", ["undo", "undo that", "go back", "redo"])
def test_a_step_through_the_history_is_not_planned(typed: str) -> None:
    """`anypix edit -s s "undo"` planned "remove the same scene" through the fallback model and
    rendered it. A step through the history is refused with the command to use, before any
    model sees it."""
    from anypix.errors import HistoryStepError

    llm = FakeLLM(["[base] last\n[gen] the same scene\n[op] remove the same scene"])
    with pytest.raises(HistoryStepError, match="not an edit") as caught:
        Planner(llm).plan(typed, {"last": "image"})
    assert caught.value.hint is not None and "/" in caught.value.hint
    assert llm.requests == []
