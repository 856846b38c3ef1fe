"""Layers point one way: front ends -> studio -> agent -> tools -> models -> plan / records.

Read from the source (every import statement, those inside functions too: a lazy import is still
an arrow), so an arrow the wrong way fails here before anyone runs it. Imports under
``if TYPE_CHECKING:`` are annotations only and are not arrows.
"""

from __future__ import annotations

import ast
from pathlib import Path

import anypix

ROOT = Path(anypix.__file__).parent
# Lower rank = lower layer; a module may import its own layer and the ones below.
BASE, MODELS, TOOLS, AGENT, STUDIO, FRONT = range(6)
LAYERS: dict[str, int] = {
    # the plan, records, errors and what every layer reads
    "anypix": BASE,  # the package itself (its __init__ is imported by every module)
    "anypix.plan": BASE, "anypix.plan_tokens": BASE, "anypix.records": BASE,
    "anypix.errors": BASE, "anypix.lexicon": BASE, "anypix.plugins": BASE, "anypix.media": BASE,
    "anypix.prompts": BASE,
    # models, settings and storage
    "anypix.models": MODELS, "anypix.config": MODELS, "anypix.memory": MODELS,
    "anypix.tools": TOOLS,
    "anypix.agent": AGENT,
    # the one front-end API
    "anypix.studio": STUDIO, "anypix.knobs": STUDIO,
    # front ends
    "anypix.cli": FRONT, "anypix.chat": FRONT, "anypix.demo": FRONT, "anypix.console": FRONT,
    "anypix.commands": FRONT, "anypix.report": FRONT, "anypix.__main__": FRONT,
    "anypix.tui": FRONT, "anypix.api": FRONT, "anypix.script": FRONT, "anypix.batch": FRONT,
}  # fmt: skip
NAMES = {BASE: "plan/records", MODELS: "models", TOOLS: "tools", AGENT: "agent",
         STUDIO: "studio", FRONT: "front ends"}  # fmt: skip
UI_LIBRARIES = ("textual", "typer", "mcp", "uvicorn", "starlette")


def layer_of(module: str) -> int | None:
    """The layer of ``module``: its longest listed prefix."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        rank = LAYERS.get(".".join(parts[:end]))
        if rank is not None:
            return rank
    return None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    skipped = {id(n) for block in ast.walk(tree) if _type_checking_block(block)
               for n in ast.walk(block)}  # fmt: skip
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                module = module_name(path)
                package = module if path.name == "__init__.py" else module.rpartition(".")[0]
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def _modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_every_module_has_a_layer() -> None:
    unplaced = [module_name(p) for p in _modules() if layer_of(module_name(p)) is None]
    assert unplaced == [], "add these modules to LAYERS in tests/test_layers.py"


def test_no_module_imports_from_a_higher_layer() -> None:
    wrong = []
    for path in _modules():
        module = module_name(path)
        own = layer_of(module)
        assert own is not None
        for line, imported in imports(path):
            if not imported.startswith("anypix"):
                continue
            target = layer_of(imported)
            if target is not None and target > own:
                wrong.append(f"{module}:{line} ({NAMES[own]}) imports {imported} ({NAMES[target]})")
    assert wrong == []


def test_the_core_imports_no_ui_or_server_library() -> None:
    wrong = []
    for path in _modules():
        module = module_name(path)
        if (layer_of(module) or 0) > AGENT:
            continue
        for line, imported in imports(path):
            if imported.split(".")[0] in UI_LIBRARIES:
                wrong.append(f"{module}:{line} imports {imported}")
    assert wrong == []


def test_the_checker_sees_lazy_imports_and_skips_annotations(tmp_path: Path) -> None:
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from anypix.studio import Studio\n"
        "def f():\n    from anypix.cli import main\n    import textual.app\n"
    )
    assert [name for _, name in imports(source)] == ["typing", "anypix.cli", "textual.app"]


# One module in two files: EditPlan.tokens() reads its token form lazily from plan_tokens, which
# builds EditPlans.
ONE_MODULE = {frozenset({"anypix.plan", "anypix.plan_tokens"})}


def _graph() -> dict[str, set[str]]:
    """module -> the anypix modules it imports (lazy imports included)."""
    paths = {module_name(p): p for p in _modules()}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        graph[module] = set()
        for _, imported in imports(path):
            parts = imported.split(".")
            known = [".".join(parts[:end]) for end in range(len(parts), 0, -1)]
            target = next((name for name in known if name in paths), None)
            if target is not None and target not in (module, "anypix"):
                graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Groups of modules that import each other, directly or round a loop (Tarjan's SCCs)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    allowed = ONE_MODULE
    assert [sorted(c) for c in cycles(_graph()) if frozenset(c) not in allowed] == []


def test_the_cycle_finder_finds_a_loop_through_three_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [{"a", "b", "c"}]
