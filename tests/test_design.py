"""Rules about the code's shape that a review would otherwise have to re-check by hand."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ltkit"


def _modules():
    mods = {}
    for p in PACKAGE.rglob("*.py"):
        if "configs" in p.relative_to(PACKAGE).parts:  # mmdet config files, not modules
            continue
        parts = p.relative_to(PACKAGE.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return mods


def import_graph():
    """ltkit module -> the ltkit modules it imports, at module level or inside functions."""
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:  # `from . import plots` imports the module ltkit.plots
                    sub = f"{target}.{alias.name}"
                    targets.add(sub if sub in mods else target)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        graph[name] = {t for t in targets if t in mods and t != name}
    return graph


def cycles(graph):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_function_level_imports_and_cycles():
    graph = import_graph()
    assert "ltkit.plots" in graph["ltkit.reports"] and "ltkit.results" in graph["ltkit.plots"]
    assert "ltkit.models" in graph["ltkit.config"]  # an import inside RunConfig._validate
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(import_graph()) == []


@pytest.mark.parametrize("module", ["ltkit.config", "ltkit.schema"])
def test_the_schemas_import_nothing_from_mmdet(module):
    graph = ast.parse((PACKAGE.parent / (module.replace(".", "/") + ".py")).read_text())
    names = {a.name for n in ast.walk(graph) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(graph) if isinstance(n, ast.ImportFrom)}
    assert not {n for n in names if n.split(".")[0] in ("mmdet", "mmcv")} and "detection" not in str(names)
