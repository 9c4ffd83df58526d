"""How the core finds adapters without importing them: installed entry points, and what each
backend says about whether it can run here.

Backends (``strongroom.backends``), key stores (``strongroom.keystores``) and front ends
(``strongroom.frontends``) are declared in pyproject.toml and read with :mod:`importlib.metadata`;
nothing here imports a backend by name, so ``app/`` stays importable with no hardware library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib import metadata

BACKENDS_GROUP = "strongroom.backends"
KEYSTORES_GROUP = "strongroom.keystores"
FRONTENDS_GROUP = "strongroom.frontends"


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here and, when it cannot, why (shown to the user as is)."""

    ok: bool
    reason: str = ""


def entry_points(group: str) -> list[metadata.EntryPoint]:
    """The installed entry points of ``group`` in name order (nothing is loaded)."""
    from importlib import metadata  # here: a CLI call that loads no adapter does not pay for it

    return sorted(metadata.entry_points(group=group), key=lambda e: e.name)


def load_backend(group: str, name: str, *, missing: Exception) -> Any:
    """The object the entry point ``group:name`` names (loaded, not called); ``missing`` is
    raised when no installed package declares it."""
    from importlib import metadata

    entry = next((e for e in metadata.entry_points(group=group) if e.name == name), None)
    if entry is None:
        raise missing
    return entry.load()
