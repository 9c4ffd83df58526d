"""The final signatures over a transcript's head: each operator's FIDO2 assertion (the same touch
that opens their own keyslot, as an approval does) and, where the script says so, the ceremony
key's signature on its token. Each signature is checked as verify.py will check it before it is
kept; the transcript must have ended (Transcript.finish) first."""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING

from ..access import operators
from ..access.wrapping import public_of
from ..errors import AuthenticationFailed, IntegrityError, NotFound, Refused, UsageError
from ..keys import algorithms
from ..keys.ports import KeyInfo, KeyStore, SignAlgorithm
from ..keyslots import StatusCallback, b64d, unwrap_master_key, unwrap_operator_key
from ..unlock_methods import HardwareUnlocker
from . import script as ceremony_script
from .transcript import (
    KEY_SIGNATURE_CONTEXT,
    Fido2Signature,
    KeySignature,
    OperatorKey,
    Transcript,
)
from .verify import fido2_problem, key_signature_problem

if TYPE_CHECKING:
    from ..vault.session import VaultSession

FIDO2 = "fido2"


def _ended(transcript: Transcript) -> bytes:
    if not transcript.ended:
        raise Refused("the transcript has not ended: finish it before its head is signed")
    return bytes.fromhex(transcript.head)


def sign_head_with_fido2(
    vault: VaultSession, transcript: Transcript, operator_name: str, role: str,
    unlocker: HardwareUnlocker, *, cancel: threading.Event | None = None,
    on_status: StatusCallback | None = None,
) -> Fido2Signature:
    """``operator_name``, filling ``role`` (a role id of the script), signs the head with their
    security key: the assertion whose challenge is the head opens their own FIDO2 keyslot (its
    KEK unwraps this vault's master key and their operator key). The assertion and the
    credential's public key go into the transcript."""
    head = _ended(transcript)
    names = transcript.ceremony.roles.get(role)
    if names is None:
        raise UsageError(f"the ceremony has no role {role!r}")
    name = next((n for n in names if n.casefold() == operator_name.casefold()), None)
    if name is None:
        raise UsageError(f"{operator_name} does not fill role {role!r} in this ceremony")
    if not isinstance(unlocker, HardwareUnlocker) or unlocker.kind != FIDO2:
        raise UsageError("the head is signed with a FIDO2 security key")
    ref = vault.header.operator_named(name)
    if ref is None:
        raise NotFound(f"no operator named {name!r}")
    with vault._read() as conn:
        operator = operators.get(conn, ref.id)
    _check_role(transcript, role, operator)
    slots = [s for s in vault.header.slots if s.operator == ref.id and s.kind == FIDO2]
    if not slots:
        raise AuthenticationFailed(f"{name} has no security key to sign with")
    keys = vault._unlocked_keys
    unlocker.challenge = head
    for slot in unlocker.select(slots, cancel=cancel, on_status=on_status):
        kek = unlocker.derive_kek(slot, cancel=cancel, on_status=on_status)
        if unwrap_master_key(kek, slot, vault.vault_id) != keys.master:
            continue
        key = unwrap_operator_key(kek, slot, vault.vault_id)
        if key is not None and public_of(key) == operator.public_key:
            return _keep_assertion(transcript, role, name, dict(unlocker.evidence or {}))
    raise AuthenticationFailed(f"the security key is not {name}'s; the head was not signed")


def _check_role(transcript: Transcript, role: str, operator: operators.Operator) -> None:
    """The operator is active and holds the Strongroom role of the script's role kind."""
    if not operator.active:
        raise Refused(f"{operator.name} is not an active operator")
    try:
        spec = ceremony_script.parse(transcript.ceremony.script).roles.get(role)
    except UsageError as e:
        raise IntegrityError(f"the transcript's script does not parse: {e}") from None
    needed = ceremony_script.ROLE_KINDS[spec.kind] if spec is not None else None
    if needed is None or needed not in operator.roles:
        raise Refused(f"{operator.name} does not hold the role {needed or role!r}")


def _keep_assertion(transcript: Transcript, role: str, name: str,
                    evidence: dict[str, object]) -> Fido2Signature:
    try:
        signature = Fido2Signature(
            role, name, transcript.head,
            credential_id=b64d(str(evidence["credential_id"])),
            authenticator_data=b64d(str(evidence["authenticator_data"])),
            client_data_json=b64d(str(evidence["client_data_json"])),
            signature=b64d(str(evidence["signature"])))
        spki = b64d(str(evidence["spki"]))
    except KeyError:
        raise Refused(f"{name}'s security key was enrolled before Strongroom kept its public "
                      "key; enrol it again to sign ceremonies") from None
    except ValueError:
        raise AuthenticationFailed("the security key's assertion does not parse") from None
    why = fido2_problem(signature, spki)
    if why is not None:
        raise AuthenticationFailed(f"{name}'s assertion does not check: {why}")
    known = transcript.operator_keys.get(name)
    if known is not None and known.credential_id != signature.credential_id:
        raise Refused(f"{name} is in the transcript with another security key; sign with it")
    transcript.operator_keys[name] = OperatorKey(signature.credential_id, spki)
    transcript.add_signature(signature)
    return signature


def sign_head_with_key(
    store: KeyStore, key: KeyInfo, transcript: Transcript,
    algorithm: SignAlgorithm | str | None = None, *, cancel: threading.Event | None = None,
    on_status: StatusCallback | None = None,
) -> KeySignature:
    """The ceremony key ``key`` signs KEY_SIGNATURE_CONTEXT ‖ the head on its token (the
    algorithm: the key's default when None); its public key is kept under its label."""
    head = _ended(transcript)
    chosen = algorithms.choose_algorithm(key, None if algorithm is None else str(algorithm))
    spki = key.public_key
    known = transcript.ceremony_keys.get(key.label)
    if known is not None and known != spki:
        raise Refused(f"the transcript holds another public key for {key.label!r}")
    message = KEY_SIGNATURE_CONTEXT + head
    name = chosen.hash_name
    if name is None:
        raw = store.sign(key, message, chosen, prehashed=False, cancel=cancel,
                         on_status=on_status)
    else:
        raw = store.sign(key, hashlib.new(name, message).digest(), chosen, prehashed=True,
                         cancel=cancel, on_status=on_status)
    signature = KeySignature(key.label, chosen.value, transcript.head, raw)
    why = key_signature_problem(signature, spki)
    if why is not None:
        raise IntegrityError(f"the token's signature does not check: {why}")
    transcript.ceremony_keys[key.label] = spki  # after the end: bound by this signature
    transcript.add_signature(signature)
    return signature
