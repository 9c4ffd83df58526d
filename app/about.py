"""What this Strongroom is and what it runs on: its version and licence, and the versions of the
libraries that do its cryptography and talk to hardware (``strongroom --version --verbose`` and
the console's About box, which adds the Qt it runs on).

Versions come from installed package metadata, so nothing here imports a hardware library or Qt;
only SQLCipher is asked directly, because the sqlcipher3 wheel's version is not the SQLCipher
built into it.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata

DISTRIBUTION = "strongroom"
NOT_INSTALLED = "not installed"

# (shown name, distributions that provide it, first installed wins)
LIBRARIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("PySide6", ("PySide6-Essentials", "PySide6")),
    ("cryptography", ("cryptography",)),
    ("fido2", ("fido2",)),
    ("python-pkcs11", ("python-pkcs11",)),
    ("tpm2-pytss", ("tpm2-pytss",)),
    ("sqlcipher3", ("sqlcipher3",)),
)


@dataclass(frozen=True)
class Component:
    """One thing Strongroom runs on; ``version`` is None when it is not installed."""

    name: str
    version: str | None

    @property
    def shown(self) -> str:
        return self.version if self.version is not None else NOT_INSTALLED


def strongroom_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def licence() -> str:
    """The licence as the package metadata states it (an SPDX expression), or "unknown"."""
    try:
        meta = metadata.metadata(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"
    for field in ("License-Expression", "License"):
        values = meta.get_all(field) or []
        if values and values[0]:
            return str(values[0])
    return "unknown"


def distribution_version(names: Iterable[str]) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def sqlcipher_version() -> str | None:
    """SQLCipher's own version ("4.6.1 community"), from an in-memory database."""
    import sqlcipher3  # here: `strongroom --version` reads only the version

    try:
        conn = sqlcipher3.connect(":memory:")
    except sqlcipher3.Error:
        return None
    try:
        row = conn.execute("PRAGMA cipher_version").fetchone()
    except sqlcipher3.Error:
        return None
    finally:
        conn.close()
    return str(row[0]) if row and row[0] else None


def components() -> list[Component]:
    """Python, SQLCipher and the libraries of LIBRARIES, in that order."""
    return [
        Component("Python", platform.python_version()),
        Component("SQLCipher", sqlcipher_version()),
        *(Component(name, distribution_version(dists)) for name, dists in LIBRARIES),
    ]


def report(extra: Iterable[Component] = ()) -> list[str]:
    """``strongroom X``, the licence, then one aligned line per component."""
    parts = [*components(), *extra]
    width = max(len(c.name) for c in parts)
    return [f"strongroom {strongroom_version()}", f"licence: {licence()}",
            *(f"  {c.name.ljust(width)}  {c.shown}" for c in parts)]
