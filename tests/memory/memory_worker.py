"""A separate process that makes turns, for the SIGKILL and two-writer tests.

    python memory_worker.py DATA_DIR SESSION_ID TURNS [hang-in-render | hang-in-commit]

Prints "committed N" after each turn; with a hang mode it then starts one more turn and stops
for good in the middle of it (printing "hanging"), waiting to be killed."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from memory_fakes import SwitchableRenderer, fake_planner

from anypix.memory import turns
from anypix.studio import Studio


def hang(*_: object, **__: object) -> None:
    print("hanging", flush=True)
    time.sleep(600)


class HangingRenderer(SwitchableRenderer):
    """Renders until ``hang_now`` is set, then stops for good in the middle of a render."""

    hang_now = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.hang_now:
            hang()
        return super().__call__(*args, **kwargs)


def main() -> None:
    data_dir, session_id, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    mode = sys.argv[4] if len(sys.argv) > 4 else ""
    renderer = HangingRenderer()
    with Studio(data_dir, planner=fake_planner, renderer=renderer, locator=None) as studio:
        session = studio.session(session_id)
        for k in range(count):
            turn = session.edit(f"p{os.getpid()} turn {k}")
            print(f"committed {turn.summary.seq}", flush=True)
        if mode == "hang-in-render":
            renderer.hang_now = True
        elif mode == "hang-in-commit":
            original = turns._insert_steps_and_renders

            def stuck(*args: object) -> list[int]:
                ids = original(*args)  # rows written, transaction open, write lock held
                hang()
                return ids

            turns._insert_steps_and_renders = stuck
        if mode:
            session.edit("the turn that never finishes")


if __name__ == "__main__":
    main()
