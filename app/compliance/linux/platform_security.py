"""Linux platform checks: Secure Boot (efivarfs) and TPM (the kernel's TPM class).

Both read /sys, which in a container is not the host's: :func:`container` says when (marker
files, or an overlay root read with the findmnt parser documented in disk_encryption.py).
"""

from __future__ import annotations

import datetime as dt
import re

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import file
from .common import LinuxCheck, _Result, _text, excerpt, problem
from .disk_encryption import _findmnt_root
from .evidence_ids import (
    CONTAINER_FILES,
    EFI_DIR,
    EFI_SECUREBOOT,
    EFIVARS_DIR,
    SECUREBOOT_VAR,
    TPM_CLASS,
    TPM_VERSION,
)


def container(bundle: EvidenceBundle) -> str | None:
    """Why this looks like a container (Docker/Podman marker files, systemd's marker, an overlay
    root filesystem), or None."""
    for key, path in CONTAINER_FILES.items():
        item = file(bundle, key)
        if item is not None and item.error is None:
            value = (item.content or "").strip()
            return f"{path} exists" + (f" ({value})" if value and len(value) < 40 else "")
    root = _findmnt_root(bundle)
    if root is not None and root["fstype"] in ("overlay", "aufs"):
        return f"the root filesystem is {root['fstype']}"
    return None


# ===== secure-boot =============================================================================
# Method: the UEFI variable SecureBoot (EFI global variable GUID 8be4df61-93ca-11d2-aa0d-
# 00e098032b8c) read from efivarfs, /sys/firmware/efi/efivars/SecureBoot-<GUID>: 4 bytes of
# attributes (little-endian) then the 1-byte value, 1 = Secure Boot enforcing, 0 = off (UEFI
# spec §3.3 Globally Defined Variables; the kernel's efivarfs documentation). No
# /sys/firmware/efi at all means the machine booted in legacy BIOS mode (the kernel creates it
# only on EFI boots), where Secure Boot cannot be on — except in a container, where /sys is not
# the host's view: UNKNOWN there.


def _no_host_view(bundle: EvidenceBundle) -> str | None:
    return container(bundle)


def check_secure_boot(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    r = _Result(
        "secure-boot",
        f"/sys/firmware/efi (UEFI boot); efivarfs {SECUREBOOT_VAR} (5th byte: 1 = on)",
        "Turn on Secure Boot in the firmware setup (UEFI mode; enroll the distribution's keys "
        "or use shim); a legacy-BIOS install must be converted to UEFI first.",
    )
    var = file(bundle, EFI_SECUREBOOT)
    efi = file(bundle, EFI_DIR)
    efivars = file(bundle, EFIVARS_DIR)
    excerpts = [excerpt(var), excerpt(efi)]
    if var is not None and var.error is None and var.content is not None:
        try:
            data = bytes.fromhex(var.content.strip())
        except ValueError:
            data = b""
        if len(data) == 5 and data[4] in (0, 1):
            if data[4] == 1:
                return r.make(Status.Pass, "Secure Boot on", "SecureBoot variable is 1",
                              excerpts=[f"{var.path}: {var.content.strip()} (value byte 01)"])
            return r.make(Status.Fail, "Secure Boot off", "SecureBoot variable is 0 (UEFI boot "
                          "with Secure Boot disabled)",
                          excerpts=[f"{var.path}: {var.content.strip()} (value byte 00)"])
        return r.make(Status.Unknown, "SecureBoot variable not recognised",
                      f"expected 5 bytes (attributes + value), got {var.content.strip()[:40]!r}",
                      Confidence.Low, excerpts=excerpts)
    boxed = _no_host_view(bundle)
    if var is not None and var.error not in (None, "missing"):
        return r.make(Status.Unknown, "SecureBoot variable not readable", problem(var) or "",
                      Confidence.Low, excerpts=excerpts)
    if efi is not None and efi.error == "missing":
        if boxed:
            return r.make(Status.Unknown, "no firmware view",
                          f"this looks like a container ({boxed}): /sys/firmware is not the "
                          "host's", Confidence.Medium, "Run the check on the host.",
                          excerpts=excerpts)
        return r.make(Status.Fail, "legacy BIOS boot",
                      "no /sys/firmware/efi: the machine booted without UEFI, so Secure Boot "
                      "is off", Confidence.Medium, excerpts=excerpts)
    if efi is not None and efi.error is None:
        vars_listing = _text(efivars)
        if vars_listing is not None and not vars_listing.strip():
            return r.make(Status.Unknown, "efivarfs not mounted",
                          "UEFI boot, but /sys/firmware/efi/efivars is empty (not mounted)",
                          Confidence.Low, excerpts=excerpts)
        if var is not None and var.error == "missing" and vars_listing:
            return r.make(Status.Fail, "no Secure Boot support",
                          "UEFI boot without a SecureBoot variable: the firmware does not "
                          "support Secure Boot", Confidence.Medium, excerpts=excerpts)
    # Say every read that left it open: the firmware directory, the variable listing (which
    # tells a missing variable from an unreadable one) and the variable itself.
    listing = problem(efivars, "the efivarfs listing") if efivars is not None and \
        efivars.error is not None else None
    why = [w for w in (problem(efi, "/sys/firmware/efi"), listing, problem(var)) if w]
    return r.make(Status.Unknown, "firmware state unknown",
                  "; ".join(dict.fromkeys(why)) or "no usable evidence",
                  Confidence.Low, excerpts=[*excerpts, excerpt(efivars) if efivars else ""])


# ===== tpm =====================================================================================
# Method: the kernel's TPM class, /sys/class/tpm/ (tpm0, …; the driver registers a device for
# every TPM it finds, firmware or discrete), and /sys/class/tpm/tpm0/tpm_version_major (kernel
# ≥ 5.6: "1" or "2"). No class directory: no TPM driver bound (absent, disabled in firmware, or
# a container's /sys).


def check_tpm(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    r = _Result("tpm", "/sys/class/tpm/ (tpmN devices); tpm0/tpm_version_major",
                "Enable the TPM (fTPM / PTT / Security Chip) in the firmware setup; machines "
                "without one need a hardware change.")
    listing = file(bundle, TPM_CLASS)
    version_item = file(bundle, TPM_VERSION)
    excerpts = [excerpt(listing), excerpt(version_item)]
    if listing is not None and listing.error is None:
        devices = [n for n in (listing.content or "").split() if re.fullmatch(r"tpm\d+", n)]
        if devices:
            version = (_text(version_item) or "").strip()
            label = {"2": "TPM 2.0", "1": "TPM 1.2"}.get(version, "TPM (version unknown)")
            return r.make(Status.Pass, f"{label} ({', '.join(devices)})",
                          "the kernel exposes a TPM device", excerpts=excerpts)
        return r.make(Status.Fail, "no TPM", "/sys/class/tpm has no tpm device",
                      excerpts=excerpts)
    if listing is not None and listing.error == "missing":
        boxed = _no_host_view(bundle)
        if boxed:
            return r.make(Status.Unknown, "no device view",
                          f"this looks like a container ({boxed}): its /sys is not the host's",
                          Confidence.Medium, "Run the check on the host.", excerpts=excerpts)
        return r.make(Status.Fail, "no TPM",
                      "no /sys/class/tpm: no TPM found (absent, disabled in firmware or no "
                      "driver)", Confidence.Medium, excerpts=excerpts)
    return r.make(Status.Unknown, "TPM state unknown", problem(listing, "/sys/class/tpm") or "",
                  Confidence.Low, excerpts=excerpts)


SECURE_BOOT_CHECK = LinuxCheck("secure-boot", check_secure_boot)
TPM_CHECK = LinuxCheck("tpm", check_tpm)
