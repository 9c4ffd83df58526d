"""Audit checkpoints kept outside the vault: a signed file that a rolled-back log cannot follow.

The checkpoints ``audit checkpoint`` signs are audit events inside the database, so they roll back
with it. ``audit checkpoint --out FILE`` also writes the signed checkpoint to a file for removable
media or a ticket; ``audit verify --checkpoint FILE`` then refuses a log that is behind it, or that
differs from it at its event: history was put back or rewritten. A file is public (it holds the
head's hash, the signer's public key and the signature, never a value).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import AlreadyExists, IntegrityError
from ..fsutil import read_bounded
from .algorithms import verify
from .checkpoints import AuditVault, Checkpoint, chain_hash_at
from .ports import SignAlgorithm
from .signing import write_public

FORMAT = "strongroom-audit-checkpoint/1"
MAX_FILE_BYTES = 64 * 1024


def to_file_bytes(checkpoint: Checkpoint) -> bytes:
    body = {"format": FORMAT, **checkpoint.to_details()}
    return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()


def write_checkpoint_file(dest: Path, checkpoint: Checkpoint, *, force: bool = False) -> None:
    """Write ``checkpoint`` to ``dest``; an existing file is kept unless ``force``."""
    if dest.exists() and not force:
        raise AlreadyExists(f"{dest} already exists; choose a new file name or give --force")
    write_public(dest, to_file_bytes(checkpoint))


def load_checkpoint_file(path: Path) -> Checkpoint:
    """The checkpoint in ``path``; IntegrityError (exit 3) if it is not a well-formed one."""
    data = read_bounded(path, MAX_FILE_BYTES, "checkpoint file")
    if len(data) > MAX_FILE_BYTES:
        raise IntegrityError(f"{path.name} is too large to be a checkpoint file")
    try:
        obj = json.loads(data.decode("utf-8"))
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise ValueError("not a checkpoint file")
        seq = obj["seq"]
        head_hash = obj["head_hash"]
        if type(seq) is not int or seq < 1 or not isinstance(head_hash, str) \
                or len(bytes.fromhex(head_hash)) != 32:
            raise ValueError("bad head")
        return Checkpoint(
            seq=seq, head_hash=head_hash, vault_id=str(obj["vault_id"]),
            store=str(obj.get("store", "")), token_serial=str(obj.get("token_serial", "")),
            key_id=str(obj.get("key_id", "")), key_label=str(obj.get("key_label", "")),
            fingerprint=str(obj.get("fingerprint", "")),
            algorithm=SignAlgorithm(obj["algorithm"]),
            public_key=base64.b64decode(obj["public_key"], validate=True),
            signature=base64.b64decode(obj["signature"], validate=True),
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError,
            binascii.Error) as e:
        raise IntegrityError(
            f"{path.name} is not a well-formed Strongroom checkpoint file ({type(e).__name__})"
        ) from e


class FileStatus(StrEnum):
    Matches = "matches"  # the log holds the signed event: it is at or past the checkpoint
    Behind = "behind"  # the log ends before the signed event: it was rolled back
    Differs = "differs"  # another event at that sequence: put back and grown on, or rewritten
    Invalid = "invalid"  # the file's signature does not verify, or it is another vault's


@dataclass(frozen=True)
class FileCheck:
    path: Path
    checkpoint: Checkpoint
    status: FileStatus
    reason: str

    @property
    def ok(self) -> bool:
        return self.status is FileStatus.Matches

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.path), "status": self.status.value, "reason": self.reason,
                "seq": self.checkpoint.seq, "fingerprint": self.checkpoint.fingerprint}


def check_file(vault: AuditVault, path: Path, cp: Checkpoint | None = None) -> FileCheck:
    """Judge the vault's audit log against the checkpoint file at ``path`` (``cp``: its
    checkpoint, when the caller loaded it already, before unlocking)."""
    cp = cp or load_checkpoint_file(path)
    name = path.name
    signer = f"signed by {cp.key_label or '?'}, key {cp.fingerprint[:16]}"
    if cp.vault_id != vault.vault_id:
        return FileCheck(path, cp, FileStatus.Invalid,
                         f"{name} is a checkpoint of another vault ({cp.vault_id[:8]}…)")
    if not verify(cp.public_key, cp.payload(), cp.signature, cp.algorithm):
        return FileCheck(path, cp, FileStatus.Invalid,
                         f"the signature in {name} does not verify: the file was altered")
    head = vault.audit_verify().head
    count = 0 if head is None else head.seq
    if count < cp.seq:
        return FileCheck(
            path, cp, FileStatus.Behind,
            f"the audit log is {cp.seq - count} event(s) behind the checkpoint in {name} "
            f"(event {cp.seq}, {signer}): it was rolled back",
        )
    if chain_hash_at(vault, cp.seq) != bytes.fromhex(cp.head_hash):
        return FileCheck(
            path, cp, FileStatus.Differs,
            f"audit event {cp.seq} differs from the one the checkpoint in {name} signed "
            f"({signer}): the log was put back or rewritten",
        )
    return FileCheck(path, cp, FileStatus.Matches,
                     f"event {cp.seq} matches the checkpoint in {name} ({signer})")
