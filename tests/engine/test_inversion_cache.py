"""Cached inversions: a hit is bit-identical to a fresh inversion, anything the latents depend on
changes the key, damaged files are ignored and rewritten, and a fresh cache over the same dir (a
later process) reuses what an earlier one stored."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import make_plan

SIZE = (64, 64)
STEPS = 3


def _same(a: Any, b: Any) -> bool:
    import torch

    return a.timesteps == b.timesteps and all(
        torch.equal(x, y) for x, y in zip(a.latents, b.latents, strict=True)
    )


def _fresh(engine: Any, image: Any, prompt: str = "a disc", steps: int = STEPS) -> Any:
    import torch

    from anypix.tools.invert import invert_image

    with torch.inference_mode():
        return invert_image(engine, image, size=SIZE, steps=steps, prompt=prompt)


def _cached(cache: Any, engine: Any, image: Any, prompt: str = "a disc", steps: int = STEPS,
            size: tuple[int, int] = SIZE) -> Any:  # fmt: skip
    import torch

    with torch.inference_mode():
        return cache.invert(engine, image, size=size, steps=steps, prompt=prompt)


def test_a_hit_is_bit_identical_to_a_fresh_inversion(engine: Any, base_image: Any,
                                                     tmp_path: Path) -> None:  # fmt: skip
    from anypix.tools.inversion_cache import InversionCache

    cache = InversionCache(tmp_path)
    first = _cached(cache, engine, base_image)
    again = _cached(cache, engine, base_image)
    assert (cache.hits, cache.misses) == (1, 1)
    fresh = _fresh(engine, base_image)
    assert _same(first, fresh) and _same(again, fresh)


def test_a_fresh_cache_over_the_same_dir_reuses_the_stored_inversion(
    engine: Any, base_image: Any, tmp_path: Path
) -> None:
    from anypix.tools.inversion_cache import InversionCache

    stored = _cached(InversionCache(tmp_path), engine, base_image)
    later = InversionCache(tmp_path)  # what a later process sees: only the files
    reused = _cached(later, engine, base_image)
    assert (later.hits, later.misses) == (1, 0)
    assert _same(reused, stored)


@pytest.mark.parametrize(
    "change",
    ["prompt", "steps", "size", "image", "model"],
)
def test_anything_the_latents_depend_on_misses(
    change: str, engine: Any, base_image: Any, style_image: Any, tmp_path: Path
) -> None:
    import torch

    from anypix.tools.inversion_cache import InversionCache

    cache = InversionCache(tmp_path)
    _cached(cache, engine, base_image)
    model, image, prompt, steps, size = engine, base_image, "a disc", STEPS, SIZE
    if change == "prompt":
        prompt = "a square"
    elif change == "steps":
        steps = STEPS + 1
    elif change == "size":
        size = (128, 64)
    elif change == "image":
        image = style_image
    else:
        unet = copy.deepcopy(engine.unet)
        with torch.no_grad():
            next(unet.parameters()).add_(1e-3)
        model = dataclasses.replace(engine, unet=unet)
    _cached(cache, model, image, prompt=prompt, steps=steps, size=size)
    assert (cache.hits, cache.misses) == (0, 2)


def test_guidance_and_schedule_are_part_of_the_key(engine: Any) -> None:
    from anypix.tools.inversion_cache import inversion_key

    key = inversion_key(engine, "d" * 64, size=SIZE, steps=STEPS, prompt="p")
    assert key != inversion_key(engine, "d" * 64, size=SIZE, steps=STEPS, prompt="p", guidance=2.0)
    scheduler = type(engine.scheduler).from_config(engine.scheduler.config, beta_end=0.02)
    other = dataclasses.replace(engine, scheduler=scheduler)
    assert key != inversion_key(other, "d" * 64, size=SIZE, steps=STEPS, prompt="p")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign", "empty"])
def test_a_damaged_file_is_ignored_and_rewritten(
    damage: str, engine: Any, base_image: Any, style_image: Any, tmp_path: Path
) -> None:
    from anypix.tools.inversion_cache import InversionCache

    _cached(InversionCache(tmp_path), engine, base_image)
    (path,) = tmp_path.glob("*.pt")
    if damage == "garbage":
        path.write_bytes(b"not a torch file")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # another inversion's record under this key's name
        other_dir = tmp_path / "other"
        _cached(InversionCache(other_dir), engine, style_image)
        (other,) = other_dir.glob("*.pt")
        path.write_bytes(other.read_bytes())
    later = InversionCache(tmp_path)
    result = _cached(later, engine, base_image)
    assert (later.hits, later.misses) == (0, 1)
    assert _same(result, _fresh(engine, base_image))
    rewritten = InversionCache(tmp_path)
    assert _same(_cached(rewritten, engine, base_image), result)
    assert rewritten.hits == 1


def test_an_unwritable_dir_keeps_the_memory_level(engine: Any, base_image: Any,
                                                  tmp_path: Path) -> None:  # fmt: skip
    from anypix.tools.inversion_cache import InversionCache

    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("in the way")
    cache = InversionCache(not_a_dir)
    first = _cached(cache, engine, base_image)
    assert _same(_cached(cache, engine, base_image), first)
    assert (cache.hits, cache.misses) == (1, 1)
    assert not_a_dir.read_text() == "in the way"


def test_changing_a_returned_trajectory_leaves_the_cache_alone(
    engine: Any, base_image: Any
) -> None:
    import torch

    from anypix.tools.inversion_cache import InversionCache

    cache = InversionCache(None)
    first = _cached(cache, engine, base_image)
    with torch.inference_mode():
        first.latents[-1].add_(1.0)
    assert _same(_cached(cache, engine, base_image), _fresh(engine, base_image))


def test_the_memory_level_drops_the_least_recently_used(
    engine: Any, base_image: Any, style_image: Any
) -> None:
    from anypix.tools.inversion_cache import InversionCache

    one = _fresh(engine, base_image)
    size = sum(x.numel() * x.element_size() for x in one.latents)
    cache = InversionCache(None, memory_bytes=size)  # room for one
    _cached(cache, engine, base_image)
    _cached(cache, engine, style_image)
    _cached(cache, engine, base_image)
    assert (cache.hits, cache.misses) == (0, 3)
    _cached(cache, engine, base_image)
    assert cache.hits == 1


def test_a_second_edit_of_the_same_base_renders_the_same_pixels_from_the_cache(
    engine: Any, base_image: Any, _isolated_settings: Path
) -> None:
    import numpy as np

    from anypix.tools.inversion_cache import active_cache, using
    from anypix.tools.render import render

    plan = make_plan("[base] photo", "[gen] a photo of a fox", "[op] variation",
                     f"[knobs] steps={STEPS} guidance=2 seed=3 alpha=0.8 size=64x64")  # fmt: skip
    counted: list[list[int]] = []

    def run() -> Any:
        seen: list[int] = []
        result = render(plan, {"photo": base_image}, engine, progress=lambda d, t: seen.append(d))
        counted.append(seen)
        return np.asarray(result.images[0])

    cache = active_cache()
    assert cache is not None and cache.directory is not None
    assert cache.directory.is_relative_to(_isolated_settings)
    first, second = run(), run()
    assert (cache.hits, cache.misses) == (1, 1)
    assert np.array_equal(first, second)
    assert counted[0] == counted[1] == list(range(1, 2 * STEPS + 1))  # progress counts the same
    with using(None):
        uncached = run()
    assert (cache.hits, cache.misses) == (1, 1) and np.array_equal(first, uncached)


def test_a_cancel_during_a_cached_inversion_still_cancels(engine: Any, base_image: Any) -> None:
    from anypix.errors import CancelledError
    from anypix.tools.inversion_cache import InversionCache, using
    from anypix.tools.render import render

    plan = make_plan("[base] photo", "[gen] a fox", "[op] variation",
                     f"[knobs] steps={STEPS} guidance=1 seed=3 alpha=0.8 size=64x64")  # fmt: skip
    with using(InversionCache(None)) as cache:
        render(plan, {"photo": base_image}, engine)
        polls: list[int] = []
        with pytest.raises(CancelledError, match="after 1 of"):
            render(plan, {"photo": base_image}, engine,
                   cancel=lambda: polls.append(1) or len(polls) > 1)  # fmt: skip
    assert cache is not None and cache.hits == 1


def test_a_studio_keeps_its_inversions_in_its_own_data_dir(
    engine: Any, base_image: Any, tmp_path: Path, _isolated_settings: Path
) -> None:
    """`--data-dir X` / Studio(data_dir=X): the inversion cache lives under X, not under the
    configured data dir (which the settings fixture points elsewhere)."""
    from anypix.studio import Studio
    from anypix.tools.inversion_cache import active_cache
    from anypix.tools.render import render

    plan = make_plan("[base] photo", "[gen] a photo of a fox", "[op] variation",
                     f"[knobs] steps={STEPS} guidance=2 seed=3 alpha=0.8 size=64x64")  # fmt: skip
    used: list[Path | None] = []

    def renderer(plan_: Any, assets: Any, **callbacks: Any) -> Any:
        cache = active_cache()
        used.append(cache.directory if cache is not None else None)
        return render(plan_, assets, engine, **callbacks)

    image_path = tmp_path / "photo.png"
    base_image.save(image_path)
    data_dir = tmp_path / "studio-data"
    assert not data_dir.is_relative_to(_isolated_settings)
    with Studio(data_dir, planner=lambda _text, _assets: plan, renderer=renderer,
                locator=None) as studio:  # fmt: skip
        studio.session("fox").edit("a variation of [photo]", {"photo": image_path})
    assert used == [data_dir / "cache" / "inversions"]
    assert list((data_dir / "cache" / "inversions").iterdir())  # stored there, for a later process
