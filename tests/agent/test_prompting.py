"""Prompts: in-context examples chosen by similarity to the instruction."""

from __future__ import annotations

import pytest

from anypix.agent.prompting import layout_messages, select_examples


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
