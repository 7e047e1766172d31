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


def _runtime_nodes(tree):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (imports for annotations only)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return [n for n in ast.walk(tree) if id(n) not in skip]


def import_graph():
    """ltkit module -> the ltkit modules it imports, at module level or inside functions (not the
    annotation-only imports under ``if TYPE_CHECKING:``, which never run)."""
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        targets = set()
        for node in _runtime_nodes(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:  # `from . import plots` imports the module ltkit.report.figures
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
    assert (
        "ltkit.report.figures" in graph["ltkit.report.writers"] and "ltkit.report.load" in graph["ltkit.report.figures"]
    )
    assert "ltkit.models" in graph["ltkit.config.classification"]  # an import inside RunConfig._validate
    assert "ltkit.config" not in graph["ltkit.train"]  # its RunConfig import is for annotations only
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(import_graph()) == []


@pytest.mark.parametrize(
    "module",
    ["ltkit.config", "ltkit.config.schema", "ltkit.config.classification", "ltkit.config.presets", "ltkit.config.lvis"],
)
def test_the_schemas_import_nothing_from_mmdet(module):
    graph = ast.parse(_modules()[module].read_text())
    names = {a.name for n in ast.walk(graph) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(graph) if isinstance(n, ast.ImportFrom)}
    assert not {n for n in names if n.split(".")[0] in ("mmdet", "mmcv")} and "detection" not in str(names)


#: the layers, from the top: a module may import its own layer's modules and those below, never above.
#: A module not named here belongs to the method (the bottom).
LAYERS = [
    (
        "cli and notebooks",
        (
            "ltkit",
            "ltkit.__main__",
            "ltkit.cli",
            "ltkit.quickstart",
            "ltkit.batch.cli",
            "ltkit.batch.__main__",
            "ltkit.detection.__main__",
        ),
    ),
    ("batch and report", ("ltkit.batch", "ltkit.report")),
    ("runs", ("ltkit.runs", "ltkit.detection.run")),
    ("config", ("ltkit.config", "ltkit.detection", "ltkit.detection.evaluation")),
]


def layer(module):
    """0 for the method, up to len(LAYERS) for the top; the longest listed prefix decides."""
    best, rank = "", 0
    for i, (_, names) in enumerate(LAYERS):
        for name in names:
            exact = name in ("ltkit", "ltkit.detection")  # packages whose modules live in other layers
            hit = module == name if exact else module == name or module.startswith(name + ".")
            if hit and len(name) > len(best):
                best, rank = name, len(LAYERS) - i
    return rank


def test_the_layer_checker_ranks_as_drawn():
    assert [
        layer(m)
        for m in (
            "ltkit.cli",
            "ltkit.batch.run",
            "ltkit.report.tables",
            "ltkit.runs.runner",
            "ltkit.config.schema",
            "ltkit.train",
            "ltkit.data.cifar",
            "ltkit.detection.head",
        )
    ] == [4, 3, 3, 2, 1, 0, 0, 0]


def test_every_import_goes_down_the_layers():
    """CLI / notebooks -> batch / report -> runs -> config -> method: nothing imports upwards."""
    graph = import_graph()
    upward = sorted(
        f"{m} ({layer(m)}) imports {t} ({layer(t)})" for m, ts in graph.items() for t in ts if layer(t) > layer(m)
    )
    assert upward == []
