"""The instruction/plan pair generator: every pair is a valid plan for its assets, in the planner's
schema, and the set covers what the planner must learn (every op, references of each kind, audio,
styles, compounds, layouts with counts and relations, noise)."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from typing import Any

from anypix.agent.planner import validate
from anypix.agent.prompting import CSS_RULE_PATTERN
from anypix.agent.references import References
from anypix.agent.scene import scene_graph
from anypix.agent.training_data import generate_pairs
from anypix.plan import OP_KINDS, parse_css_layout


@cache
def pairs() -> list[dict[str, Any]]:
    return generate_pairs(800, seed=0)


def test_the_same_seed_gives_the_same_pairs_and_another_seed_others() -> None:
    assert generate_pairs(50, seed=3) == generate_pairs(50, seed=3)
    assert generate_pairs(50, seed=3) != generate_pairs(50, seed=4)


def test_every_plan_validates_against_its_assets_and_the_llm_schema() -> None:
    for record in (r for r in pairs() if r["task"] == "plan"):
        assets = record["assets"]
        instruction = References(files=record["files"]).rewrite(record["instruction"], assets)
        plan = validate(json.dumps(record["plan"]), assets, instruction)
        answer = record["plan"]  # within the LLM schema's bounds (prompting.plan_schema)
        assert 1 <= len(answer["ops"]) <= 4 and len(answer["subs"]) <= 4, record
        assert len(answer["gen"]) <= 160 and all(len(op["target"]) <= 80 for op in answer["ops"])
        named = set(re.findall(r"\[([^\]]+)\]", instruction))
        assert named <= set(assets), record  # file names resolve to this turn's attachments
        assert set(plan.asset_names()) <= set(assets)


def test_every_layout_parses_and_keeps_its_counts() -> None:
    for record in (r for r in pairs() if r["task"] == "layout"):
        rules = record["css"].splitlines()  # the LLM's layout schema: at most 8 rules
        assert 1 <= len(rules) <= 8 and all(re.match(CSS_RULE_PATTERN, r) for r in rules), record
        blobs = parse_css_layout(record["css"])
        counts = {o.noun: o.count for o in scene_graph(record["prompt"]).objects}
        labels = Counter(re.sub(r"\d+$", "", b.label) for b in blobs)
        assert dict(labels) == counts, record


def test_the_set_covers_ops_references_audio_styles_compounds_and_noise() -> None:
    plans = [r for r in pairs() if r["task"] == "plan"]
    ops = Counter(op["op"] for r in plans for op in r["plan"]["ops"])
    assert set(ops) == set(OP_KINDS)
    audio = [r for r in plans if "audio" in r["assets"].values()]
    assert any(r["plan"]["style_ref"] in r["assets"] and r["assets"][r["plan"]["style_ref"]] == "audio" for r in audio)  # fmt: skip
    assert any(r["assets"][s] == "audio" for r in audio for s in r["plan"]["subs"])
    assert any(r["plan"]["base"] == "last" for r in plans)  # "it" inside a session
    texts = [r["instruction"] for r in plans]
    assert any(re.search(r"\[(?:IMG_\d+|\w+_01)\.\w+\]", t) for t in texts)  # file names
    assert any(re.search(r"\bthe \w+ photo\b", t) for t in texts)  # words, not brackets
    assert sum(len(r["plan"]["ops"]) > 1 for r in plans) > 0.1 * len(plans)  # compounds
    assert any(t.isupper() for t in texts) and any(
        re.search(r"\bshould be gone\b", t) for t in texts
    )
    generated = [r for r in plans if r["plan"]["ops"][0]["op"] == "generate"]
    assert any(
        re.search(r"\b(?:\d+|two|three|a dozen)\b", r["instruction"], re.I) for r in generated
    )
    assert any(
        re.search(r"\b(?:above|below|left of|next to)\b", r["instruction"]) for r in generated
    )


def test_everyday_forms_are_there_and_noise_never_touches_names() -> None:
    plans = [r for r in pairs() if r["task"] == "plan"]
    texts = [r["instruction"] for r in plans]
    assert any(re.search(r"\b(?:let|have) .+ (?:wear|hold)\b", t, re.I) for t in texts)
    assert any(re.search(r"\bswap out\b", t, re.I) for t in texts)
    # this turn's attachment is the base inside a session ("it" is not the current image then)
    assert any(r["plan"]["base"] in r["files"] and "last" in r["assets"] for r in plans)
    # a new picture after a sound
    assert any(r["plan"]["base"] is None and r["assets"].get(r["plan"]["style_ref"]) == "audio"
               for r in plans)  # fmt: skip
    for r in plans:  # every bracket still names an asset or one of this turn's files
        for name in re.findall(r"\[([^\]]+)\]", r["instruction"]):
            assert name in r["assets"] or name in r["files"].values(), r
