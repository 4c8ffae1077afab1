"""The package's layers import one way, with no circles (docs/architecture.md).

Every `import` in `irc/` counts, also those inside functions: a function-level
import that hides a cycle is still a cycle.  The oracle is the layer order
written below, which is the one docs/architecture.md draws.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "irc"

#: bottom to top; a module may import its own layer and the layers before it.
#: `errors` and `runtime` sit beside the compiler layers: everything may use them, they use nothing above.
LAYERS = (
    "errors",
    "runtime",
    "ir",
    "transforms",
    "conversions",
    "interpreters",
    "targets",
    "compiler",
    "frontend",
    "utils",
    "nn",
    "optim",
    "amp",
    "autograd",
    "distributed",
    "driver",
    "testing",
    "__main__",
)


def _modules() -> dict[str, pathlib.Path]:
    mods = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = ("irc", *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _imports(module: str, path: pathlib.Path) -> dict[str, int]:
    """irc modules `module` imports -> the line of the (first) import."""
    found: dict[str, int] = {}
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:  # `from irc.x import y` imports irc.x.y when y is a module
                sub = f"{target}.{alias.name}"
                name = sub if sub in MODULES else target
                if name.startswith("irc"):
                    found.setdefault(name, node.lineno)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("irc"):
                    found.setdefault(alias.name, node.lineno)
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _layer(module: str) -> int | None:
    """The layer index of an irc module; None for the `irc` package itself (a lazy facade, see irc/__init__.py)."""
    parts = module.split(".")
    if len(parts) == 1:
        return None
    return LAYERS.index(parts[1])


def test_every_module_has_a_layer():
    unknown = sorted({m.split(".")[1] for m in MODULES if "." in m} - set(LAYERS))
    assert not unknown, f"irc/ folders or modules missing from LAYERS (and docs/architecture.md): {unknown}"


def test_the_irc_package_imports_nothing_statically():
    # `import irc` must stay cheap and cycle-free: it loads the API on first attribute access
    assert GRAPH["irc"] == {}


def test_no_import_runs_up_a_layer():
    upward = []
    for module, imports in GRAPH.items():
        for target, line in imports.items():
            low, high = _layer(module), _layer(target)
            if low is not None and high is not None and high > low:
                upward.append(f"{MODULES[module].relative_to(ROOT.parent)}:{line}: {module} imports {target}")
    assert not upward, "imports that run up a layer:\n" + "\n".join(upward)


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), plus self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH.get(v, {}):
            if w not in MODULES:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in GRAPH.get(v, {}):
                found.append(sorted(component))

    for module in MODULES:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles():
    cycles = _cycles()
    assert not cycles, "import cycles (function-level imports count):\n" + "\n".join(map(str, cycles))


@pytest.mark.parametrize(
    "edges",
    [
        {"irc.a": {"irc.b": 1}, "irc.b": {"irc.a": 2}},
        {"irc.a": {"irc.b": 1}, "irc.b": {"irc.c": 1}, "irc.c": {"irc.a": 1}},
    ],
)
def test_the_cycle_finder_finds_cycles(monkeypatch, edges):
    monkeypatch.setitem(globals(), "GRAPH", edges)
    monkeypatch.setitem(globals(), "MODULES", dict.fromkeys(edges, ROOT))
    assert _cycles() == [sorted(edges)]
