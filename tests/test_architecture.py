"""The core stays free of Qt and of hardware adapters; the package installs as strongroom.*."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("PySide6", "PyQt5", "PyQt6", "strongroom.backends", "strongroom.ui", "pkcs11",
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
