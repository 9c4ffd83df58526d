"""Assemble the folder Briefcase builds from (`make briefcase-tree`; build/briefcase/ by default).

Briefcase reads only the [tool.briefcase] tables of a pyproject.toml in its working directory and
copies each `sources` folder under its own name, while this repository keeps strongroom's
subpackages in app/, backends/ and ui/. So briefcase.toml, the one place Briefcase is configured,
becomes the tree's pyproject.toml, next to the code laid out as installed:

    pyproject.toml                       briefcase.toml, as written
    src/strongroom/                      packaging/strongroom/ with app, backends, ui, resources
    src/strongroom-<version>.dist-info/  METADATA and entry_points.txt: the CLI finds the console
                                         and the hardware backends by entry point, and
                                         `briefcase create` adds its own files to this folder
    src/strongroom.dist-info/            the same for `briefcase dev`, which writes there
    resources/icons/                     the rendered icons (`make icons`) Briefcase installs
    LICENSE

Stdlib only. Usage: python packaging/briefcase_tree.py [OUT]
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APP = "strongroom"
SUBPACKAGES = ("app", "backends", "ui", "resources")
PLACEHOLDER_LICENSE = (
    "Copyright (c) Strongroom maintainers. All rights reserved.\n"
    "Proprietary software: not licensed for redistribution.\n"
)
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


class TreeError(Exception):
    """briefcase.toml and pyproject.toml disagree, or something Briefcase needs is missing."""


def read_configs(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pyproject's [project], briefcase.toml's [tool.briefcase])."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    briefcase = tomllib.loads((root / "briefcase.toml").read_text(encoding="utf-8"))
    return project, briefcase["tool"]["briefcase"]


def check(project: dict[str, Any], briefcase: dict[str, Any], root: Path) -> None:
    """What Briefcase would build must be this project: same version and licence, its code and
    icons present. (`requires` against the dependencies is check_locks.py's gate.)"""
    app = briefcase["app"][APP]
    for key in ("version", "license"):
        if briefcase.get(key) != project.get(key):
            raise TreeError(f"briefcase.toml {key} {briefcase.get(key)!r} is not pyproject.toml's "
                            f"{project.get(key)!r}")
    wanted = f"src/{APP}-{project['version']}.dist-info"
    if wanted not in app.get("sources", []):
        raise TreeError(f"briefcase.toml `sources` must list {wanted!r} (the entry points)")
    icon = root / app["icon"]
    missing = [p.name for p in (icon.with_suffix(".ico"), icon.with_suffix(".icns"),
                                icon.parent / f"{icon.name}-512.png") if not p.exists()]
    if missing:
        raise TreeError(f"icons missing: {', '.join(missing)}; run `make icons`")


def entry_points(project: dict[str, Any]) -> str:
    """entry_points.txt as setuptools writes it, from [project.scripts] and .entry-points."""
    groups = {"console_scripts": project.get("scripts", {}),
              "gui_scripts": project.get("gui-scripts", {}), **project.get("entry-points", {})}
    blocks = []
    for group, entries in groups.items():
        if entries:
            lines = "".join(f"{name} = {value}\n" for name, value in entries.items())
            blocks.append(f"[{group}]\n{lines}")
    return "\n".join(blocks)


def metadata(project: dict[str, Any]) -> str:
    lines = [
        "Metadata-Version: 2.4", f"Name: {project['name']}", f"Version: {project['version']}",
        f"Summary: {project['description']}", f"License-Expression: {project['license']}",
        f"Requires-Python: {project['requires-python']}",
        *(f"Requires-Dist: {dep}" for dep in project["dependencies"]),
    ]
    return "\n".join(lines) + "\n"


def assemble(out: Path, root: Path = ROOT) -> Path:
    """Write the tree into ``out`` (emptied first); returns the pyproject.toml Briefcase reads."""
    project, briefcase = read_configs(root)
    check(project, briefcase, root)
    if out.exists():
        shutil.rmtree(out)
    src = out / "src"
    package = src / APP
    shutil.copytree(root / "packaging" / APP, package, ignore=IGNORE)
    for sub in SUBPACKAGES:
        shutil.copytree(root / sub, package / sub, ignore=IGNORE)
    for dist_info in (f"{APP}-{project['version']}.dist-info", f"{APP}.dist-info"):
        folder = src / dist_info
        folder.mkdir()
        (folder / "METADATA").write_text(metadata(project), encoding="utf-8")
        (folder / "entry_points.txt").write_text(entry_points(project), encoding="utf-8")
    shutil.copytree(root / "resources" / "icons", out / "resources" / "icons", ignore=IGNORE)
    licence = root / "LICENSE"
    (out / "LICENSE").write_text(licence.read_text(encoding="utf-8") if licence.exists()
                                 else PLACEHOLDER_LICENSE, encoding="utf-8")
    pyproject = out / "pyproject.toml"
    pyproject.write_text(
        "# Generated by packaging/briefcase_tree.py from briefcase.toml: edit that file.\n"
        + (root / "briefcase.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return pyproject


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "build" / "briefcase"
    try:
        assemble(out)
    except TreeError as e:
        print(f"briefcase-tree: {e}", file=sys.stderr)
        return 1
    print(f"briefcase-tree: {out} (then: cd {out} && briefcase dev | create | build | package)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
