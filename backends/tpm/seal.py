"""The TPM keyslot: a random 32-byte secret sealed to this computer's TPM.

The sealed object (fixedTPM, fixedParent) lives in the vault header as the TPM's public/private
blobs; only the TPM that created it can load it, and its policy lets it unseal only while the
chosen PCRs (sha256 bank, PCR 7 — Secure Boot state — by default) hold the values they had at
enrolment, and, with a PIN, only with that PIN (the TPM's dictionary-attack counter limits
guesses). Unsealing runs in a session salted with the storage key and encrypts the secret on the
wire (AES-128-CFB parameter encryption).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from strongroom.app.errors import (
    AuthenticationFailed,
    HardwareError,
    PinBlocked,
    PinRequired,
    UsageError,
    UserCancelled,
    WrongDevice,
    WrongPin,
)
from strongroom.app.keyslots import StatusCallback, b64d, b64e
from strongroom.app.plugins import Availability
from strongroom.app.unlock_methods import SECRET_BYTES, Challenge, Enrolment, Prompts, SlotRef

from ._worker import TpmWorker, check_cancel, default_tcti, library, report, worker_for

DEVICE = "TPM"
DEFAULT_PCRS = (7,)
MAX_PCR = 23
MAX_PIN_BYTES = 32  # a TPM auth value is at most the name algorithm's digest size (SHA-256)
OPTIONS = frozenset({"pcrs", "pin"})


class PcrStateChanged(AuthenticationFailed):
    """The PCRs a slot is sealed to no longer hold their enrolment values; ``pcrs`` says which."""

    def __init__(self, pcrs: Sequence[int]) -> None:
        self.pcrs = tuple(pcrs)
        which = ("PCR " if len(self.pcrs) == 1 else "PCRs ") + ", ".join(map(str, self.pcrs))
        super().__init__(
            f"the TPM's {which} state changed since this slot was enrolled (e.g. Secure Boot "
            "settings); unlock with another method and re-enrol"
        )


def parse_pcrs(value: Any) -> list[int]:
    """The PCR indexes of the ``pcrs`` option (sorted, unique), or UsageError."""
    if not isinstance(value, list | tuple) or not all(
        isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= MAX_PCR for p in value
    ):
        raise UsageError(f"TPM option pcrs must be a list of PCR numbers 0-{MAX_PCR}")
    return sorted(set(value))


def pin_bytes(pin: str) -> bytes:
    raw = pin.encode("utf-8")
    if not raw:
        raise UsageError("the TPM PIN must not be empty")
    if len(raw) > MAX_PIN_BYTES:
        raise UsageError(f"the TPM PIN must be at most {MAX_PIN_BYTES} bytes")
    return raw


def _ask_pin(prompts: Prompts | None, retries: int | None, *, new: bool) -> bytes:
    if prompts is None:
        raise PinRequired("this TPM keyslot needs its PIN, and there is no way to ask for it")
    text = prompts.request_pin(DEVICE, retries, new=new)
    if text is None:
        raise UserCancelled()
    return pin_bytes(text)


class TpmSealSource:
    """app.unlock_methods.SlotSecretSource for the TPM (kind ``tpm``)."""

    kind = "tpm"

    def __init__(self, tcti: str | None = None) -> None:
        self.tcti = tcti or default_tcti()

    @property
    def _worker(self) -> TpmWorker:
        return worker_for(self.tcti)

    def available(self) -> Availability:
        try:
            tss = library()
            self._worker.call(tss.facts)
        except HardwareError as e:
            return Availability(False, str(e))
        except Exception as e:  # noqa: BLE001 - any TPM error means: not usable here
            return Availability(False, f"the TPM at {self.tcti} does not answer ({e})")
        return Availability(True)

    def enrol(
        self,
        *,
        vault_id: str,
        label: str,
        options: Mapping[str, Any],
        prompts: Prompts | None,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
        enrolled: Sequence[SlotRef] = (),  # each enrolment makes a new random key: no clash
    ) -> Enrolment:
        unknown = set(options) - OPTIONS
        if unknown:
            raise UsageError(f"unknown TPM option {sorted(unknown)[0]!r}")
        pcrs = parse_pcrs(options.get("pcrs", list(DEFAULT_PCRS)))
        want_pin = bool(options.get("pin", False))
        tss = library()
        pin = _ask_pin(prompts, None, new=True) if want_pin else None
        check_cancel(cancel)
        report(on_status, "Sealing a new key to the TPM")
        secret = secrets.token_bytes(SECRET_BYTES)
        sealed = self._call(tss, "seal a new key", tss.seal, secret, pcrs, pin)
        params = {
            "public": b64e(sealed.public),
            "private": b64e(sealed.private),
            "pcrs": pcrs,
            "pcr_bank": tss.PCR_BANK,
            "pin": want_pin,
            "srk_name": sealed.srk_name.hex(),
        }
        return Enrolment(params, secret)

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
        """Unseal the slot this TPM opens; ``challenge`` is ignored (a sealed key signs nothing)."""
        tss = library()
        failures: list[tuple[AuthenticationFailed, BaseException | None]] = []
        ours = self._call(tss, "identify itself", tss.srk_names)
        # Slots without a PIN first: no prompt when one of them opens.
        for slot in sorted(slots, key=lambda s: bool(s.params.get("pin", False))):
            check_cancel(cancel)
            name = slot.label or slot.id
            try:
                p = slot.params
                sealed = tss.Sealed(
                    b64d(p["public"]), b64d(p["private"]), bytes.fromhex(p["srk_name"])
                )
                tss.check_sealed(sealed)
                pcrs = parse_pcrs(p.get("pcrs", []))
                has_pin = bool(p.get("pin", False))
                bank = p.get("pcr_bank", tss.PCR_BANK)
            except (KeyError, TypeError, ValueError, UsageError) as e:
                failures.append((WrongDevice(f"TPM keyslot {name} has malformed parameters"), e))
                continue
            if bank != tss.PCR_BANK:
                failures.append((WrongDevice(f"TPM keyslot {name} uses PCR bank {bank}"), None))
                continue
            if sealed.srk_name not in ours:  # told before any PIN is asked for
                failures.append((_other_tpm(name), None))
                continue
            pin = None
            if has_pin:
                retries, locked = self._call(tss, "report its PIN counter", tss.da_retries)
                if locked:
                    raise _lockout()
                pin = _ask_pin(prompts, retries, new=False)
                check_cancel(cancel)
            report(on_status, "Unsealing the keyslot with the TPM")
            try:
                secret = self._worker.call(tss.unseal, sealed, pcrs, pin)
            except tss.WrongStorageKey as e:
                failures.append((_other_tpm(name), e))
                continue
            except tss.TSS2_Exception as e:
                err = self._unseal_error(tss, e, name, pcrs)
                if isinstance(err, WrongPin | PinBlocked):
                    raise err from e
                if not isinstance(err, AuthenticationFailed):
                    raise err from e
                failures.append((err, e))
                continue
            if len(secret) != SECRET_BYTES:
                failures.append((WrongDevice(f"TPM keyslot {name} unsealed a short secret"), None))
                continue
            return slot.id, secret
        if not failures:
            raise WrongDevice("this vault has no TPM keyslot")
        # The PCR message says what to do; prefer it over "another TPM".
        failures.sort(key=lambda f: not isinstance(f[0], PcrStateChanged))
        err, cause = failures[0]
        raise err from cause

    def _call(self, tss: Any, what: str, fn: Any, *args: Any) -> Any:
        """``fn`` on the TPM worker; a TPM error becomes HardwareError saying ``what`` failed."""
        try:
            return self._worker.call(fn, *args)
        except tss.TSS2_Exception as e:
            raise HardwareError(f"the TPM could not {what} ({e})") from e

    def _unseal_error(self, tss: Any, e: Any, name: str, pcrs: list[int]) -> HardwareError | \
            AuthenticationFailed:
        code = tss.error_code(e)
        if code in (tss.RC_POLICY_FAIL, tss.RC_PCR_CHANGED) and pcrs:
            return PcrStateChanged(pcrs)
        if code in (tss.RC_AUTH_FAIL, tss.RC_BAD_AUTH):
            try:
                retries, locked = self._worker.call(tss.da_retries)
            except Exception:  # noqa: BLE001 - the count is a courtesy
                retries, locked = None, False
            if locked:
                return _lockout()
            left = "" if retries is None else (
                f"; {retries} attempt{'' if retries == 1 else 's'} left before lockout"
            )
            return WrongPin(f"wrong PIN for TPM keyslot {name}{left}", retries)
        if code == tss.RC_LOCKOUT:
            return _lockout()
        if code == tss.RC_INTEGRITY:
            return _other_tpm(name)
        return HardwareError(f"the TPM could not unseal keyslot {name} ({e})")

    def forget(self, slot: SlotRef) -> None:
        """Nothing to release: the sealed blob lives in the vault header."""


def _other_tpm(name: str) -> WrongDevice:
    return WrongDevice(
        f"TPM keyslot {name} was sealed to another TPM (or this TPM's owner hierarchy was "
        "cleared since)"
    )


def _lockout() -> PinBlocked:
    return PinBlocked(
        "the TPM is locked out after too many wrong PINs; wait for its lockout to expire or "
        "reset it with the lockout authorisation (tpm2_dictionarylockout --clear-lockout)"
    )
