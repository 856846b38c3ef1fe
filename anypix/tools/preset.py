"""The renderer every front end gives its Studio: the configured diffusion preset, loaded once
(on the first render, or earlier by calling ``load``, as the terminal UI does in a background
worker) and reused for every turn. Thread-safe: a warm-up and the first edit may race to load."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anypix.config import Settings
    from anypix.models.diffusion import Components
    from anypix.models.encoders import Encoder
    from anypix.models.perception import Perception
    from anypix.plan import EditPlan
    from anypix.records import Render
    from anypix.tools.locate import Locator


class PresetRenderer:
    """``renderer(plan, assets, *, progress=None, cancel=None) -> Render`` over one loaded preset."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.preset = settings.model
        self._components: Components | None = None
        self._lock = threading.Lock()  # the warm-up worker and the first edit may race to load
        self.locator = default_locator(self.preset, settings)
        self.perception = default_perception(self.preset, settings)

    @property
    def device(self) -> str | None:
        """Where the preset runs, once loaded."""
        return None if self._components is None else str(self._components.device)

    def load(self) -> Components:
        with self._lock:
            if self._components is None:
                from anypix.models.diffusion import load_components

                self._components = load_components(self.preset, settings=self.settings)
            return self._components

    def warm(self) -> None:
        """Load the preset, its locator's encoder and its perception now, not at the first edit
        that needs them (a warm worker calls this before it takes any)."""
        self.load()
        if self.locator is not None:
            self.locator.encoder  # noqa: B018 - loads it
        if self.perception is not None:
            self.perception.warm()

    def __call__(
        self,
        plan: EditPlan,
        assets: Mapping[str, Path],
        *,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
        **_: Any,
    ) -> Render:
        from anypix.tools.render import render

        return render(plan, assets, self.load(), progress=progress, cancel=cancel)


# A warm worker's renderers (anypix.cli.warm), one per settings: every request opens a new
# Studio, and this is what lets its edits find the model, locator and perception loaded.
_kept: dict[str, PresetRenderer] | None = None


def keep_renderers() -> None:
    """From now on this process keeps one renderer per settings (:func:`renderer_for`)."""
    global _kept
    if _kept is None:
        _kept = {}


def renderer_for(settings: Settings) -> PresetRenderer:
    """The renderer of ``settings``: a new one, or the kept one in a warm worker."""
    if _kept is None:
        return PresetRenderer(settings)
    key = settings.model_dump_json()
    if key not in _kept:
        _kept[key] = PresetRenderer(settings)
    return _kept[key]


def default_locator(preset: str, settings: Settings | None = None) -> Locator | None:
    """What finds a plan's objects in its [base] for ``preset``: a :class:`Locator` over the
    grounding encoder the preset's capabilities name (loaded on first use); None for presets
    without one, whose edits without a place apply to the whole image."""
    from anypix.models.registry import capabilities

    can = capabilities(preset)
    if can.locator_encoder is None:
        return None
    from anypix.tools.locate import Locator

    name = can.locator_encoder

    def load() -> Encoder:  # the encoders module imports torch: only an edit that locates pays it
        from anypix.models.encoders import load_encoder

        return load_encoder(name, settings)

    return Locator(load_encoder=load, words=can.locator_words)


def default_perception(preset: str, settings: Settings | None = None) -> Perception | None:
    """What ``preset``'s outputs are checked with: the perception its family registers as its
    verifier (models load on first use); None for presets without one."""
    from anypix.config import load_settings
    from anypix.models.registry import capabilities

    load = capabilities(preset).verifier
    return None if load is None else load(settings or load_settings())
