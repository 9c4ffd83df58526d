"""The operator last used on this machine, per vault: the CLI's default ``--operator`` when a vault
has several. Only names and vault ids are kept (in the user's state directory), never a secret."""

from __future__ import annotations

import contextlib
import json

from ..fsutil import atomic_write
from ..header import Header
from ..paths import state_dir

FILE = "last-operator.json"
MAX_BYTES = 64 * 1024


def recall(header: Header) -> str | None:
    """The only operator's name, else the one last used here (if still an operator)."""
    if len(header.operators) == 1:
        return header.operators[0].name
    if not header.operators:
        return None
    name = _load().get(header.vault_id)
    return name if isinstance(name, str) and header.operator_named(name) else None


def remember(header: Header, name: str) -> None:
    if len(header.operators) < 2:
        return
    known = _load()
    if known.get(header.vault_id) == name:
        return
    known[header.vault_id] = name
    with contextlib.suppress(OSError):  # a convenience: never fail a command over it
        folder = state_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(folder / FILE, json.dumps(known, sort_keys=True).encode())


def _load() -> dict[str, object]:
    try:
        with (state_dir() / FILE).open("rb") as f:
            data = f.read(MAX_BYTES + 1)
        obj = json.loads(data) if len(data) <= MAX_BYTES else {}
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}
