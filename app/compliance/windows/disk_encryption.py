"""Windows disk-encryption check: BitLocker on the system drive."""

from __future__ import annotations

import datetime as dt

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import FunctionCheck, Verdict, as_int
from .common import _ps_json
from .evidence_ids import BITLOCKER_SHELL, BITLOCKER_WMI

# --- disk encryption -------------------------------------------------------------------------
#
# Method 1 (administrator): Win32_EncryptableVolume in root\CIMV2\Security\
# MicrosoftVolumeEncryption for the system drive: GetProtectionStatus (0 off: unencrypted,
# partly encrypted, or the key is in the clear = suspended; 1 on; 2 unknown, e.g. locked) and
# GetConversionStatus (0 fully decrypted, 1 fully encrypted, 2 encrypting, 3 decrypting,
# 4 encryption paused, 5 decryption paused) — Microsoft's Win32_EncryptableVolume docs.
# Method 2 (no admin): the shell property System.Volume.BitLockerProtection that Explorer
# uses for its padlock. Microsoft does not document its values; Windows' own drive verbs
# (HKCR\Drive\shell: encrypt-bde applies to 2, unlock-bde to 6, the manage verbs to 1/3/5)
# and PSFormatForDisplay give: 1 on, 2 off, 3 encrypting, 4 decrypting, 5 suspended,
# 6 on (locked), 8 on but waiting for activation (key still in the clear). Anything else is
# unknown. Encrypted-but-suspended leaves the key in the clear: FAIL.

_BL_TITLE = "Full-disk encryption (BitLocker)"
_BL_FIX = ("Turn on BitLocker (or Device Encryption) for the system drive in Settings > Privacy "
           "& security > Device encryption, or `manage-bde -on C:`; resume it if suspended "
           "(`manage-bde -protectors -enable C:`).")
_CONVERSION = {0: "fully decrypted", 1: "fully encrypted", 2: "encrypting", 3: "decrypting",
               4: "encryption paused", 5: "decryption paused"}
_SHELL_STATES: dict[int, tuple[Status, str, str]] = {
    1: (Status.Pass, "BitLocker on", "BitLocker protection is on"),
    2: (Status.Fail, "BitLocker off", "the system drive is not protected by BitLocker"),
    3: (Status.Fail, "encrypting", "BitLocker is encrypting the drive; it passes once done"),
    4: (Status.Fail, "decrypting", "BitLocker is being turned off (decrypting)"),
    5: (Status.Fail, "suspended", "BitLocker is suspended: the drive is encrypted but its key "
        "is stored in the clear"),
    6: (Status.Pass, "BitLocker on (locked)", "BitLocker protection is on"),
    8: (Status.Fail, "waiting for activation", "BitLocker is waiting for activation: the "
        "drive is encrypted but its key is still stored in the clear"),
}


def _disk_encryption(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("disk-encryption", _BL_TITLE,
                "Win32_EncryptableVolume GetProtectionStatus/GetConversionStatus")
    wmi, wmi_why = _ps_json(bundle, BITLOCKER_WMI, "Win32_EncryptableVolume")
    if isinstance(wmi, dict) and as_int(wmi.get("ProtectionStatus")) is not None:
        protection = as_int(wmi.get("ProtectionStatus"))
        conversion = as_int(wmi.get("ConversionStatus"))
        percent = wmi.get("EncryptionPercentage")
        drive = wmi.get("drive", "C:")
        state = _CONVERSION.get(conversion if conversion is not None else -1, "conversion unknown")
        excerpt = (f"{drive} ProtectionStatus = {protection}, ConversionStatus = {conversion} "
                   f"({state}), EncryptionPercentage = {percent}")
        if protection == 1:
            return v(Status.Pass, "BitLocker on", f"{drive} is fully encrypted and protected",
                     excerpt)
        if protection == 0 and conversion == 1:
            return v(Status.Fail, "suspended", f"{drive} is encrypted but protection is off "
                     "(suspended): the key is stored in the clear", excerpt, _BL_FIX)
        if protection == 0:
            return v(Status.Fail, state if conversion else "BitLocker off",
                     f"{drive} is not protected: {state}"
                     + (f" ({percent}%)" if conversion in (2, 3, 4, 5) else ""), excerpt, _BL_FIX)
        wmi_why = f"protection status {protection} (unknown, e.g. the volume is locked)"
    shell, shell_why = _ps_json(bundle, BITLOCKER_SHELL, "Shell.Application")
    sv = Verdict("disk-encryption", _BL_TITLE, "shell property System.Volume.BitLockerProtection")
    if isinstance(shell, dict):
        value = as_int(shell.get("value"))
        drive = shell.get("drive", "C:")
        excerpt = f"{drive} System.Volume.BitLockerProtection = {shell.get('value')!r}"
        if value in _SHELL_STATES:
            status, observed, reason = _SHELL_STATES[value]
            return sv(status, observed, f"{reason} ({drive}, read without admin rights)", excerpt,
                      _BL_FIX, Confidence.Medium)
        shell_why = f"System.Volume.BitLockerProtection = {shell.get('value')!r} is not a " \
                    "known state (BitLocker may be unsupported on this edition)"
    return v(Status.Unknown, "not determined",
             "; ".join(w for w in (wmi_why, shell_why) if w) or "no evidence",
             remediation="Run `strongroom check` as an administrator to read BitLocker status.",
             confidence=Confidence.Low)


DISK_ENCRYPTION_CHECK = FunctionCheck("disk-encryption", _BL_TITLE, _disk_encryption)
