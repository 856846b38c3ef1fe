"""Entry points: how another installed package adds a model family or an LLM backend.

A package declares them in its ``pyproject.toml``, as llm and harlequin plugins do::

    [project.entry-points."anypix.model_families"]
    sd3 = "anypix_sd3:FAMILY"            # an anypix.models.registry.ModelFamily

    [project.entry-points."anypix.llm_backends"]
    claude = "anypix_claude:make_backend"  # make_backend(settings) -> anypix.agent.llm.LLMBackend

Nothing is imported until a name is asked for; a plugin that fails to import fails then, with
its name in the error.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

from anypix.errors import ModelUnavailableError

Group = Literal["anypix.model_families", "anypix.llm_backends"]


def plugin_names(group: Group) -> list[str]:
    """The names installed packages register in ``group``."""
    return sorted({point.name for point in entry_points(group=group)})


def load_plugin(group: Group, name: str) -> Any:
    """The object entry point ``name`` of ``group`` points at."""
    found: list[EntryPoint] = [p for p in entry_points(group=group) if p.name == name]
    if not found:
        raise KeyError(name)
    try:
        return found[0].load()
    except Exception as exc:  # a broken plugin: any import-time error
        raise ModelUnavailableError(
            f"the plugin {name!r} ({found[0].value}) cannot be loaded: {exc}",
            f"reinstall the package that provides it, or remove it ({group})",
        ) from None
