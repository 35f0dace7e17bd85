"""Static layering checks over rlvr/ and verifiers/, read with `ast` (nothing is imported).

- No import cycle between modules, counting imports inside functions and under TYPE_CHECKING: a cycle
  hidden in a function is still two modules that cannot be read, tested or moved apart.
- verifiers/ never imports rlvr: it is a package of its own that rlvr builds on.
- The leaves stay leaves: rlvr.algorithms and rlvr.data import nothing from the trainer, rollout, learner,
  recipes or a command-line module.
- No function in rlvr/ is longer than 80 lines (``end_lineno - lineno + 1`` of the def).

An arrow goes to the module an import names (``from a.b import c`` names ``a.b.c`` when that is a module,
else ``a.b``); the parent packages Python also initialises are not counted, so a package ``__init__``
that re-exports its submodules is not a cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("rlvr", "verifiers")
MAX_FUNCTION_LINES = 80
LEAVES = ("rlvr.algorithms", "rlvr.data")
ABOVE_LEAVES = ("rlvr.trainer", "rlvr.rollout", "rlvr.learner", "rlvr.recipes")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for top in PACKAGES for p in sorted((REPO / top).rglob("*.py"))
            if "__pycache__" not in p.parts}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _is_cli(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last in ("cli", "train_app", "commands") or last.endswith("_cli")


def _imported_names(module: str, path: Path, tree: ast.AST) -> list[tuple[str, int]]:
    """Every module name an import statement anywhere in the file asks for, with its line."""
    is_package = path.name == "__init__.py"
    names: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names += [(f"{stem}.{alias.name}", node.lineno) for alias in node.names]
    return names


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is one of our modules (``a.b.c`` where c is a function: ``a.b``)."""
    parts = name.split(".")
    return next((".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in modules), None)


def _graph() -> dict[str, dict[str, int]]:
    """module -> {project module it imports: first line}."""
    sources = _sources()
    graph: dict[str, dict[str, int]] = {}
    for module, path in sources.items():
        edges: dict[str, int] = {}
        for name, line in _imported_names(module, path, ast.parse(path.read_text(), str(path))):
            target = _resolve(name, sources)
            if target is not None and target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _describe_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> str:
    inside, sources = set(component), _sources()
    arrows = [f"{a} -> {b} ({sources[a].relative_to(REPO)}:{line})"
              for a in component for b, line in sorted(graph[a].items()) if b in inside]
    return "cycle among " + ", ".join(component) + ":\n    " + "\n    ".join(arrows)


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles = [_describe_cycle(graph, c) for c in _cycles(graph)]
    assert not cycles, "\n".join(cycles)


def test_verifiers_never_import_rlvr() -> None:
    graph = _graph()
    bad = [f"{m} -> {t} (line {line})" for m, edges in graph.items() if _within(m, "verifiers")
           for t, line in edges.items() if _within(t, "rlvr")]
    assert not bad, "verifiers/ must not import rlvr:\n" + "\n".join(bad)


def test_leaves_import_nothing_above_them() -> None:
    graph = _graph()
    bad = [f"{m} -> {t} (line {line})" for m, edges in graph.items() if any(_within(m, leaf) for leaf in LEAVES)
           for t, line in edges.items() if any(_within(t, up) for up in ABOVE_LEAVES) or _is_cli(t)]
    assert not bad, "rlvr.algorithms / rlvr.data import from a higher layer:\n" + "\n".join(bad)


def _long_functions(path: Path) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                lines = child.end_lineno - child.lineno + 1  # type: ignore[operator]
                if lines > MAX_FUNCTION_LINES:
                    found.append((name, lines))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(), str(path)), "")
    return found


def test_no_function_in_rlvr_over_80_lines() -> None:
    offenders = [f"{path.relative_to(REPO)}:{name}:{lines}" for path in sorted((REPO / "rlvr").rglob("*.py"))
                 if "__pycache__" not in path.parts for name, lines in _long_functions(path)]
    assert not offenders, f"functions over {MAX_FUNCTION_LINES} lines (file:function:lines):\n" + "\n".join(offenders)


def test_the_checks_see_what_they_must() -> None:
    # The checks are only as good as the graph: a tiny cycle, a function-local import and a long def must show.
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]
    graph = _graph()
    assert "verifiers.base" in graph["verifiers.pool"]
    assert "rlvr.trainer" in graph["rlvr.train_app"]  # imported inside train(): local imports count
    sources = _sources()
    local = "def f():\n    from rlvr.trainer import Trainer\n    import rlvr.algorithms.losses as L\n"
    names = [_resolve(n, sources) for n, _ in _imported_names("rlvr.x", REPO / "rlvr" / "x.py", ast.parse(local))]
    assert names == ["rlvr.trainer", "rlvr.algorithms.losses"]
    relative = "from ..base import register\nfrom . import spec\n"
    names = [_resolve(n, sources) for n, _ in _imported_names(
        "verifiers.ifeval.v", REPO / "verifiers" / "ifeval" / "v.py", ast.parse(relative))]
    assert names == ["verifiers.base", "verifiers.ifeval.spec"]
