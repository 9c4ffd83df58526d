"""Windows platform checks: Secure Boot and TPM."""

from __future__ import annotations

import datetime as dt
import re

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import (
    FunctionCheck,
    Verdict,
    as_bool,
    as_int,
    as_list,
    command,
    first_lines,
    lines_matching,
    registry,
    unavailable,
)
from .common import _ps_json, _reg, _reg_line, _reg_why
from .evidence_ids import TPM_GET, TPM_PNP, TPMTOOL

# --- secure boot -----------------------------------------------------------------------------
#
# Method: HKLM\SYSTEM\CurrentControlSet\Control\SecureBoot\State UEFISecureBootEnabled
# (REG_DWORD 1 = on, 0 = off), readable without admin; Confirm-SecureBootUEFI reads the same
# UEFI variable but needs admin. When the value is absent, HKLM\SYSTEM\CurrentControlSet\Control
# PEFirmwareType (1 = BIOS, 2 = UEFI) tells a legacy-BIOS boot (no Secure Boot possible).

_SB_TITLE = "Secure Boot"
_SB_FIX = ("Turn on Secure Boot in the UEFI firmware settings (the disk must use GPT and "
           "Windows must boot in UEFI mode; `mbr2gpt` converts a legacy install).")


def _secure_boot(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("secure-boot", _SB_TITLE, "registry SecureBoot\\State UEFISecureBootEnabled")
    value, readable = _reg(bundle, "windows.secureboot-state")
    excerpt = _reg_line(bundle, "windows.secureboot-state")
    if as_int(value) == 1:
        return v(Status.Pass, "Secure Boot on", "UEFISecureBootEnabled = 1", excerpt)
    if as_int(value) == 0:
        return v(Status.Fail, "Secure Boot off", "UEFISecureBootEnabled = 0: the firmware does "
                 "not enforce Secure Boot", excerpt, _SB_FIX)
    firmware, firmware_ok = _reg(bundle, "windows.firmware-type")
    excerpt += "\n" + _reg_line(bundle, "windows.firmware-type")
    if readable and as_int(firmware) == 1:
        return v(Status.Fail, "legacy BIOS boot", "Windows boots in legacy BIOS mode "
                 "(PEFirmwareType = 1): Secure Boot is not possible", excerpt, _SB_FIX,
                 Confidence.Medium, method="registry UEFISecureBootEnabled, PEFirmwareType")
    item = registry(bundle, "windows.secureboot-state")
    why = "UEFISecureBootEnabled is not set" if item is not None and item.error == "missing" \
        else unavailable(item, "UEFISecureBootEnabled") or "UEFISecureBootEnabled is not a number"
    if not firmware_ok:  # it would tell a legacy BIOS boot (no Secure Boot possible) apart
        why += "; " + _reg_why(bundle, "windows.firmware-type")
    return v(Status.Unknown, "not determined", why, excerpt,
             "Run `Confirm-SecureBootUEFI` as administrator.", Confidence.Low)


# --- TPM -------------------------------------------------------------------------------------
#
# Method: Get-Tpm (TrustedPlatformModule module; needs administrator rights): TpmPresent,
# TpmReady, TpmEnabled/TpmActivated (TPM 1.2 only; null on 2.0). Without admin:
# `tpmtool getdeviceinformation` ("-TPM Present: True", "-TPM Version: 2.0"; documented in
# Microsoft's tpmtool reference) and the Plug and Play device list (Win32_PnPEntity), where a
# TPM 2.0 appears with hardware id ACPI\MSFT0101 and many TPM 1.2 chips as ACPI\PNP0C31.
# Not finding the device proves nothing (vendor ids vary), so only Get-Tpm or tpmtool can FAIL.

_TPM_TITLE = "TPM present"
_TPM_FIX = ("Enable the TPM (Intel PTT / AMD fTPM / discrete TPM) in the UEFI firmware settings "
            "and check it in tpm.msc.")


def _tpm(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("tpm", _TPM_TITLE, "Get-Tpm")
    tpm, tpm_why = _ps_json(bundle, TPM_GET, "Get-Tpm")
    if isinstance(tpm, dict) and as_bool(tpm.get("TpmPresent")) is not None:
        excerpt = ", ".join(f"{k} = {tpm.get(k)}" for k in (
            "TpmPresent", "TpmReady", "TpmEnabled", "TpmActivated", "ManufacturerIdTxt",
            "ManufacturerVersion") if k in tpm)
        if not as_bool(tpm.get("TpmPresent")):
            return v(Status.Fail, "no TPM", "Get-Tpm reports no TPM", excerpt, _TPM_FIX)
        if as_bool(tpm.get("TpmEnabled")) is False or as_bool(tpm.get("TpmActivated")) is False:
            return v(Status.Fail, "TPM disabled", "a TPM is present but disabled or not "
                     "activated", excerpt, _TPM_FIX)
        ready = as_bool(tpm.get("TpmReady"))
        return v(Status.Pass, "TPM present" + ("" if ready else ", not ready"),
                 "a TPM is present" + ("" if ready else " (not yet provisioned: TpmReady is "
                                       "false)"), excerpt)
    tool = command(bundle, TPMTOOL)
    tool_why = unavailable(tool, "tpmtool")
    if tool is not None and tool_why is None:
        present = re.search(r"TPM Present:\s*(True|False)", tool.stdout, re.IGNORECASE)
        version = re.search(r"TPM Version:\s*([\d.]+)", tool.stdout)
        tv = Verdict("tpm", _TPM_TITLE, "tpmtool getdeviceinformation")
        if present:
            excerpt = lines_matching(tool.stdout, r"TPM Present|TPM Version|Manufacturer ID|"
                                     r"Ready For")
            if present.group(1).lower() == "false":
                return tv(Status.Fail, "no TPM", "tpmtool reports no TPM", excerpt, _TPM_FIX,
                          Confidence.Medium)
            ver = f" {version.group(1)}" if version else ""
            return tv(Status.Pass, f"TPM{ver} present", f"tpmtool reports a TPM{ver}", excerpt,
                      confidence=Confidence.Medium)
        tool_why = "tpmtool: " + (first_lines(tool.stdout + "\n" + tool.stderr, 1)
                                  or "output not recognised")
    devices, pnp_why = _ps_json(bundle, TPM_PNP, "Win32_PnPEntity")
    for d in as_list(devices.get("devices") if isinstance(devices, dict) else None):
        if isinstance(d, dict) and str(d.get("Status", "")).upper() == "OK":
            device_id = str(d.get("PNPDeviceID", ""))
            hardware_id = device_id.split("\\")[1] if device_id.count("\\") >= 1 else device_id
            kind = "2.0" if hardware_id.upper() == "MSFT0101" else "1.2"
            pv = Verdict("tpm", _TPM_TITLE, "Win32_PnPEntity (TPM hardware ids)")
            return pv(Status.Pass, f"TPM {kind} device present",
                      f"Plug and Play lists {d.get('Name', 'a TPM')} ({hardware_id}) working",
                      f"{d.get('Name')} {device_id} Status {d.get('Status')}",
                      confidence=Confidence.Medium)
    return v(Status.Unknown, "not determined",
             "; ".join(w for w in (tpm_why, tool_why, pnp_why) if w) or "no TPM evidence",
             remediation="Run `strongroom check` as an administrator (Get-Tpm needs it).",
             confidence=Confidence.Low)


SECURE_BOOT_CHECK = FunctionCheck("secure-boot", _SB_TITLE, _secure_boot)
TPM_CHECK = FunctionCheck("tpm", _TPM_TITLE, _tpm)
