"""Helpers the macOS checks share: plist files read as dicts.

Plists are read as files (XML as text, binary as hex) and parsed with plistlib.
"""

from __future__ import annotations

from typing import Any

from ..model import EvidenceBundle
from ..parsing import file, load_plist, unavailable


def _plist_dict(bundle: EvidenceBundle, evidence_id: str
                ) -> tuple[dict[str, Any] | None, str | None]:
    """A plist file as a dict: (None, None) when it does not exist, (None, why) when unreadable."""
    item = file(bundle, evidence_id)
    if item is not None and item.error == "missing":
        return None, None
    why = unavailable(item, item.path if item is not None else evidence_id)
    if why or item is None:
        return None, why
    data = load_plist(item.content)
    if not isinstance(data, dict):
        return None, f"{item.path}: not a property list we can read"
    return data, None


def _profile_unreadable(bundle: EvidenceBundle, evidence_id: str) -> str | None:
    """Why a configuration profile (which overrides the local settings) could not be read; None
    when it was read, does not exist, or is not in the bundle (a fixture keeps only some items;
    the collector always gathers it)."""
    if file(bundle, evidence_id) is None:
        return None
    return _plist_dict(bundle, evidence_id)[1]
