"""The app with the real renderer: the tiny-random preset loaded in the background (the status
line says where it runs), then an edit whose progress is the renderer's own UNet steps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.message import Message
from tui_fakes import fast_planner, finish_turn, wait_until

from anypix.config import load_settings
from anypix.studio import Studio
from anypix.tools.preset import PresetRenderer
from anypix.tui import AnypixApp
from anypix.tui.gallery import AssetCard
from anypix.tui.message_list import TurnMessage
from anypix.tui.messages import StepProgress
from anypix.tui.status_line import StatusLine

LOAD_TIMEOUT_S = 180.0  # a shared CPU can take a minute to build the preset


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """The tiny UNet is slower on two threads than on one when the CPU is shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow  # ~30 s on a shared 2-core CPU, mostly loading the preset
async def test_an_edit_with_the_tiny_random_model(tmp_path: Path, one_torch_thread: None) -> None:
    settings = load_settings(model="tiny-random", device="cpu", llm="fast")
    renderer = PresetRenderer(settings)
    seen: list[Message] = []
    with Studio(tmp_path / "data", planner=fast_planner(), renderer=renderer) as studio:
        app = AnypixApp(studio, "tiny", settings=settings, image_kind="halfcell")
        async with app.run_test(size=(140, 42), message_hook=seen.append) as pilot:
            status = app.query_one(StatusLine)
            assert status.status.device == "loading…"
            loaded = lambda: status.status.device == "cpu"  # noqa: E731
            await wait_until(pilot, loaded, "the model to load", timeout_s=LOAD_TIMEOUT_S)

            await finish_turn(pilot, "a red ball on the left and a blue box on the right")

            assert app.query(TurnMessage).last().status == "ok"
            steps = [(m.done, m.total) for m in seen if isinstance(m, StepProgress)]
            assert steps == [(done, 20) for done in range(1, 21)]  # the preset's 20 steps
            (last,) = [card for card in app.query(AssetCard) if card.asset.name == "last"]
            assert last.query_one(".preview").image.size == (64, 64)  # type: ignore[attr-defined]
            (turn,) = studio.session("tiny").history()
            stored = studio.session("tiny").show(turn.seq)
            assert stored.renders[0].provenance["preset"] == "tiny-random"
            assert "[blob] ball" in stored.renders[0].provenance["plan_tokens"]
