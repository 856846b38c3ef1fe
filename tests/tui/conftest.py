"""Fixtures for the terminal UI tests (the fakes and Pilot helpers are in tui_fakes.py)."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from tui_fakes import SteppingRenderer, fast_planner

from anypix.config import Settings, load_settings
from anypix.studio import Studio


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run ``async def`` tests here with asyncio.run (the project has no asyncio plugin)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True


@pytest.fixture
def settings() -> Settings:
    return load_settings(llm="fast", device="cpu", model="tiny-random")


@pytest.fixture
def renderer() -> SteppingRenderer:
    return SteppingRenderer(steps=5)


@pytest.fixture
def studio(tmp_path: Path, renderer: SteppingRenderer):  # type: ignore[no-untyped-def]
    with Studio(tmp_path / "data", planner=fast_planner(), renderer=renderer) as opened:
        yield opened


@pytest.fixture
def pictures(tmp_path: Path) -> dict[str, Path]:
    """A photo (sky over grass) and a dog (a brown disc on white), small PNGs."""
    folder = tmp_path / "pictures"
    folder.mkdir()
    photo = Image.new("RGB", (64, 48), (120, 170, 230))
    ImageDraw.Draw(photo).rectangle((0, 30, 63, 47), fill=(60, 140, 60))
    dog = Image.new("RGB", (32, 32), (255, 255, 255))
    ImageDraw.Draw(dog).ellipse((4, 4, 27, 27), fill=(140, 90, 40))
    paths = {"photo": folder / "photo.png", "dog": folder / "dog.png"}
    photo.save(paths["photo"])
    dog.save(paths["dog"])
    return paths
