"""The house (issue 20): module size, no import circle inside a package, DESIGN.md's import rules.

Read from the source with ``ast``, nothing imported, so a rule broken in a module no test
imports still fails here.

* Size: every module of the six packages is at most 600 lines (STYLE.md, one concern per module).
* Circles: no import circle between modules of one package. An edge is any import that runs:
  at module level or inside a function (a late import hides a circle, it does not remove it:
  the two modules still need each other). Imports under ``if TYPE_CHECKING:`` are not edges:
  they never run, and STYLE.md §3 names them as the way to break a circle for annotations.
  ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``
  (its ``__init__``).
* Who may import whom (DESIGN.md): every import, type-only ones included, since a rule is about
  what a package may know of, not when it loads it.

``TEMPORARY`` lists what the lead's split of generators/_explore.py and _backchain.py (under way
as this test was written) still owes; ``test_temporary_allowances_are_still_needed`` fails as
soon as one is no longer needed, so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schemas", "generators", "validators", "store", "exporters", "flows")
MAX_LINES = 600

MAY_IMPORT: dict[str, frozenset[str]] = {
    # schemas/ imports nothing of ours; every other package may import schemas/.
    "schemas": frozenset(),
    # generators/ come first in the flow: records out, no validation, no database.
    "generators": frozenset({"schemas"}),
    # validators/ may use generators/' toolsets and helpers (replay re-executes calls).
    "validators": frozenset({"schemas", "generators"}),
    # store/ knows records, not tools, models or flows.
    "store": frozenset({"schemas"}),
    # exporters/ read sealed versions through store/ and never call tools or models: no generators/.
    # validators/ is allowed for scoring: the RL reward shipped with an export is the rubric code
    # that filtered the rows (validators.Reward, exporters/rl_env); a judge model is asked only at
    # training time, when the trainer's reward spec names one.
    "exporters": frozenset({"schemas", "store", "validators"}),
    # flows/ wires the stages together; nothing imports flows/.
    "flows": frozenset({"schemas", "generators", "validators", "store", "exporters"}),
}


@dataclass(frozen=True)
class Temporary:
    """What the lead's split of generators/_explore.py and generators/_backchain.py still owes."""

    oversized: frozenset[str]
    """Modules allowed over MAX_LINES until they are split."""
    circle: frozenset[str]
    """Modules allowed in one import circle with each other (and with nothing else)."""
    imports: frozenset[tuple[str, str]]
    """(module, imported module) edges allowed across DESIGN.md's rules."""


TEMPORARY = Temporary(oversized=frozenset(), circle=frozenset(), imports=frozenset())


@dataclass(frozen=True)
class Import:
    module: str
    """The importing module, e.g. ``flows.cli``."""
    target: str
    """The imported module: ``pkg.name`` for ``from pkg import name`` when that is a module."""
    line: int
    type_only: bool
    """Under ``if TYPE_CHECKING:``: never runs."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _files() -> dict[str, Path]:
    """Every module of the six packages, by dotted name."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found[_module_name(path)] = path
    return found


MODULES = _files()


def _is_type_checking(test: ast.expr) -> bool:
    return any((isinstance(n, ast.Name) and n.id == "TYPE_CHECKING")
               or (isinstance(n, ast.Attribute) and n.attr == "TYPE_CHECKING") for n in ast.walk(test))


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.base = module.split(".") if is_package else module.split(".")[:-1]
        self.type_only = False
        self.found: list[Import] = []

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        before, self.type_only = self.type_only, True
        for stmt in node.body:
            self.visit(stmt)
        self.type_only = before
        for stmt in node.orelse:
            self.visit(stmt)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.base[: len(self.base) - (node.level - 1)]
            source = ".".join([*base, *([node.module] if node.module else [])])
        else:
            source = node.module or ""
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            self._add(submodule if submodule in MODULES else source, node)

    def _add(self, target: str, node: ast.stmt) -> None:
        if target.split(".")[0] in PACKAGES:
            self.found.append(Import(self.module, target, node.lineno, self.type_only))


def _imports() -> list[Import]:
    found: list[Import] = []
    for name, path in MODULES.items():
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found.extend(visitor.found)
    return found


IMPORTS = _imports()


def _package(module: str) -> str:
    return module.split(".")[0]


def _line_counts() -> dict[str, int]:
    return {path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
            for path in MODULES.values()}


def _circles() -> list[list[str]]:
    """Strongly connected groups of two or more modules of one package (Tarjan), sorted."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        target = imp.target
        while target and target not in MODULES:  # `import pkg.mod.name` of a name, not a module
            target = target.rpartition(".")[0]
        if not imp.type_only and target and target != imp.module and _package(target) == _package(imp.module):
            graph[imp.module].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:  # recursion depth is bounded by the module count (~250)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: list[str] = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(groups)


def _broken_rules() -> Iterator[Import]:
    for imp in IMPORTS:
        source, target = _package(imp.module), _package(imp.target)
        if source != target and target not in MAY_IMPORT[source]:
            yield imp


def test_the_scan_sees_the_packages() -> None:
    """A guard for the guards: the scan finds modules and imports it must find."""
    assert {"flows.cli", "store._store", "schemas._replay", "exporters.rl_env._replay"} <= set(MODULES)
    edges = {(i.module, i.target) for i in IMPORTS}
    assert ("flows.cli", "flows._cli_run") in edges  # `from . import _cli_run` is an edge to the module
    assert ("exporters._replay_table", "schemas") in edges


def test_no_module_is_over_600_lines() -> None:
    over = {path: n for path, n in _line_counts().items() if n > MAX_LINES and path not in TEMPORARY.oversized}
    assert not over, (f"split these by concern (STYLE.md §1: one concern per module, at most {MAX_LINES} "
                      f"lines): {over}")


def test_no_import_circle_inside_a_package() -> None:
    circles = [c for c in _circles() if not set(c) <= TEMPORARY.circle]
    assert not circles, (
        "modules that import each other (at module level or in a function): move what both need "
        f"into a module of its own, or import it under TYPE_CHECKING if only annotations need it: {circles}"
    )


def test_packages_import_only_what_design_md_allows() -> None:
    broken = [f"{i.module}:{i.line} imports {i.target}" for i in _broken_rules()
              if (i.module, i.target) not in TEMPORARY.imports]
    assert not broken, ("DESIGN.md 'Who may import whom' (a shape both sides share belongs in schemas/): "
                        + "; ".join(broken))


def test_nothing_imports_flows() -> None:
    assert not [i for i in IMPORTS if _package(i.target) == "flows" and _package(i.module) != "flows"]


@pytest.mark.parametrize("kind", ["oversized", "circle", "imports"])
def test_temporary_allowances_are_still_needed(kind: str) -> None:
    """Once the lead's split pays one off, remove it from TEMPORARY: the list only shrinks."""
    if kind == "oversized":
        counts = _line_counts()
        unneeded = sorted(p for p in TEMPORARY.oversized if counts.get(p, 0) <= MAX_LINES)
    elif kind == "circle":
        unneeded = [] if not TEMPORARY.circle or any(set(c) <= TEMPORARY.circle for c in _circles()) \
            else sorted(TEMPORARY.circle)
    else:
        edges = {(i.module, i.target) for i in IMPORTS}
        unneeded = sorted(f"{a} -> {b}" for a, b in TEMPORARY.imports if (a, b) not in edges)
    assert not unneeded, f"no longer needed: remove from TEMPORARY.{kind} in tests/test_layout.py: {unneeded}"
