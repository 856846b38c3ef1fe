"""The one table of tools, read by ``anypix tools``, the MCP server and any tool-calling agent.

A tool is a plain typed function whose docstring's first paragraph is its description and whose
``Args:`` section describes each parameter; its signature becomes a pydantic model
(:attr:`Tool.arguments`) whose JSON schema is the tool's input schema. Parameters whose names
start with ``_`` (a model bundle, a progress callback) are supplied by the caller in code and are
not part of the schema. Tools are listed here as ``"module:function"`` strings so that reading
the table imports nothing heavy (torch, diffusers) until a tool is actually used.

    tool = get("render")
    tool.parameters          # JSON schema of the arguments (JSON-serialisable)
    tool.openai_schema()     # {"type": "function", "function": {...}}
    tool(**tool.validate({"plan": "...", "assets": {...}, "output": "out.png"}))
    function_schemas()       # every tool, OpenAI-style (``anypix tools --json``)

The LLM planner does not call tools: it writes a plan (:mod:`anypix.agent.prompting` holds its
schema), which the executor renders with the ``render`` tool's function.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.json_schema import GenerateJsonSchema

from anypix.errors import UserError

# name -> "module:function". Add a line here to register a tool; nothing else is needed.
TOOL_TABLE: dict[str, str] = {
    "layout_masks": "anypix.tools.layout:layout_masks",
    "embed": "anypix.tools.embed:embed",
    "retrieve": "anypix.tools.retrieve:retrieve",
    "refine": "anypix.tools.refine:refine",
    "invert": "anypix.tools.invert:invert",
    "stylize": "anypix.tools.style:stylize",
    "image_prompt": "anypix.tools.image_prompt:image_prompt",
    "render": "anypix.tools.render:render_plan",
}


@dataclass(frozen=True)
class Tool:
    name: str
    fn: Callable[..., Any]
    description: str
    parameters: dict[str, Any]  # the JSON schema of ``arguments``
    arguments: type[BaseModel]  # the signature's parameters (those not starting with "_")

    def __call__(self, **kwargs: Any) -> Any:
        return self.fn(**kwargs)

    def validate(self, given: dict[str, Any]) -> dict[str, Any]:
        """JSON arguments (from an LLM or an MCP client) as the function's own types, defaults
        filled in; a bad one raises a one-line :class:`UserError` naming it."""
        try:
            model = self.arguments.model_validate(given)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "arguments"
            listed = ", ".join(self.parameters["properties"])
            raise UserError(f"{self.name}: {where}: {error['msg'].lower()}",
                            f"its arguments: {listed}") from None  # fmt: skip
        return {name: getattr(model, name) for name in type(model).model_fields}

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


class SchemaWithoutTitles(GenerateJsonSchema):
    """JSON schema without pydantic's generated titles (the names are the keys already)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def describe(name: str, fn: Callable[..., Any]) -> Tool:
    """Build a :class:`Tool` from a typed function: its arguments model (and JSON schema) from
    the signature, text from the docstring. Parameters without a default are required."""
    description, arg_docs = _docstring_parts(fn)
    hints = get_type_hints(fn, include_extras=True)
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.name.startswith("_") or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name not in hints:
            raise TypeError(f"tool {name}: parameter {param.name!r} has no type annotation")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints[param.name], Field(default, description=arg_docs.get(param.name)))
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    arguments = create_model(f"{name}_arguments", __config__=config, **fields)
    schema = arguments.model_json_schema(schema_generator=SchemaWithoutTitles, mode="validation")
    schema.pop("title", None)
    schema.setdefault("required", [])
    return Tool(name, fn, description, schema, arguments)


@cache
def get(name: str) -> Tool:
    if name not in TOOL_TABLE:
        raise KeyError(f"no tool named {name!r}; tools: {', '.join(sorted(TOOL_TABLE))}")
    module, _, attr = TOOL_TABLE[name].partition(":")
    return describe(name, getattr(importlib.import_module(module), attr))


def all_tools() -> list[Tool]:
    return [get(name) for name in sorted(TOOL_TABLE)]


def function_schemas() -> list[dict[str, Any]]:
    """Every tool as an OpenAI-style function schema (JSON-serialisable)."""
    return [tool.openai_schema() for tool in all_tools()]
