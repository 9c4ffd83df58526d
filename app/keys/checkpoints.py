"""Audit checkpoints signed in hardware: a device key vouches for the audit chain's head.

A checkpoint signs ``b"strongroom/v1/audit-checkpoint"`` followed by the canonical JSON of
``{"hash": head hash hex, "seq": head sequence, "vault_id": …}`` with a key on a token or the TPM,
and is stored as the audit event ``audit.checkpoint`` carrying the signer's public key and the
signature. Anyone holding the vault's keys can rewrite the whole chain consistently; they cannot
make the device sign the rewritten head. So verification checks, for every checkpoint:

* its signature verifies under the public key it carries, for this vault;
* the chain at its sequence number still has the hash it signed (a rewritten history fails);
* its signer is trusted: the key is on the hardware now, or was given with ``--trust``. A
  checkpoint that verifies under an unknown key is *untrusted*, never valid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from ..audit import AuditEvent, Outcome, VerifyReport
from ..crypto import canonical_json
from ..errors import IntegrityError, StrongroomError, VaultTampered
from .algorithms import (
    CorruptSignature,
    choose_algorithm,
    hash_name,
    load_public_key,
    spki_der,
    verify,
)
from .ports import KeyInfo, KeyStore, SignAlgorithm, TokenInfo
from .signing import Recorder, audit_details, record_failure

DOMAIN = b"strongroom/v1/audit-checkpoint"
ACTION = "audit.checkpoint"


class AuditVault(Recorder, Protocol):
    """What checkpoints need of the vault."""

    @property
    def vault_id(self) -> str: ...

    def audit_verify(self) -> VerifyReport: ...

    def audit_events(self, **filters: Any) -> list[Any]: ...


def payload(vault_id: str, seq: int, head_hash: str) -> bytes:
    """The exact bytes a checkpoint signs."""
    return DOMAIN + canonical_json({"hash": head_hash, "seq": seq, "vault_id": vault_id})


@dataclass(frozen=True)
class Checkpoint:
    """One signed checkpoint of the chain head ``seq``/``head_hash``."""

    seq: int
    head_hash: str  # hex
    vault_id: str
    store: str
    token_serial: str
    key_id: str
    key_label: str
    fingerprint: str  # SHA-256 of public_key, hex
    algorithm: SignAlgorithm
    public_key: bytes  # DER SubjectPublicKeyInfo
    signature: bytes
    event_seq: int | None = None  # the audit.checkpoint event's own sequence number

    def payload(self) -> bytes:
        return payload(self.vault_id, self.seq, self.head_hash)

    def to_details(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "head_hash": self.head_hash,
            "vault_id": self.vault_id,
            "store": self.store,
            "token_serial": self.token_serial,
            "key_id": self.key_id,
            "key_label": self.key_label,
            "fingerprint": self.fingerprint,
            "algorithm": self.algorithm.value,
            "public_key": base64.b64encode(self.public_key).decode(),
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_event(cls, event: AuditEvent) -> Checkpoint:
        """The checkpoint an ``audit.checkpoint`` event records (IntegrityError if malformed)."""
        d = event.details
        try:
            return cls(
                seq=int(d["seq"]),
                head_hash=str(d["head_hash"]),
                vault_id=str(d["vault_id"]),
                store=str(d.get("store", "")),
                token_serial=str(d.get("token_serial", "")),
                key_id=str(d.get("key_id", "")),
                key_label=str(d.get("key_label", "")),
                fingerprint=str(d.get("fingerprint", "")),
                algorithm=SignAlgorithm(d["algorithm"]),
                public_key=base64.b64decode(d["public_key"], validate=True),
                signature=base64.b64decode(d["signature"], validate=True),
                event_seq=event.seq,
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as e:
            raise IntegrityError(
                f"audit event {event.seq} is not a well-formed checkpoint ({type(e).__name__})"
            ) from e

    def to_json(self) -> dict[str, Any]:
        out = self.to_details()
        out["event_seq"] = self.event_seq
        return out


def _sign(store: KeyStore, key: KeyInfo, message: bytes, algorithm: SignAlgorithm) -> bytes:
    name = hash_name(algorithm)
    if name is None:
        return store.sign(key, message, algorithm)
    return store.sign(key, hashlib.new(name, message).digest(), algorithm, prehashed=True)


def create_checkpoint(
    vault: AuditVault,
    store: KeyStore,
    key: KeyInfo,
    *,
    token: TokenInfo | None = None,
    algorithm: SignAlgorithm | str | None = None,
) -> Checkpoint:
    """Sign the current head of an intact audit chain with ``key`` and record it."""
    chosen = choose_algorithm(key, None if algorithm is None else str(algorithm))
    report = vault.audit_verify()
    if not report.ok or report.head is None:
        raise VaultTampered(
            f"the audit log does not verify ({report.reason}); no checkpoint was signed"
        )
    head = report.head
    spki = spki_der(load_public_key(key.public_key))
    checkpoint = Checkpoint(
        seq=head.seq, head_hash=head.hash.hex(), vault_id=vault.vault_id,
        store=token.store if token is not None else store.store,
        token_serial=token.serial if token is not None else key.token_serial,
        key_id=key.key_id, key_label=key.label, fingerprint=hashlib.sha256(spki).hexdigest(),
        algorithm=chosen, public_key=spki, signature=b"",
    )
    message = checkpoint.payload()
    details = audit_details(token, key, operation="audit-checkpoint", algorithm=chosen.value,
                            seq=head.seq, sha256=hashlib.sha256(message).hexdigest())
    try:
        signature = _sign(store, key, message, chosen)
    except BaseException as e:
        record_failure(vault, ACTION, f"seq {head.seq}", details, e)
        raise
    if not verify(spki, message, signature, chosen):
        raise IntegrityError("the token's checkpoint signature does not verify under its key")
    signed = replace(checkpoint, signature=signature)
    vault.record(ACTION, f"seq {head.seq}",
                 details={**signed.to_details(), "module": details.get("module", ""),
                          "sha256": details["sha256"]})
    return signed


class Status(StrEnum):
    Valid = "valid"  # signature verifies, chain matches, signer trusted
    Untrusted = "untrusted"  # signature verifies and chain matches, but the signer is unknown
    Invalid = "invalid"  # the signature or the chain does not match: history was rewritten


@dataclass(frozen=True)
class CheckpointResult:
    event_seq: int
    status: Status
    reason: str
    checkpoint: Checkpoint | None = None
    trusted_by: str | None = None  # "hardware" or "trust-file"

    def to_json(self) -> dict[str, Any]:
        cp = self.checkpoint
        return {
            "event_seq": self.event_seq,
            "status": self.status.value,
            "reason": self.reason,
            "seq": None if cp is None else cp.seq,
            "head_hash": None if cp is None else cp.head_hash,
            "fingerprint": None if cp is None else cp.fingerprint,
            "key_label": None if cp is None else cp.key_label,
            "algorithm": None if cp is None else cp.algorithm.value,
            "trusted_by": self.trusted_by,
        }


@dataclass(frozen=True)
class CheckpointReport:
    results: tuple[CheckpointResult, ...]  # oldest first

    @property
    def ok(self) -> bool:
        """No checkpoint is invalid or untrusted (no checkpoint at all is ok)."""
        return all(r.status is Status.Valid for r in self.results)

    @property
    def last(self) -> CheckpointResult | None:
        return self.results[-1] if self.results else None

    @property
    def last_valid(self) -> CheckpointResult | None:
        valid = [r for r in self.results if r.status is Status.Valid]
        return valid[-1] if valid else None

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for r in self.results if r.status is s) for s in Status}

    def summary(self) -> str:
        """One line: how many checkpoints of each status, and the last valid one."""
        if not self.results:
            return "No audit checkpoints."
        c, last = self.counts(), self.last_valid
        line = (f"Checkpoints: {len(self.results)} ({c['valid']} valid, {c['untrusted']} "
                f"untrusted, {c['invalid']} invalid)")
        if last is not None and last.checkpoint is not None:
            line += (f"; last valid: event {last.checkpoint.seq} signed by "
                     f"{last.checkpoint.key_label}")
        return line

    def to_json(self) -> dict[str, Any]:
        last = self.last_valid
        return {
            "ok": self.ok,
            "count": len(self.results),
            **self.counts(),
            "last_valid_seq": None if last is None or last.checkpoint is None
            else last.checkpoint.seq,
            "results": [r.to_json() for r in self.results],
        }


def chain_hash_at(vault: AuditVault, seq: int) -> bytes | None:
    found = vault.audit_events(before_seq=seq + 1, limit=1)
    if not found or found[0].seq != seq:
        return None
    digest: bytes = found[0].hash
    return digest


def check_one(
    vault: AuditVault,
    event: AuditEvent,
    trusted: dict[str, str],
) -> CheckpointResult:
    """Check one ``audit.checkpoint`` event; ``trusted`` maps fingerprints to where trust came
    from ("hardware", "trust-file")."""
    try:
        cp = Checkpoint.from_event(event)
    except IntegrityError as e:
        return CheckpointResult(event.seq, Status.Invalid, str(e))
    fingerprint = hashlib.sha256(cp.public_key).hexdigest()
    if cp.fingerprint and cp.fingerprint != fingerprint:
        return CheckpointResult(event.seq, Status.Invalid,
                                "the recorded fingerprint is not that of the recorded key", cp)
    if cp.vault_id != vault.vault_id:
        return CheckpointResult(event.seq, Status.Invalid,
                                f"it was made for another vault ({cp.vault_id})", cp)
    try:
        good = verify(cp.public_key, cp.payload(), cp.signature, cp.algorithm)
    except CorruptSignature as e:
        return CheckpointResult(event.seq, Status.Invalid, f"its signature is corrupt: {e}", cp)
    except StrongroomError as e:
        return CheckpointResult(event.seq, Status.Invalid, f"it cannot be checked: {e}", cp)
    if not good:
        return CheckpointResult(event.seq, Status.Invalid,
                                "its signature does not verify under its key", cp)
    now = chain_hash_at(vault, cp.seq)
    if now is None:
        return CheckpointResult(event.seq, Status.Invalid,
                                f"the log has no event {cp.seq} any more", cp)
    if now.hex() != cp.head_hash:
        return CheckpointResult(
            event.seq, Status.Invalid,
            f"event {cp.seq} differs from the one signed: the history was rewritten", cp)
    source = trusted.get(fingerprint)
    if source is None:
        return CheckpointResult(
            event.seq, Status.Untrusted,
            f"signed by an unknown key {fingerprint[:16]} ('{cp.key_label}'): not on the "
            "hardware checked and not given with --trust", cp)
    return CheckpointResult(event.seq, Status.Valid, "intact", cp, source)


def verify_checkpoints(
    vault: AuditVault,
    *,
    trusted_keys: Iterable[bytes] = (),
    hardware_keys: Sequence[KeyInfo] = (),
) -> CheckpointReport:
    """Check every checkpoint in the log; signers are trusted if among ``hardware_keys`` (keys
    present on devices now) or ``trusted_keys`` (public keys, PEM/DER, given by the user)."""
    trusted: dict[str, str] = {}
    for data in trusted_keys:
        trusted[_fingerprint(data)] = "trust-file"
    for key in hardware_keys:
        if key.public_key:
            trusted[_fingerprint(key.public_key)] = "hardware"
    # A failed attempt is recorded under the same action (outcome failed) and signed nothing.
    events = sorted(vault.audit_events(action=ACTION, outcome=Outcome.Ok.value),
                    key=lambda e: e.seq)
    return CheckpointReport(tuple(check_one(vault, e, trusted) for e in events))


def _fingerprint(public_key: bytes) -> str:
    """SHA-256 of the canonical DER SubjectPublicKeyInfo of a PEM/DER key or certificate."""
    return hashlib.sha256(spki_der(load_public_key(public_key))).hexdigest()
