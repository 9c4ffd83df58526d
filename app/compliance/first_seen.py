"""When each pending security update was first seen, so "install within N days" can be judged.

Package managers tell what is pending now, not since when. Strongroom remembers: each run merges
the pending updates into a map {"<update key>": "<ISO time first seen>"}, keeping the old time
for updates still pending and forgetting the ones installed since; the key "(memory started)"
keeps the first run's time, because an update seen then may be older than the memory itself.
With ``--store`` the map lives in the vault (table ``compliance_first_seen``); without a vault in
a JSON file in the user's state directory (``$STRONGROOM_STATE_DIR`` if set, else
``platformdirs.user_state_dir("Strongroom")``, e.g. ``~/.local/state/Strongroom/`` on Linux) named
``compliance-first-seen.json``. The map is added to the evidence as ``state.first-seen``
so a dump re-judges the same way. Replayed evidence (``--evidence``) never updates the memory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import platformdirs

from .model import EvidenceBundle, FileEvidence

EVIDENCE_ID = "state.first-seen"
# When the memory began: an update first seen then may be older than that (its age is unknown).
SINCE_KEY = "(memory started)"
STATE_FILE = "compliance-first-seen.json"
ENV_STATE_DIR = "STRONGROOM_STATE_DIR"


def state_path() -> Path:
    """``$STRONGROOM_STATE_DIR`` or the platform's user state dir, plus the file name."""
    base = os.environ.get(ENV_STATE_DIR) or platformdirs.user_state_dir(
        "Strongroom", appauthor=False
    )
    return Path(base).expanduser() / STATE_FILE


def merge(previous: Mapping[str, str], pending: Iterable[str], now: dt.datetime) -> dict[str, str]:
    """Still-pending updates keep their first time; new ones are first seen ``now``."""
    stamp = now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    merged = {key: previous.get(key, stamp) for key in sorted(set(pending)) if key != SINCE_KEY}
    merged[SINCE_KEY] = previous.get(SINCE_KEY, stamp)
    return merged


def parse(text: str | None) -> dict[str, str]:
    """A first-seen map from JSON text; anything malformed counts as empty memory."""
    if not text:
        return {}
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, a 4,301-digit number, nested too deep
        return {}
    if not isinstance(obj, dict):
        return {}
    return {str(k): v for k, v in obj.items() if isinstance(v, str)}


def load_file(path: Path | None = None) -> dict[str, str]:
    path = path or state_path()
    try:
        return parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return {}


def save_file(mapping: Mapping[str, str], path: Path | None = None) -> bool:
    """Write the map atomically; False (and nothing written) if the state dir is not writable."""
    path = path or state_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".first-seen-", dir=path.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(dict(mapping), f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True


def attach(bundle: EvidenceBundle, mapping: Mapping[str, str], where: str) -> EvidenceBundle:
    """The bundle with the first-seen map added as ``state.first-seen`` evidence."""
    item = FileEvidence(path=where, content=json.dumps(dict(mapping), sort_keys=True))
    return replace(bundle, items={**bundle.items, EVIDENCE_ID: item})
