"""The two-person rule: a critical operation needs a second, different, active operator with a
role that may approve it, who authenticates with their own factor at the same console or command.

An approval is bound to one operation: the SHA-256 of the vault id, the operation, its target, the
acting operator and a fresh nonce. It is spent when used (``approvals_spent``), so it cannot be
replayed, and an approval made for one operation does not match another. The approval (who, when,
how, what) goes into the operation's own audit event.

Which operations are critical is the vault's policy (policy.py). When no other active operator
could approve (a vault with one operator), the operation proceeds as before and its event says so,
unless the policy is ``strict``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..audit import Outcome
from ..crypto import canonical_json
from ..errors import AccessDenied, AuthenticationFailed, NotFound, WrongPassphrase
from ..keyslots import (
    PASSPHRASE,
    KeyslotUnlocker,
    StatusCallback,
    unwrap_master_key,
    unwrap_operator_key,
)
from ..unlock_methods import HardwareUnlocker
from . import custody, operators, policy
from .operators import Operator
from .roles import ADMINISTRATOR, CUSTODIAN
from .wrapping import public_of

if TYPE_CHECKING:
    from ..vault.session import VaultSession

# Who may approve what: access and policy changes need an Administrator; values and keys a
# Custodian or an Administrator.
APPROVER_ROLES = {
    "access.change": (ADMINISTRATOR,),
    "policy.change": (ADMINISTRATOR,),
    "keyslot.remove": (ADMINISTRATOR,),
    "backup.restore": (ADMINISTRATOR,),
}
DEFAULT_APPROVER_ROLES = (CUSTODIAN, ADMINISTRATOR)


@dataclass(frozen=True)
class Approval:
    approver_id: str
    approver: str
    method: str  # the approver's keyslot kind: passphrase, fido2, tpm, keyring
    slot_id: str
    at: str
    operation: str
    target: str
    nonce: str
    digest: str
    evidence: dict[str, Any] = field(default_factory=dict)
    # The approver's shares of dual-control level keys, (level, generation) -> SLIP-39 share,
    # for the approved operation only; never recorded.
    shares: dict[tuple[str, int], str] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"approver": self.approver, "approver_id": self.approver_id,
                "method": self.method, "slot": self.slot_id, "at": self.at,
                "operation": self.operation, "target": self.target, "digest": self.digest,
                **({"evidence": self.evidence} if self.evidence else {})}


def digest(vault_id: str, operation: str, target: str, actor_id: str, nonce: str) -> str:
    return hashlib.sha256(canonical_json({
        "vault": vault_id, "operation": operation, "target": target, "actor": actor_id,
        "nonce": nonce, "purpose": "strongroom approval"})).hexdigest()


def approve(vault: VaultSession, operation: str, target: str, approver_name: str,
            unlocker: KeyslotUnlocker, *, cancel: threading.Event | None = None,
            on_status: StatusCallback | None = None) -> Approval:
    """The approver authenticates with one of their own keyslots (``unlocker``: their passphrase
    or their security key); returns an approval of this one operation by this actor."""
    keys = vault._unlocked_keys
    ref = vault.header.operator_named(approver_name)
    if ref is None:
        raise NotFound(f"no operator named {approver_name!r}")
    slots = [s for s in vault.header.slots if s.operator == ref.id and s.kind == unlocker.kind]
    if not slots:
        raise AuthenticationFailed(f"{ref.name} has no {unlocker.kind} unlock method to approve "
                                   "with")
    with vault._read() as conn:
        approver = operators.get(conn, ref.id)
    nonce = secrets.token_hex(16)
    wanted = digest(vault.vault_id, operation, target, keys.operator_id, nonce)
    if isinstance(unlocker, HardwareUnlocker):
        # A security key signs the digest in the same touch that opens the approver's slot.
        unlocker.challenge = bytes.fromhex(wanted)
    hardware = getattr(unlocker, "select", None)
    if hardware is not None:
        slots = hardware(slots, cancel=cancel, on_status=on_status)
    for slot in slots:
        kek = unlocker.derive_kek(slot, cancel=cancel, on_status=on_status)
        if unwrap_master_key(kek, slot, vault.vault_id) != keys.master:
            continue
        key = unwrap_operator_key(kek, slot, vault.vault_id)
        if key is not None and public_of(key) == approver.public_key:
            evidence = unlocker.evidence if isinstance(unlocker, HardwareUnlocker) else None
            return Approval(approver.id, approver.name, slot.kind, slot.id, vault._now(),
                            operation, target, nonce, wanted, evidence=dict(evidence or {}),
                            shares=_shares(vault, approver.id, key))
    vault.record("approval.failed", target, Outcome.Denied,
                 {"operation": operation, "approver": approver.name, "method": unlocker.kind})
    if unlocker.kind == PASSPHRASE:
        raise WrongPassphrase(f"the passphrase is not {approver.name}'s; nothing was done")
    raise AuthenticationFailed(f"the {unlocker.kind} key is not {approver.name}'s; nothing was "
                               "done")


def _shares(vault: VaultSession, approver_id: str, key: bytes) -> dict[tuple[str, int], str]:
    """The approver's shares of the current keys of dual-control levels."""
    out: dict[tuple[str, int], str] = {}
    with vault._read() as conn:
        rows = conn.execute("SELECT w.level, w.generation FROM dek_wraps w WHERE "
                            "w.operator_id = ? AND w.generation = (SELECT max(generation) "
                            "FROM deks d WHERE d.level = w.level)", (approver_id,)).fetchall()
        for level, generation in rows:
            opened = custody.open_wrap(custody.unwrap(conn, vault.vault_id, level, generation,
                                                      approver_id, key), level, generation)
            if isinstance(opened, custody.Share):
                out[(level, generation)] = opened.mnemonic
    return out


def check(vault: VaultSession, conn: Any, operation: str, target: str,
          approval: Approval | None, *, critical: bool) -> dict[str, Any]:
    """In the operation's transaction: enforce the rule; returns what the audit event records.
    An approval given is checked (and spent) even where the rule does not ask for one; its
    shares of dual-control keys serve this operation only."""
    keys = vault._unlocked_keys
    keys.co_shares.clear()
    if not critical and approval is None:
        return {}
    roles = APPROVER_ROLES.get(operation, DEFAULT_APPROVER_ROLES)
    eligible = [o for o in operators.all_operators(conn)
                if o.active and o.id != keys.operator_id and set(o.roles) & set(roles)]
    what = policy.describe(operation)
    if approval is None:
        if not eligible and not policy.load(conn).strict:
            return {"two_person": "no other operator may approve"}
        names = ", ".join(o.name for o in eligible) or f"nobody ({' or '.join(roles)} needed)"
        raise _refused(f"{what} is a two-person operation: a second operator must approve it "
                       f"(one of: {names})", operation, target, "missing")
    if approval.approver_id == keys.operator_id:
        raise _refused("an operator cannot approve their own operation", operation, target,
                       "self-approval")
    approver = spend(vault, conn, approval, operation, target, roles=roles)
    keys.co_shares.update({k: (approver.id, m) for k, m in approval.shares.items()})
    return {"approval": approval.to_json()}


def spend(vault: VaultSession, conn: Any, approval: Approval, operation: str, target: str, *,
          roles: tuple[str, ...] | None = None) -> Operator:
    """In the caller's transaction: the approver, after checking they are active (and hold one
    of ``roles``), that the approval is of this operation by this actor, that a security key's
    assertion signed it, and that it was not used before; then it is spent. Ceremonies use it
    for each person's confirmation of a step."""
    keys = vault._unlocked_keys
    try:
        approver: Operator | None = operators.get(conn, approval.approver_id)
    except NotFound:
        approver = None
    if approver is None or not approver.active:
        raise _refused(f"the approver {approval.approver} is not an active operator",
                       operation, target, "approver-inactive")
    if roles is not None and not set(approver.roles) & set(roles):
        raise _refused(f"{approver.name} may not approve this: it needs the role "
                       f"{' or '.join(roles)}", operation, target, "approver-role")
    expected = digest(vault.vault_id, operation, target, keys.operator_id, approval.nonce)
    if (approval.operation, approval.target, approval.digest) != (operation, target, expected):
        raise _refused("the approval was given for a different operation", operation, target,
                       "other-operation")
    if approval.method == "fido2" and not hmac.compare_digest(
            _signed_challenge(approval.evidence), bytes.fromhex(approval.digest)):
        raise _refused("the security key's assertion is for another operation", operation,
                       target, "assertion-other-operation")
    if conn.execute("SELECT 1 FROM approvals_spent WHERE digest = ?",
                    (approval.digest,)).fetchone():
        raise _refused("the approval was already used; an approval is good for one operation",
                       operation, target, "replayed")
    conn.execute("INSERT INTO approvals_spent (digest, ts) VALUES (?, ?)",
                 (approval.digest, vault._now()))
    return approver


def _signed_challenge(evidence: dict[str, Any]) -> bytes:
    """The challenge in a FIDO2 assertion's clientDataJSON (b"" when there is none or it does
    not parse: a security-key approval without its assertion is refused)."""
    try:
        client_data = json.loads(base64.b64decode(evidence["client_data_json"], validate=True))
        text = client_data["challenge"]
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (KeyError, TypeError, ValueError, binascii.Error):
        return b""


def _refused(message: str, operation: str, target: str, why: str) -> AccessDenied:
    e = AccessDenied(message, target=target,
                     details={"missing": "approval", "why": why, "operation": operation})
    return e
