"""A version's metadata (owner, note, tags, kind and dates when the version was current), stored
short: no level (a column of its own), no null dates, and ``''`` while it is still the secret's
metadata now. Before a secret's row changes, its ``''`` versions get the metadata written out."""

from __future__ import annotations

import json
from typing import Any

from ..crypto import canonical_json
from ..model import SecretInfo
from .session import VaultSession

SAME_AS_SECRET = ""  # versions.meta: the secret's metadata as it is now (schema 7)
_DEFAULTS = {"expires": None, "rotation_due": None}


def snapshot(info: SecretInfo) -> str:
    """``info``'s metadata as a version keeps it once the secret has moved on."""
    meta = {"kind": info.kind, "owner": info.owner, "note": info.note, "tags": list(info.tags),
            "expires": info.expires, "rotation_due": info.rotation_due}
    return canonical_json({k: v for k, v in meta.items()
                           if not (k in _DEFAULTS and v is None)}).decode()


def freeze(vault: VaultSession, info: SecretInfo) -> None:
    """Before the secret's row changes from ``info``: its versions that said "as now" keep it."""
    vault._conn.execute("UPDATE versions SET meta = ? WHERE secret_id = ? AND meta = ?",
                        (snapshot(info), info.id, SAME_AS_SECRET))


def read(stored: str, classification: str, current: SecretInfo) -> dict[str, Any]:
    """The whole metadata of a version, whichever way it was stored (schema 6 wrote it all)."""
    meta = json.loads(snapshot(current) if stored == SAME_AS_SECRET else stored)
    return {"classification": classification, **_DEFAULTS, **meta}
