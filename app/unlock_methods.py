"""Hardware and OS keyslots: FIDO2 security keys, the TPM and the OS keyring.

A backend (a :class:`SlotSecretSource`) turns a slot's public parameters back into a 32-byte secret
that only its device can reproduce: a FIDO2 key's PRF output, a random key sealed to the TPM, or a
random key kept in the OS credential store. The core turns that secret into the slot's KEK with
HKDF (and, in two-factor mode, together with an Argon2id key from the passphrase), so every kind
wraps the master key the same way (:mod:`keyslots`). Backends are found through the
``strongroom.backends`` entry points ``fido2``, ``tpm`` and ``keyring``; this module never imports
them.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from .crypto import Argon2Params, hkdf
from .errors import BackendUnavailable, UsageError, UserCancelled, WrongDevice
from .keyslots import (
    PASSPHRASE,
    Keyslot,
    StatusCallback,
    WrappedKey,
    b64d,
    b64e,
    new_slot_id,
    passphrase_slot_params,
    wrap_master_key,
)
from .plugins import BACKENDS_GROUP, Availability, load_backend

SECRET_BYTES = 32


class SlotKind(StrEnum):
    """The hardware and OS keyslot kinds (the passphrase kind lives in :mod:`keyslots`)."""

    Fido2 = "fido2"
    Tpm = "tpm"
    Keyring = "keyring"


# The keyslot kind that M of N custodians' SLIP-39 shares open (app/ceremony/recovery.py).
RECOVERY = "recovery"

# What the UI and `unlock-method list` say about each kind's assurance.
ASSURANCE = {
    PASSPHRASE: "knowledge: the passphrase",
    SlotKind.Fido2.value: "high: a security key you hold (touch, and PIN if the key asks)",
    SlotKind.Tpm.value: "device-bound: opens only on this computer's TPM",
    SlotKind.Keyring.value: (
        "lower assurance: anyone logged in as you on this device can unlock without a passphrase"
    ),
}

# Below this many enrolled security keys the inventory warns: losing the one key locks you out.
MIN_FIDO2_KEYS = 2


@dataclass(frozen=True)
class SlotRef:
    """The public part of one keyslot, handed to a backend to recover that slot's secret."""

    id: str
    label: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Enrolment:
    """What a backend returns on enrolment: public parameters to store, and the secret (not)."""

    params: Mapping[str, Any]
    secret: bytes = field(repr=False)


@dataclass
class Challenge:
    """Bytes an approval asks the device to sign in the same touch that opens the slot.

    A source that can (FIDO2: the WebAuthn challenge of the getAssertion that evaluates the PRF)
    leaves what proves it in ``evidence`` (public data, kept in the audit log); a source that
    cannot sign (TPM, OS keyring) ignores the challenge and leaves ``evidence`` None.
    """

    value: bytes
    evidence: dict[str, Any] | None = None


class Prompts(Protocol):
    """The UI's side of a hardware wait (like python-fido2's UserInteraction); the core opens no
    dialog. ``request_pin`` returns None when the user cancels."""

    def prompt_touch(self, device: str) -> None: ...

    def request_pin(self, device: str, retries: int | None, *, new: bool = False) -> str | None: ...


@runtime_checkable
class SlotSecretSource(Protocol):
    """A port implemented in ``backends/``: one kind of hardware or OS keyslot."""

    kind: str

    def available(self) -> Availability:
        """Whether this backend can run here (library, device, service) and why not."""
        ...

    def enrol(
        self,
        *,
        vault_id: str,
        label: str,
        options: Mapping[str, Any],
        prompts: Prompts | None,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        enrolled: Sequence[SlotRef] = (),
    ) -> Enrolment:
        """Create a new secret on the device; ``params`` must hold nothing secret.

        ``enrolled`` are this vault's slots of the same kind: a source that can tell the device
        already holds one of them refuses with AlreadyExists (a second slot on the same security
        key would only look like a backup)."""
        ...

    def recover(
        self,
        slots: Sequence[SlotRef],
        *,
        vault_id: str,
        prompts: Prompts | None,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        challenge: Challenge | None = None,
    ) -> tuple[str, bytes]:
        """The id of the slot this device opens and its secret; :class:`WrongDevice` if none.

        With ``challenge`` (an approval), a device that signs has the same touch sign it and
        fills ``challenge.evidence``; other sources accept the keyword and ignore it."""
        ...

    def forget(self, slot: SlotRef) -> None:
        """Drop what the slot keeps outside the vault (a keyring entry); most kinds keep none."""
        ...


# ----- key derivation -------------------------------------------------------------------------


def kek_salt(kind: str, params: Mapping[str, Any]) -> bytes:
    """HKDF salt: the FIDO2 credential id (binds the KEK to that credential), else a random salt."""
    if kind == SlotKind.Fido2.value:
        return b64d(params["credential_id"])
    return b64d(params["kek_salt"])


def two_factor_params(params: Mapping[str, Any]) -> Argon2Params | None:
    """The Argon2id parameters of a slot that also needs the passphrase, or None."""
    p = params.get("passphrase")
    if p is None:
        return None
    argon = Argon2Params(
        salt=b64d(p["salt"]),
        iterations=int(p["iterations"]),
        memory_kib=int(p["memory_kib"]),
        lanes=int(p["lanes"]),
    )
    argon.check()
    return argon


def derive_slot_kek(
    kind: str, params: Mapping[str, Any], secret: bytes, passphrase: bytes | None = None
) -> bytes:
    """KEK = HKDF-SHA256(device secret [‖ Argon2id(passphrase)], salt, versioned label)."""
    if len(secret) < SECRET_BYTES:
        raise WrongDevice(f"the {kind} device returned a short secret")
    argon = two_factor_params(params)
    ikm, label = secret, f"keyslot/{kind}"
    if argon is not None:
        if passphrase is None:
            raise UsageError(f"this {kind} keyslot also needs the passphrase")
        ikm, label = secret + argon.derive(passphrase), f"keyslot/{kind}+passphrase"
    return hkdf(ikm, label, salt=kek_salt(kind, params))


def new_hardware_slot(
    source: SlotSecretSource,
    master_key: bytes,
    vault_id: str,
    *,
    now: str,
    label: str,
    options: Mapping[str, Any] | None = None,
    passphrase: bytes | None = None,
    two_factor_kdf: Argon2Params | None = None,
    prompts: Prompts | None = None,
    cancel: threading.Event | None = None,
    on_status: StatusCallback | None = None,
    enrolled: Sequence[SlotRef] = (),
) -> tuple[Keyslot, bytes]:
    """Enrol ``source`` and wrap the master key under the new slot's KEK; returns (slot, KEK).

    With ``passphrase`` (and the Argon2id cost ``two_factor_kdf``, a fresh salt is drawn) the slot
    needs both the device and the passphrase.
    """
    enrolment = source.enrol(
        vault_id=vault_id, label=label, options=dict(options or {}), prompts=prompts,
        cancel=cancel, on_status=on_status, enrolled=enrolled,
    )
    params: dict[str, Any] = dict(enrolment.params)
    if source.kind != SlotKind.Fido2.value:
        params["kek_salt"] = b64e(secrets.token_bytes(32))
    if passphrase is not None:
        if two_factor_kdf is None:
            raise UsageError("two-factor enrolment needs the Argon2id cost")
        kdf = replace(two_factor_kdf, salt=secrets.token_bytes(16))
        params["passphrase"] = passphrase_slot_params(kdf)
    slot = Keyslot(
        id=new_slot_id(), kind=source.kind, label=label, params=params,
        wrapped=WrappedKey(b"", b""), created=now,
    )
    kek = derive_slot_kek(source.kind, params, enrolment.secret, passphrase)
    return replace(slot, wrapped=wrap_master_key(kek, master_key, slot, vault_id)), kek


def needs_passphrase(slot: Keyslot) -> bool:
    """Whether a hardware slot is two-factor (device and passphrase)."""
    return slot.kind != PASSPHRASE and "passphrase" in slot.params


@dataclass
class HardwareUnlocker:
    """A :class:`keyslots.KeyslotUnlocker` for one hardware kind.

    The vault first hands it every slot of its kind (:meth:`select`); the backend finds which one
    the device present opens (a FIDO2 key is probed silently before any touch), and only that slot
    is then tried. An approval sets ``challenge`` (the operation's digest) first; after
    :meth:`select` (or :meth:`derive_kek`) ``evidence`` holds what the device signed over it, or
    None when it signs nothing.
    """

    source: SlotSecretSource
    vault_id: str
    prompts: Prompts | None = None
    passphrase: bytes | None = field(default=None, repr=False)
    challenge: bytes | None = None
    evidence: dict[str, Any] | None = field(default=None, init=False)
    _found: tuple[str, bytes] | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return self.source.kind

    def select(
        self,
        slots: Sequence[Keyslot],
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> list[Keyslot]:
        """Ask the device which of ``slots`` it opens; returns that slot alone."""
        refs = [SlotRef(s.id, s.label, s.params) for s in slots]
        asked = Challenge(self.challenge) if self.challenge is not None else None
        self.evidence = None
        slot_id, secret = self.source.recover(
            refs, vault_id=self.vault_id, prompts=self.prompts, cancel=cancel, on_status=on_status,
            challenge=asked,
        )
        self._found = (slot_id, secret)
        self.evidence = asked.evidence if asked is not None else None
        return [s for s in slots if s.id == slot_id]

    def derive_kek(
        self,
        slot: Keyslot,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> bytes:
        if cancel is not None and cancel.is_set():
            raise UserCancelled()
        if self._found is None or self._found[0] != slot.id:
            self.select([slot], cancel=cancel, on_status=on_status)
        assert self._found is not None  # noqa: S101 - select() sets it or raises
        if on_status is not None and needs_passphrase(slot):
            on_status("Deriving the key from your passphrase")
        return derive_slot_kek(slot.kind, slot.params, self._found[1], self.passphrase)


# ----- finding the backends -------------------------------------------------------------------


SourceFactory = Callable[[], SlotSecretSource]


def load_source(kind: str) -> SlotSecretSource:
    """The installed backend for ``kind``, found through the ``strongroom.backends`` entry point."""
    if kind not in {k.value for k in SlotKind}:
        raise UsageError(f"unknown unlock method {kind!r}; choose fido2, tpm or keyring")
    factory: SourceFactory = load_backend(BACKENDS_GROUP, kind, missing=BackendUnavailable(
        f"no {kind} backend is installed (entry point {BACKENDS_GROUP}:{kind})"
    ))
    return factory()


def availability(kind: str) -> Availability:
    """Whether ``kind`` can be used here, and why not; never raises."""
    if kind == RECOVERY:  # custodians' shares, typed in: no backend
        return Availability(True)
    try:
        return load_source(kind).available()
    except Exception as e:  # noqa: BLE001 - a broken backend is reported, not raised
        return Availability(False, str(e) or type(e).__name__)


# ----- inventory --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotStatus:
    """One keyslot as `unlock-method list` and Settings → Unlock methods show it."""

    slot: Keyslot
    assurance: str
    two_factor: bool


def slot_inventory(slots: Sequence[Keyslot]) -> list[SlotStatus]:
    return [SlotStatus(s, assurance(s), needs_passphrase(s)) for s in slots]


def assurance(slot: Keyslot) -> str:
    """The slot's kind's assurance; a recovery slot's says M of N and its last drill."""
    if slot.kind != RECOVERY:
        return ASSURANCE.get(slot.kind, "unknown kind")
    m, n = slot.params.get("threshold"), slot.params.get("count")
    of = f"{m} of {n}" if type(m) is int and type(n) is int else "M of N"
    drilled = f"last drill {slot.last_tested[:10]}" if slot.last_tested else "never drilled"
    return f"possession: {of} SLIP-39 shares ({drilled})"


def inventory_warnings(slots: Sequence[Keyslot]) -> list[str]:
    """What an admin should fix about the vault's unlock methods (empty when nothing)."""
    out = []
    fido2 = sum(1 for s in slots if s.kind == SlotKind.Fido2.value)
    if 0 < fido2 < MIN_FIDO2_KEYS:
        out.append(
            "only one security key is enrolled: enrol a second (kept apart) so one lost key "
            "does not leave only the other methods"
        )
    if not any(s.kind == PASSPHRASE for s in slots) and fido2 < MIN_FIDO2_KEYS:
        out.append("no passphrase keyslot and fewer than two security keys: add a fallback")
    if any(s.kind == SlotKind.Keyring.value for s in slots):
        out.append(
            "the OS keyring slot opens the vault for anyone logged in as you on this device; "
            "forget it on shared or unattended machines"
        )
    known = {PASSPHRASE, RECOVERY, *(k.value for k in SlotKind)}
    out.extend(
        f"keyslot {s.label or s.id} is of a kind this Strongroom does not know ({s.kind})"
        for s in slots if s.kind not in known
    )
    return out
