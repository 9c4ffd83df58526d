"""PKCS#11 modules the user added, remembered for the command line and the console.

A JSON list of absolute paths in ``pkcs11-modules.json`` under the user's config directory
(platformdirs: ``~/.config/Strongroom`` on Linux). It holds nothing secret, but a module is code
loaded into Strongroom's process, so the file is written atomically with mode 0600 and only paths
the user named go into it. A damaged file is reported (exit 3) and left as it is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import platformdirs

from ..errors import IntegrityError, NotFound, UsageError
from ..fsutil import atomic_write

FILE_NAME = "pkcs11-modules.json"
MODULE_SUFFIXES = (".so", ".dll", ".dylib")


def config_file() -> Path:
    return Path(platformdirs.user_config_dir("Strongroom", appauthor=False)) / FILE_NAME


def _normal(path: str) -> str:
    return os.path.abspath(os.path.expanduser(path))


def remembered_modules(file: Path | None = None) -> list[str]:
    """The remembered module paths, in the order they were added (none if no file)."""
    file = file or config_file()
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise IntegrityError(
            f"the module list {file} cannot be read ({type(e).__name__}); fix or delete it"
        ) from e
    if not isinstance(data, list) or not all(isinstance(p, str) for p in data):
        raise IntegrityError(f"the module list {file} is not a list of paths; fix or delete it")
    return data


def check_module_path(path: str) -> None:
    """UsageError unless ``path`` names a shared library, NotFound if there is no such file
    (checked before a module is loaded; loading it is the real test)."""
    full = _normal(path)
    if not full.lower().endswith(MODULE_SUFFIXES):
        raise UsageError(f"{os.path.basename(full)} is not a shared library (.so, .dll or .dylib)")
    if not os.path.isfile(full):
        raise NotFound(f"no PKCS#11 module at {full}")


def remember_module(path: str, file: Path | None = None) -> bool:
    """Add ``path`` (made absolute) to the list; False if it was there already."""
    file = file or config_file()
    check_module_path(path)
    full = _normal(path)
    modules = remembered_modules(file)
    if full in modules:
        return False
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write(file, json.dumps([*modules, full], indent=1).encode() + b"\n")
    return True


def forget_module(path: str, file: Path | None = None) -> None:
    """Drop ``path`` from the list (NotFound if it is not on it); the module file is untouched."""
    file = file or config_file()
    full = _normal(path)
    modules = remembered_modules(file)
    if full not in modules:
        raise NotFound(f"{full} is not among the remembered modules")
    atomic_write(file, json.dumps([p for p in modules if p != full], indent=1).encode() + b"\n")
