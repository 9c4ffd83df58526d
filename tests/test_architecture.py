"""The core stays free of Qt and of hardware adapters; no import cycles, no god modules; the package
installs as strongroom.*."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "strongroom.backends", "strongroom.ui", "pkcs11", "hvac",
             "tpm2_pytss", "fido2")


def imported_modules(path: Path, depth: int = 0) -> list[str]:
    """Absolute imports by name; a relative import that climbs above app/ as its dots.

    ``depth`` is how many packages below app/ the module sits (app/x.py: 0, app/a/x.py: 1).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level - 1 > depth:
            # `from ..backends import x` in app/x.py would climb out of app/
            names.append("." * node.level + (node.module or ""))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.append(str(node.args[0].value))
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "app").rglob("*.py")), ids=lambda p: p.name)
def test_app_imports_no_qt_and_no_backends(path: Path) -> None:
    depth = len(path.relative_to(ROOT / "app").parts) - 1
    bad = [
        m for m in imported_modules(path, depth)
        if m.startswith("..") or any(m == f or m.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_relative_imports_inside_app_are_allowed_by_depth(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text("from ..errors import X\nfrom ...backends import Y\n")
    assert imported_modules(mod, depth=1) == ["...backends"]
    assert imported_modules(mod, depth=0) == ["..errors", "...backends"]


def test_the_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import PySide6.QtCore\nfrom strongroom.backends import x\nfrom ..ui import y\n"
        "importlib.import_module('strongroom.ui.main')\n"
    )
    assert imported_modules(bad) == [
        "PySide6.QtCore", "strongroom.backends", "..ui", "strongroom.ui.main"
    ]


def test_importing_the_core_loads_no_qt() -> None:
    code = (
        "import sys, strongroom.app.cli, strongroom.app.vault, strongroom.app.vault.backup\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'strongroom.backends',"
        " 'strongroom.ui'))]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_installed_under_strongroom_namespace_not_bare_names(tmp_path: Path) -> None:
    vault = importlib.import_module("strongroom.app.vault")
    assert Path(vault.__file__).resolve() == ROOT / "app" / "vault" / "__init__.py"
    # Outside the checkout, nothing named bare app/ui/backends is importable.
    code = (
        "import importlib.util as u, sys\n"
        "found = [n for n in ('app', 'ui', 'backends') if u.find_spec(n)]\n"
        "print(found); sys.exit(1 if found or not u.find_spec('strongroom.ui') else 0)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ----- no import cycles, no god modules ----------------------------------------------------------

PACKAGES = {"app": "strongroom.app", "backends": "strongroom.backends", "ui": "strongroom.ui",
            "packaging/strongroom": "strongroom"}
MAX_LINES = 450


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every strongroom.* module of the tree at ``root``, by its dotted name."""
    found: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in sorted((root / folder).rglob("*.py")):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the strongroom modules it imports, anywhere in its body (a function's late import
    and an ``if TYPE_CHECKING:`` import count: both hide a cycle, neither breaks one)."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*up, base] if base else up)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            edges |= {t for t in map(known, targets) if t and t != name}
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def is_pure_data(path: Path) -> bool:
    """Only a docstring, imports and literal constants (a word list, a table)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Expr | ast.Import | ast.ImportFrom):
            continue
        if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
            return False
        try:
            ast.literal_eval(node.value)
        except ValueError:
            return False
    return True


def oversized(root: Path = ROOT) -> list[str]:
    out = []
    for name, path in module_files(root).items():
        lines = len(path.read_text().splitlines())
        if name.startswith(("strongroom.app", "strongroom.backends")) and lines > MAX_LINES \
                and not is_pure_data(path):
            out.append(f"{path.relative_to(root)} ({lines} lines)")
    return out


def test_no_import_cycles_among_strongroom_modules() -> None:
    found = cycles(import_graph(module_files()))
    assert not found, "import cycles: " + "; ".join(" ↔ ".join(c) for c in found)


def test_no_module_in_the_core_or_the_backends_is_a_god_module() -> None:
    assert not oversized(), f"over {MAX_LINES} lines: {', '.join(oversized())}"


def test_the_cycle_checker_finds_direct_late_and_type_checking_cycles(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "pkg").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "a.py").write_text("from .b import x\n")
    (app / "b.py").write_text("def f():\n    from . import a\n")
    (app / "pkg" / "__init__.py").write_text("")
    (app / "pkg" / "c.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from strongroom.app.pkg import d\n"
    )
    (app / "pkg" / "d.py").write_text("from .c import y\nfrom ..a import z\n")
    for folder in ("backends", "ui", "packaging/strongroom"):
        (tmp_path / folder).mkdir(parents=True)
    found = cycles(import_graph(module_files(tmp_path)))
    assert found == [["strongroom.app.a", "strongroom.app.b"],
                     ["strongroom.app.pkg.c", "strongroom.app.pkg.d"]]


def test_the_size_rule_spares_pure_data_only(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    for folder in ("backends", "ui", "packaging/strongroom"):
        (tmp_path / folder).mkdir(parents=True)
    words = ",\n".join(f'    "w{i}"' for i in range(MAX_LINES))
    (tmp_path / "app" / "words.py").write_text(f'"""Words."""\nWORDS = (\n{words},\n)\n')
    (tmp_path / "app" / "big.py").write_text("def f():\n" + "    x = 1\n" * MAX_LINES)
    assert oversized(tmp_path) == [f"app{Path('/')}big.py ({MAX_LINES + 1} lines)"]


_IMPORT_EACH_FIRST = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "strongroom" or m.startswith("strongroom.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as e:
        failed.append(f"{name}: {e!r}")
print("\\n".join(failed))
"""


def test_every_core_and_backend_module_imports_first() -> None:
    """Each module imported first, in a fresh set of strongroom modules, loads. The graph above
    does not model that importing ``a.b.c`` first runs package ``a.b``'s ``__init__``: a module
    that a package's ``__init__`` uses while the module imports that package's parts fails when
    it is imported before the package (a partially initialised module)."""
    names = [n for n in module_files() if n.startswith(("strongroom.app", "strongroom.backends"))]
    out = subprocess.run([sys.executable, "-c", _IMPORT_EACH_FIRST, *names],
                         capture_output=True, text=True, timeout=240, check=True)
    assert out.stdout.strip() == "", out.stdout
