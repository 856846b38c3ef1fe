"""DDIM inversions done once: an edit of the same [base] (or style reference) reuses them.

An inversion depends only on the image's pixels, the model (its weight hash, dtype, device and
noise schedule), the prompt it is inverted under, the steps, the size, the guidance and the
method (plain DDIM or fixed-point refined, :class:`~anypix.tools.invert.InversionMethod`). The key
is a sha256 over all of them (and torch's version, since kernels may change the last bit), so a
hit returns exactly the latents a fresh inversion would (bit-identical on the same machine).

Two levels: a bounded in-memory LRU per process, and ``<data dir>/cache/inversions/<key>.pt`` on
disk so a later process reuses it. A file that cannot be read, or that does not match its key, is
a miss and is rewritten; a data dir that cannot be written only loses the disk level. The cache
is an optimisation: nothing it does can fail a render.

:func:`active_cache` is the cache the render uses (one per data dir, read from the settings);
:func:`using` swaps it for a block (``using(None)`` turns caching off, as the benchmark of a fresh
inversion needs).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anypix.models.diffusion import Components
from anypix.tools.invert import (
    DEFAULT_INVERSION,
    InversionMethod,
    InversionTrajectory,
    invert_image,
)

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["FORMAT", "InversionCache", "active_cache", "cache_for", "image_digest", "inversion_key", "using"]

FORMAT = 2  # bump when the inversion's algorithm or the file layout changes
MEMORY_BYTES = 512 * 2**20  # SDXL at 1024^2 and 30 steps is ~8 MB per inversion
DISK_BYTES = 2 * 2**30
# What a damaged or foreign file can raise from torch.load (weights_only) or from our checks.
_UNREADABLE = (OSError, EOFError, RuntimeError, ValueError, TypeError, KeyError, IndexError,
               AttributeError, pickle.UnpicklingError, zipfile.BadZipFile)  # fmt: skip

StepCallback = Callable[[int, int], None]


def image_digest(image: Image.Image) -> str:
    """sha256 of an image's mode, size and pixels (what the VAE sees, however it was stored)."""
    return hashlib.sha256(f"{image.mode}:{image.size}:".encode() + image.tobytes()).hexdigest()


def inversion_key(components: Components, digest: str, *, size: tuple[int, int], steps: int,
                  prompt: str, guidance: float = 1.0,
                  method: InversionMethod = DEFAULT_INVERSION) -> str:  # fmt: skip
    """The content key of one inversion: everything its latents depend on."""
    import torch

    parts = {
        "format": FORMAT,
        "torch": torch.__version__,
        "image": digest,
        "weights": components.weight_hash,
        "dtype": str(components.dtype),
        "vae_dtype": str(components.vae.dtype),
        "device": str(components.device),
        "schedule": dict(components.scheduler.config),
        "options": {k: str(v) for k, v in components.options.items()},
        "size": list(size),
        "steps": steps,
        "prompt": prompt,
        "guidance": guidance,
        "method": method.name,
    }
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class InversionCache:
    """Inversions by content key: in memory (LRU, ``memory_bytes``) and under ``directory``
    (None: memory only). Thread-safe; counts its ``hits`` and ``misses``."""

    def __init__(self, directory: Path | None, *, memory_bytes: int = MEMORY_BYTES,
                 disk_bytes: int = DISK_BYTES) -> None:  # fmt: skip
        self.directory = directory
        self.memory_bytes, self.disk_bytes = memory_bytes, disk_bytes
        self.hits = self.misses = 0
        self._memory: OrderedDict[str, InversionTrajectory] = OrderedDict()
        self._lock = threading.Lock()

    def invert(
        self,
        components: Components,
        image: Image.Image,
        *,
        size: tuple[int, int],
        steps: int,
        prompt: str = "",
        method: InversionMethod = DEFAULT_INVERSION,
        before_step: StepCallback | None = None,
        after_step: StepCallback | None = None,
    ) -> InversionTrajectory:
        """:func:`~anypix.tools.invert.invert_image`, done once per key. On a hit the step
        callbacks still run once per step, so cancellation and progress count the same."""
        key = inversion_key(components, image_digest(image), size=size, steps=steps,
                            prompt=prompt, method=method)  # fmt: skip
        found = self.get(key, steps, components.device)
        if found is None:
            self.misses += 1
            found = invert_image(components, image, size=size, steps=steps, prompt=prompt,
                                 method=method, before_step=before_step,
                                 after_step=after_step)  # fmt: skip
            self.put(key, found)
            return _copy(found)
        self.hits += 1
        for k in range(steps):
            if before_step is not None:
                before_step(k, steps)
            if after_step is not None:
                after_step(k, steps)
        return found

    def get(self, key: str, steps: int, device: Any) -> InversionTrajectory | None:
        """A copy of the cached trajectory (callers may change it), or None."""
        with self._lock:
            held = self._memory.get(key)
            if held is not None:
                self._memory.move_to_end(key)
                return _copy(held)
        loaded = self._read(key, steps, device)
        if loaded is not None:
            self._remember(key, loaded)
            return _copy(loaded)
        return None

    def put(self, key: str, trajectory: InversionTrajectory) -> None:
        self._remember(key, _copy(trajectory))
        self._write(key, trajectory)

    # -- memory ---------------------------------------------------------------------------------

    def _remember(self, key: str, trajectory: InversionTrajectory) -> None:
        with self._lock:
            self._memory[key] = trajectory
            self._memory.move_to_end(key)
            while len(self._memory) > 1 and _held_bytes(self._memory) > self.memory_bytes:
                self._memory.popitem(last=False)

    # -- disk -----------------------------------------------------------------------------------

    def _path(self, key: str) -> Path | None:
        return None if self.directory is None else self.directory / f"{key}.pt"

    def _read(self, key: str, steps: int, device: Any) -> InversionTrajectory | None:
        import torch

        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            record = torch.load(path, map_location="cpu", weights_only=True)
            latents, timesteps = record["latents"], [int(t) for t in record["timesteps"]]
            if record["key"] != key or len(timesteps) != steps or latents.shape[0] != steps + 1:
                return None  # a foreign or truncated record: rewritten by the next put
            os.utime(path)  # pruning drops the least recently used first
        except _UNREADABLE:
            return None
        return InversionTrajectory(latents=[x.to(device) for x in latents.unbind(0)],
                                   timesteps=timesteps)  # fmt: skip

    def _write(self, key: str, trajectory: InversionTrajectory) -> None:
        import torch

        path = self._path(key)
        if path is None:
            return
        record = {"key": key, "timesteps": list(trajectory.timesteps),
                  "latents": torch.stack([x.detach().cpu() for x in trajectory.latents])}  # fmt: skip
        partial = path.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(record, partial)
            os.replace(partial, path)  # readers never see half a file
            self._prune()
        except OSError:  # read-only or full data dir: the memory level still works
            with suppress(OSError):
                partial.unlink(missing_ok=True)

    def _prune(self) -> None:
        assert self.directory is not None
        files = [(p.stat().st_mtime, p.stat().st_size, p) for p in self.directory.glob("*.pt")]
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.disk_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size


def _copy(trajectory: InversionTrajectory) -> InversionTrajectory:
    return InversionTrajectory(latents=[x.clone() for x in trajectory.latents],
                               timesteps=list(trajectory.timesteps))  # fmt: skip


def _held_bytes(memory: OrderedDict[str, InversionTrajectory]) -> int:
    return sum(x.numel() * x.element_size() for t in memory.values() for x in t.latents)


# -- the cache the render uses -------------------------------------------------------------------

_DEFAULT = "settings"
_chosen: ContextVar[InversionCache | str | None] = ContextVar("inversion_cache", default=_DEFAULT)
_shared: dict[Path, InversionCache] = {}
_shared_lock = threading.Lock()


def active_cache() -> InversionCache | None:
    """The cache renders use now: the one :func:`using` chose, else the one of the settings' data
    dir (one per dir and process), or None when caching is off."""
    chosen = _chosen.get()
    if not isinstance(chosen, str):
        return chosen
    from anypix.config import load_settings
    from anypix.errors import ConfigError

    try:
        data_dir = load_settings().data_dir
    except ConfigError:  # settings that cannot be read: a render must not fail for its cache
        return None
    return cache_for(data_dir)


def cache_for(data_dir: Path) -> InversionCache:
    """The one cache (per process) of the data dir ``data_dir``: its ``cache/inversions``."""
    directory = data_dir / "cache" / "inversions"
    with _shared_lock:
        return _shared.setdefault(directory, InversionCache(directory))


@contextmanager
def using(cache: InversionCache | None) -> Iterator[InversionCache | None]:
    """Renders in this block (this thread or task) use ``cache``; None turns caching off."""
    token = _chosen.set(cache)
    try:
        yield cache
    finally:
        _chosen.reset(token)
