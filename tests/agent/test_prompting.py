"""Prompts: in-context examples chosen by similarity to the instruction."""

from __future__ import annotations

import pytest

from anypix.agent.prompting import (
    LAYOUT_SCHEMA,
    layout_messages,
    plan_schema,
    plan_system,
    select_examples,
)
from anypix.lexicon import LOCATED_OPS
from anypix.plan import OP_KINDS, OPS
from anypix.tools.techniques import FRESH_INSIDE


def test_word_overlap_selection_puts_the_nearest_example_last() -> None:
    chosen = select_examples(
        "plan_examples.jsonl", "instruction", "get the cars out of [road]", 2, use_minilm=False
    )
    assert chosen[-1]["instruction"] == "get the parked cars out of [street]"


def test_layout_prompt_is_blobgen_css() -> None:
    messages = layout_messages("two pears in a bowl", k=2, use_minilm=False)
    system = messages[0]["content"]
    assert "512 x 512" in system and "prefer objects to be large" in system and "0 to 180" in system
    assert '"css": ["' in messages[2]["content"] and "major-radius" in messages[2]["content"]


@pytest.mark.slow
def test_minilm_selection_finds_paraphrases_word_overlap_misses() -> None:
    query = "make the automobile in [x] look like it is crimson"
    chosen = select_examples("plan_examples.jsonl", "instruction", query, 1, use_minilm=True)
    # a recolour example, though it shares no content word with the query
    assert chosen[-1]["plan"]["ops"][0]["op"] == "recolor"


def test_the_ops_table_is_the_one_place_an_op_is_described() -> None:
    assert tuple(OPS) == OP_KINDS
    prompt = plan_system()
    for name, spec in OPS.items():
        assert f"  {name:<9} - {spec.meaning}\n" in prompt + "\n", name
    assert "{ops}" not in prompt
    # what the render and the locator do with an op comes from its line too
    assert set(FRESH_INSIDE) == {"add", "remove", "replace"}
    assert set(LOCATED_OPS) == {"move", "recolor", "remove", "replace"}
    enum = plan_schema({"photo": "image"})["properties"]["ops"]["items"]["properties"]["op"]
    assert enum["enum"] == list(OP_KINDS)


def test_the_plan_schema_only_names_attached_assets() -> None:
    schema = plan_schema({"photo": "image", "tone": "audio"})
    props = schema["properties"]
    assert props["base"]["anyOf"][0] == {"const": "photo", "type": "string"}  # images only
    assert props["subs"]["items"]["enum"] == ["photo", "tone"] and props["subs"]["maxItems"] == 4
    assert schema["required"] == ["base", "subs", "style_ref", "ops", "gen"]
    assert "$defs" not in schema and "title" not in schema  # what llama.cpp's grammar reads
    empty = plan_schema({})["properties"]
    assert empty["base"] == {"type": "null"} and empty["subs"]["maxItems"] == 0
    sounds = plan_schema({"surf": "audio"})["properties"]  # a sound is never the base
    assert sounds["base"] == {"type": "null"} and sounds["style_ref"]["anyOf"][0]["const"] == "surf"
    assert LAYOUT_SCHEMA["properties"]["css"]["maxItems"] == 8
