"""The one table of tools. The LLM planner, the CLI and the MCP server all read it.

A tool is a plain typed function whose docstring's first paragraph is its description and whose
``Args:`` section describes each parameter; its signature becomes the JSON schema. Parameters
whose names start with ``_`` (a model bundle, a progress callback) are supplied by the executor
and are not part of the schema. Tools are
listed here as ``"module:function"`` strings so that reading the table imports nothing heavy
(torch, diffusers) until a tool is actually used.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import TypeAdapter

# name -> "module:function". Add a line here to register a tool; nothing else is needed.
TOOL_TABLE: dict[str, str] = {
    "layout_masks": "anypix.tools.layout:layout_masks",
    "embed": "anypix.tools.embed:embed",
    "retrieve": "anypix.tools.retrieve:retrieve",
    "refine": "anypix.tools.refine:refine",
    "invert": "anypix.tools.invert:invert",
    "stylize": "anypix.tools.style:stylize",
    "render": "anypix.tools.render:render_plan",
}


@dataclass(frozen=True)
class Tool:
    name: str
    fn: Callable[..., Any]
    description: str
    parameters: dict[str, Any]

    def __call__(self, **kwargs: Any) -> Any:
        return self.fn(**kwargs)

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def _docstring_parts(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(fn) or ""
    summary = doc.partition("\n\n")[0]
    args: dict[str, str] = {}
    section = re.search(r"^Args:\s*\n(.*?)(?:^\S|\Z)", doc, re.MULTILINE | re.DOTALL)
    if section:
        current = None
        for line in section.group(1).splitlines():
            match = re.match(r"^\s{2,}(\w+)(?:\s*\([^)]*\))?:\s*(.*)$", line)
            if match and (current is None or len(line) - len(line.lstrip()) <= 4):
                current = match.group(1)
                args[current] = match.group(2).strip()
            elif current and line.strip():
                args[current] += " " + line.strip()
    return " ".join(summary.split()), args


def describe(name: str, fn: Callable[..., Any]) -> Tool:
    """Build a :class:`Tool` from a typed function: JSON schema from the signature, text from the
    docstring. Parameters without a default are required."""
    description, arg_docs = _docstring_parts(fn)
    hints = inspect.get_annotations(fn, eval_str=True)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for param in inspect.signature(fn).parameters.values():
        if param.name.startswith("_") or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name not in hints:
            raise TypeError(f"tool {name}: parameter {param.name!r} has no type annotation")
        schema = TypeAdapter(hints[param.name]).json_schema()
        if param.name in arg_docs:
            schema["description"] = arg_docs[param.name]
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        else:
            try:
                TypeAdapter(Any).dump_json(param.default)
                schema["default"] = param.default
            except Exception:  # a default that is not JSON (a callback, a model bundle)
                pass
        properties[param.name] = schema
    parameters = {"type": "object", "properties": properties, "required": required}
    return Tool(name=name, fn=fn, description=description, parameters=parameters)


@cache
def get(name: str) -> Tool:
    if name not in TOOL_TABLE:
        raise KeyError(f"no tool named {name!r}; tools: {', '.join(sorted(TOOL_TABLE))}")
    module, _, attr = TOOL_TABLE[name].partition(":")
    return describe(name, getattr(importlib.import_module(module), attr))


def all_tools() -> list[Tool]:
    return [get(name) for name in sorted(TOOL_TABLE)]
