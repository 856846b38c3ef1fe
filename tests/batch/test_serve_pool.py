"""The MCP server on a render pool (``anypix serve --workers/--ray``): two agents' edits in their
own sessions render side by side, each call still gets its progress and can be cancelled. The
pool is a fake with two "workers" (threads), so this runs in seconds; the Ray pool behind the
same contract is tested in test_ray.py."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from frontends import StepRenderer, grammar_planner
from mcp import Client
from PIL import Image

from anypix.api import build_server
from anypix.plan import EditPlan
from anypix.records import Render
from anypix.studio import Studio


class TwoWorkers(StepRenderer):
    """A pool-like renderer with two workers: records how many renders overlap; with
    ``meet``, each render waits (up to 20 s) until the other has started too."""

    def __init__(self, meet: bool) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=20) if meet else None
        self.active = self.most = 0
        self.lock = threading.Lock()
        self.locator = None

    def __call__(self, plan: EditPlan, assets: Mapping[str, Any], **callbacks: Any) -> Render:
        import time

        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            if self.barrier is not None:
                self.barrier.wait()  # raises BrokenBarrierError if the other never comes
            time.sleep(0.2)
            return super().__call__(plan, assets, **callbacks)
        finally:
            with self.lock:
                self.active -= 1


def serve(tmp_path: Path, renderer: TwoWorkers, parallel: bool) -> Any:
    data = tmp_path / "data"
    with Studio(data, planner=grammar_planner(), renderer=renderer) as studio:
        for name in ("agent-a", "agent-b"):
            studio.new_session(name).ensure_stored()
    return build_server(lambda: Studio(data, planner=grammar_planner(), renderer=renderer),
                        parallel=parallel)  # fmt: skip


async def two_agents(server: Any, photo: Path) -> tuple[list[Any], dict[str, list[float]]]:
    """Both sessions' edits at once; each call's results and the progress it was sent."""
    results: list[Any] = [None, None]
    progress: dict[str, list[float]] = {"agent-a": [], "agent-b": []}

    async def call(index: int, session: str, client: Client) -> None:
        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress[session].append(done)

        results[index] = await client.call_tool(
            "edit", {"instruction": "remove the cat from [photo]", "session": session,
                     "assets": {"photo": str(photo)}}, progress_callback=on_progress)  # fmt: skip

    async with Client(server) as client, anyio.create_task_group() as group:
        group.start_soon(call, 0, "agent-a", client)
        group.start_soon(call, 1, "agent-b", client)
    return results, progress


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    Image.new("RGB", (16, 16), (200, 40, 40)).save(tmp_path / "photo.png")
    return tmp_path / "photo.png"


@pytest.mark.anyio
async def test_two_agents_sessions_render_side_by_side_with_their_own_progress(
    tmp_path: Path, photo: Path
) -> None:
    renderer = TwoWorkers(meet=True)
    results, progress = await two_agents(serve(tmp_path, renderer, parallel=True), photo)
    assert [r.is_error for r in results] == [False, False], [r.content for r in results]
    assert renderer.most == 2
    assert progress == {"agent-a": [1, 2, 3], "agent-b": [1, 2, 3]}


@pytest.mark.anyio
async def test_without_a_pool_calls_still_run_one_at_a_time(tmp_path: Path, photo: Path) -> None:
    renderer = TwoWorkers(meet=False)
    results, _ = await two_agents(serve(tmp_path, renderer, parallel=False), photo)
    assert [r.is_error for r in results] == [False, False]
    assert renderer.most == 1
