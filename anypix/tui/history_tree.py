"""The session as a tree of turns: each turn under the turn it continued from, so branches sit
side by side. ``●`` marks the current image's turn; the path to it is bold; failed (``✗``) and
cancelled (``⊘``) turns are kept but can never be current. The highlighted turn is where
branch (ctrl+b) continues from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from anypix.console import visible

if TYPE_CHECKING:
    from anypix.memory.history import TurnSummary

STATUS_STYLE = {"ok": "", "failed": "red", "cancelled": "yellow"}
STATUS_MARK = {"ok": "", "failed": " ✗", "cancelled": " ⊘"}
MAX_INSTRUCTION = 24


def turn_label(turn: TurnSummary) -> Text:
    instruction = visible(turn.instruction, newlines=False)
    if len(instruction) > MAX_INSTRUCTION:
        instruction = instruction[: MAX_INSTRUCTION - 1] + "…"
    style = " ".join(filter(None, ["bold" if turn.on_path else "", STATUS_STYLE.get(turn.status)]))
    label = Text()
    label.append("● " if turn.current else "  ", style="bold green")
    label.append(
        f"#{turn.seq} {instruction}{STATUS_MARK.get(turn.status, '')}", style=style or None
    )
    return label


class HistoryTree(Tree[int]):
    """Node data is the turn's seq (the root, "the start", has 0: what branch 0 goes back to)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("start", data=0, id=id)
        self.guide_depth = 2

    def show(self, turns: list[TurnSummary], title: str) -> None:
        self.clear()
        self.root.data = 0
        at_start = not any(turn.current for turn in turns)
        root_label = Text()
        root_label.append("● " if at_start else "  ", style="bold green")
        root_label.append(visible(title, newlines=False), style="bold")
        self.root.set_label(root_label)
        children: dict[int | None, list[TurnSummary]] = {}
        for turn in turns:
            children.setdefault(turn.parent, []).append(turn)
        current: TreeNode[int] = self.root
        # Iterative, so a session thousands of turns deep does not hit the recursion limit.
        pending: list[tuple[TreeNode[int], int | None]] = [(self.root, None)]
        while pending:
            node, parent = pending.pop()
            for turn in children.get(parent, []):
                if turn.seq in children:
                    child = node.add(turn_label(turn), data=turn.seq, expand=True)
                    pending.append((child, turn.seq))
                else:
                    child = node.add_leaf(turn_label(turn), data=turn.seq)
                if turn.current:
                    current = child
        self.root.expand()
        # A node knows its line only once the tree has laid its lines out again.
        self.call_after_refresh(self.move_cursor, current)

    @property
    def highlighted_seq(self) -> int | None:
        """The turn under the cursor (0 for the start), or None when nothing is highlighted."""
        node = self.cursor_node
        return None if node is None else node.data
