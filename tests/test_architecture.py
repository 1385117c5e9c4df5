"""The import rules hold (setup.cfg's contracts, run by lint-imports), no module of dispatch is in
an import circle, and each rule breaks when a forbidden import is added (in a copy of the tree)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports over the `dispatch` package found under `root`, with the contracts of its setup.cfg."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", "setup.cfg", "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def import_cycles(package: str) -> list[list[str]]:
    """Every set of modules of `package` that import each other in a circle (type-checking imports aside)."""
    graph = grimp.build_graph(package, cache_dir=None, exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_the_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_no_module_of_dispatch_is_in_an_import_circle():
    assert import_cycles("dispatch") == []


def test_the_cycle_finder_finds_a_circle(tmp_path, monkeypatch):
    package = tmp_path / "circle"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circle import b\n")
    (package / "b.py").write_text("from circle import c\n")
    (package / "c.py").write_text("import circle.a\n")
    (package / "d.py").write_text("from circle import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_cycles("circle") == [["circle.a", "circle.b", "circle.c"]]


@pytest.mark.parametrize(
    ("module", "imports", "contract"),
    [
        ("dispatch/orders/breach.py", "import flask", "The domain imports no web framework"),
        (
            "dispatch/audit/breach.py",
            "from dispatch.jobs import runtime",
            "The domain imports no web framework",
        ),
        (
            "dispatch/jobs/breach.py",
            "from dispatch.api import errors",
            "api, jobs and web never import each other",
        ),
        ("dispatch/orders/breach.py", "from dispatch.audit import callbacks", "Layers"),
        ("dispatch/platform/breach.py", "from dispatch.orders import machine", "Layers"),
        # queue imports common: common importing queue closes a circle inside the callbacks package.
        (
            "dispatch/audit/callbacks/common.py",
            "from dispatch.audit.callbacks import queue",
            "No import circles",
        ),
    ],
)
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, imports, contract):
    copy = tmp_path / "tree"
    shutil.copytree(ROOT / "dispatch", copy / "dispatch", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "setup.cfg", copy / "setup.cfg")
    assert lint_imports(copy).returncode == 0  # the copy keeps the rules, as the tree does
    target = copy / module
    if target.exists():
        target.write_text(target.read_text() + f"\n{imports}\n")
    else:
        target.write_text(f'"""Breaks a rule on purpose."""\n\n{imports}\n')
    result = lint_imports(copy)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(line.startswith(contract) for line in broken), result.stdout
