"""The rollback witness: the last audit head this machine saw for a vault folder, kept outside it.

Layer 1 (vault/consistency.py) catches a database or a header put back alone. A whole vault folder
put back from an older copy is consistent with itself; the witness, in the user's state directory
(``$STRONGROOM_STATE_DIR``, else ``platformdirs.user_state_dir("Strongroom")``), remembers the head
after every write, per vault id and folder, so unlock can tell the folder is behind (or on another
branch of history). It guards against a restored copy, not against someone who can also delete
the witness: the TPM counter and checkpoint files outside the machine are the layers for that.
A witness that cannot be read is reported and replaced, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from ..errors import RollbackDetected, StorageError
from ..fsutil import atomic_write
from ..header import AuditAnchor
from .consistency import NOT_OPENED

ENV_STATE_DIR = "STRONGROOM_STATE_DIR"
FOLDER = "witness"
MAX_BYTES = 64 * 1024

log = logging.getLogger("strongroom")


def state_dir() -> Path:
    base = os.environ.get(ENV_STATE_DIR) or platformdirs.user_state_dir(
        "Strongroom", appauthor=False
    )
    return Path(base).expanduser()


@dataclass(frozen=True)
class Witness:
    vault_id: str
    folder: str
    seq: int
    hash: bytes
    updated: str


def witness_file(vault_id: str, folder: Path) -> Path:
    """One file per vault id and folder: a copy restored elsewhere on purpose has its own."""
    where = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return state_dir() / FOLDER / f"{vault_id}-{where}.json"


def backoff_file(vault_id: str, folder: Path) -> Path:
    """The second copy of the vault's failed-unlock count (vault/backoff.py), beside its witness."""
    return witness_file(vault_id, folder).with_suffix(".backoff.json")


def load(vault_id: str, folder: Path) -> Witness | None:
    """The witness of this vault folder; None when there is none yet or it cannot be read."""
    path = witness_file(vault_id, folder)
    try:
        with path.open("rb") as f:
            obj = json.loads(f.read(MAX_BYTES))
        witness = Witness(str(obj["vault_id"]), str(obj["folder"]), obj["seq"],
                          bytes.fromhex(obj["hash"]), str(obj["updated"]))
        if witness.vault_id != vault_id or type(witness.seq) is not int or witness.seq < 1 \
                or len(witness.hash) != 32:
            raise ValueError("not this vault's witness")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:
        log.warning("the rollback witness %s cannot be read (%s); it will be rewritten",
                    path, type(e).__name__)
        return None
    return witness


def save(vault_id: str, folder: Path, head: AuditAnchor | None, now: str) -> None:
    """Remember ``head``; a failure is logged, not raised: the write it follows has committed."""
    if head is None:
        return
    path = witness_file(vault_id, folder)
    body = {"vault_id": vault_id, "folder": str(folder.resolve()), "seq": head.seq,
            "hash": head.hash.hex(), "updated": now}
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write(path, (json.dumps(body, sort_keys=True) + "\n").encode())
    except (OSError, StorageError) as e:
        log.warning("could not update the rollback witness %s: %s", path, e)


def check(witness: Witness | None, head: AuditAnchor | None,
          hash_at: Callable[[int], bytes | None]) -> None:
    """Refuse a folder behind its witness, or one whose history differs at the witnessed event."""
    if witness is None:
        return
    seq = 0 if head is None else head.seq
    if seq < witness.seq:
        raise RollbackDetected(
            f"this vault folder is {witness.seq - seq} audit event(s) behind the state last seen "
            f"here ({witness.updated[:19].replace('T', ' ')} UTC): it was put back from an older "
            f"copy (rollback); {NOT_OPENED}", "vault folder", witness.seq - seq,
        )
    if hash_at(witness.seq) != witness.hash:
        raise RollbackDetected(
            f"this vault folder's history differs at audit event {witness.seq} from the one last "
            f"seen here: another copy of the vault was put in its place; {NOT_OPENED}",
            "history", 0,
        )
