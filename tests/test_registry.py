"""Model families and LLM backends register themselves: the built-in miniworld family through the
registry's table, others through entry points of installed packages; generic code asks the
registry for capabilities and never names a family."""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import torch

import anypix
from anypix import plugins
from anypix.agent.llm import FakeLLM, get_backend
from anypix.config import load_settings
from anypix.errors import ConfigError, ModelUnavailableError
from anypix.models import registry
from anypix.models.registry import Capabilities, ModelFamily, Preset
from tests.binding.fakes import BagOfWordsEncoder

TOY_ENCODER = BagOfWordsEncoder(encoder_id="toy-encoder")


def _load_toy(**options: Any) -> Any:
    return ("toy components", options["device"].type, options["dtype"])


TOY_CAPABILITIES = Capabilities(
    steps=4, guidance=1.5, subject_method="tokens", locator_encoder="toy-encoder"
)
TOY = ModelFamily(
    name="toy",
    presets=(
        Preset(
            "toy",
            "diffusion",
            "family",
            "a family from another package",
            family="toy",
            capabilities=TOY_CAPABILITIES,
        ),
    ),
    load_components=_load_toy,
    encoders={"toy-encoder": lambda settings: TOY_ENCODER},
)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A package that declares the toy family and a toy LLM backend as entry points."""
    module = types.ModuleType("anypix_toy_plugin")
    module.FAMILY = TOY  # type: ignore[attr-defined]
    module.make_backend = lambda settings: FakeLLM(["{}"])  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "anypix_toy_plugin", module)
    points = {
        "anypix.model_families": [EntryPoint("toy", "anypix_toy_plugin:FAMILY", "anypix.model_families")],
        "anypix.llm_backends": [
            EntryPoint("toy-llm", "anypix_toy_plugin:make_backend", "anypix.llm_backends"),
            EntryPoint("broken", "anypix_toy_plugin_missing:make", "anypix.llm_backends"),
        ],
    }  # fmt: skip
    monkeypatch.setattr(plugins, "entry_points", lambda group: points.get(group, []))
    registry.families.cache_clear()
    yield
    registry.families.cache_clear()


def test_the_miniworld_preset_is_registered_by_its_family() -> None:
    preset = registry.get_preset("miniworld")
    assert preset.family == "miniworld" and preset.source == "family"
    assert registry.family_of("miniworld") is registry.families()["miniworld"]
    can = registry.capabilities("miniworld")
    assert (can.steps, can.guidance, can.subject_method) == (20, 3.0, "tokens")
    assert can.locator_encoder == "miniworld" and can.verifier is not None
    assert registry.family_of("sd15") is None
    assert registry.capabilities("sd15").subject_method == "ip-adapter"
    assert registry.capabilities("sdxl").guidance == 5.0


def test_a_family_from_an_installed_package_brings_its_presets_and_encoders(
    installed: None,
) -> None:
    from anypix.models.diffusion import load_components
    from anypix.models.encoders import load_encoder
    from anypix.tools.preset import default_locator

    assert registry.get_preset("toy").description == "a family from another package"
    assert "toy" in registry.presets() and "miniworld" in registry.presets()
    assert load_components("toy", device="cpu") == ("toy components", "cpu", torch.float32)
    assert load_encoder("toy-encoder") is TOY_ENCODER
    locator = default_locator("toy")
    assert locator is not None and locator.encoder is TOY_ENCODER
    assert default_locator("sd15") is None  # no grounding encoder: edits apply everywhere


def test_an_llm_backend_from_an_installed_package_is_a_setting(installed: None) -> None:
    settings = load_settings(llm="toy-llm")
    backend = get_backend(settings.llm, settings)
    assert isinstance(backend, FakeLLM) and backend.answers == ["{}"]
    with pytest.raises(ConfigError, match="'llm'"):
        load_settings(llm="not-installed")


def test_the_builtin_llm_backends_are_the_settings_names() -> None:
    from anypix.agent.llm import BACKENDS
    from anypix.config import BUILTIN_LLMS

    # "auto" and "fast" are planner modes, not backends (see planner_for)
    assert set(BACKENDS) == set(BUILTIN_LLMS) - {"auto", "fast"}


def test_a_broken_plugin_is_named_when_it_is_used(installed: None) -> None:
    with pytest.raises(ModelUnavailableError, match="plugin 'broken'"):
        get_backend("broken", load_settings(llm="broken"))


CORE_PACKAGES = ("agent", "tools", "models", "memory", "prompts")
CORE_MODULES = ("config.py", "errors.py", "lexicon.py", "media.py", "plan.py", "plan_tokens.py",
                "plugins.py", "records.py")  # fmt: skip
FAMILY_PLACES = ("models/miniworld/", "models/registry.py")  # the family, and the preset table


def test_generic_core_modules_never_name_a_model_family() -> None:
    root = Path(anypix.__file__).parent
    named = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        in_core = relative.split("/")[0] in CORE_PACKAGES or relative in CORE_MODULES
        if not in_core or relative.startswith(FAMILY_PLACES):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"miniworld", line, re.IGNORECASE):
                named.append(f"{relative}:{number}: {line.strip()}")
    assert named == []
