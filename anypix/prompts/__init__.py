"""Prompt templates and few-shot examples, shipped as package data and versioned."""

from __future__ import annotations

from importlib import resources


def read(name: str) -> str:
    """The text of a prompt file shipped in this package (e.g. ``"plan_system.txt"``)."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
