"""No import cycle inside `pipelines`, and no module outside the Dagster layer imports from it.

The graph is read from the source with `ast`, not by importing: every `import` and `from … import`
statement counts, wherever it sits (module level, inside a function, under `if TYPE_CHECKING:`), because
a deferred or type-only import still ties the two modules together. Importing `a.b.c` also runs the
packages `a` and `a.b`, so those edges count too. Nothing is excluded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "pipelines"
# The Dagster layer. Only what sits on top of it may import it: itself, the definitions entry point, and
# the programs that run its jobs end to end (the operator command line and the benchmark).
DAGSTER_LAYER = f"{PACKAGE}.defs"
MAY_IMPORT_DAGSTER_LAYER = (
    DAGSTER_LAYER,
    f"{PACKAGE}.definitions",
    f"{PACKAGE}.ops",
    f"{PACKAGE}.cli",
    f"{PACKAGE}.bench",
)


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name → file, for every .py file under root/package."""
    modules: dict[str, Path] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[str]:
    """Every dotted name an import statement in `tree` may load (`from a import b` gives a and a.b)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """module → the modules of `package` it imports (directly, or as a parent package of its target)."""
    modules = module_files(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for target in _imported_names(tree, name, path.name == "__init__.py"):
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                prefix = ".".join(parts[:i])
                if prefix in modules and prefix != name:
                    graph[name].add(prefix)
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_pipelines_has_no_import_cycle() -> None:
    graph = import_graph(ROOT, PACKAGE)
    assert len(graph) > 50  # the walk found the package
    assert cycles(graph) == []


def test_only_the_dagster_layer_imports_from_it() -> None:
    """Library modules (domain, ingest, quality, publish, …) never import upward from pipelines.defs."""
    graph = import_graph(ROOT, PACKAGE)
    upward = sorted(
        (module, target)
        for module, targets in graph.items()
        if not module.startswith(MAY_IMPORT_DAGSTER_LAYER)
        for target in targets
        if target.startswith(DAGSTER_LAYER)
    )
    assert upward == []


def test_the_cycle_check_sees_deferred_type_only_and_relative_imports(tmp_path: Path) -> None:
    """The checks above can fail: a cycle hidden in a function, under TYPE_CHECKING or spelled
    relatively is found."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..c import C\n"
    )
    (pkg / "c.py").write_text("from . import a\n")
    (pkg / "d.py").write_text("import pkg.a\n")  # imports into the cycle, is not part of it
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.c"] == {"pkg", "pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


# Imported only by the steps that use them, never by loading the definitions: every run (and every
# command that loads the definitions) would pay their import before Dagster's RUN_START otherwise.
# great_expectations brings pandas, scipy.stats, altair and ~1 s of CPU of its own; the GX check
# imports it only when a new row holds a value no earlier pass has seen (pipelines/ingest/gx_check.py).
NOT_AT_DEFINITIONS = ("great_expectations", "pandas", "papermill", "openpyxl")


def test_loading_the_definitions_imports_no_step_only_library() -> None:
    """A real import of the definitions (the job resolved, as the runner does) in a fresh interpreter."""
    probe = (
        "import sys\n"
        "from pipelines.definitions import defs\n"
        "from pipelines.defs.automation.jobs import QUARTERLY_JOB\n"
        "defs().resolve_job_def(QUARTERLY_JOB)\n"
        f"print('loaded:', *[m for m in {NOT_AT_DEFINITIONS!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = [line for line in done.stdout.splitlines() if line.startswith("loaded:")]
    assert loaded == ["loaded:"]
