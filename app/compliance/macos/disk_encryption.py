"""macOS disk-encryption check: FileVault on and fully encrypted."""

from __future__ import annotations

import datetime as dt
import re

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import (
    FunctionCheck,
    Verdict,
    command,
    first_lines,
    lines_matching,
    output,
    unavailable,
)
from .evidence_ids import FDESETUP

# --- disk encryption -------------------------------------------------------------------------
#
# Method: `fdesetup status` (fdesetup(8): "Some status related commands can be run from a
# non-root session"). Observed outputs, as also matched by NIST's macOS Security Compliance
# Project (rules/system_settings/system_settings_filevault_enforce.yaml greps
# "FileVault is On.") and by Homebrew's strap:
#   FileVault is On.
#   FileVault is Off.
#   FileVault is Off, but will be enabled after the next restart.   (deferred enablement)
#   Encryption in progress: Percent completed = 42.1
#   Decryption in progress: Percent completed = 12
# Extra lines such as "FileVault master keychain appears to be installed." do not change the
# answer; any in-progress or paused conversion means the volume is not fully protected yet.

_FV_TITLE = "Full-disk encryption (FileVault)"
_FV_FIX = ("Turn on FileVault in System Settings > Privacy & Security > FileVault (or "
           "`sudo fdesetup enable`), keep the recovery key in escrow, and let encryption finish.")


def _disk_encryption(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("disk-encryption", _FV_TITLE, "fdesetup status")
    item = command(bundle, FDESETUP)
    why = unavailable(item, "fdesetup")
    if why or item is None:
        return v(Status.Unknown, "not determined", why or "no evidence",
                 remediation="Run the check on macOS, where /usr/bin/fdesetup exists.")
    text = output(item)
    excerpt = lines_matching(text, r"FileVault|progress|paused|Deferred") or first_lines(text)
    converting = re.search(r"(Encryption|Decryption) (in progress|paused)"
                           r"(?:: Percent completed = ([\d.]+))?", text, re.IGNORECASE)
    if converting:
        kind, state, percent = converting.group(1).lower(), converting.group(2).lower(), \
            converting.group(3)
        share = f" ({percent}% done)" if percent else ""
        observed = f"{kind} {state}{share}"
        if kind == "decryption":
            return v(Status.Fail, observed, "FileVault is being turned off: the disk is being "
                     "decrypted", excerpt, _FV_FIX)
        return v(Status.Fail, observed, "FileVault is on but the disk is not fully encrypted "
                 "yet; it passes once encryption completes", excerpt,
                 "Keep the Mac on power and awake until encryption completes, then re-run.")
    if re.search(r"FileVault is Off, but will be enabled after the next restart", text):
        return v(Status.Fail, "enabled at next restart",
                 "FileVault enablement is deferred: nothing is encrypted until the user logs "
                 "out or restarts", excerpt,
                 "Log out or restart so deferred FileVault enablement runs, then let it finish.")
    if re.search(r"^\s*FileVault is On\.", text, re.MULTILINE):
        return v(Status.Pass, "FileVault on", "FileVault is on and no conversion is in "
                 "progress", excerpt)
    if re.search(r"^\s*FileVault is Off\.", text, re.MULTILINE):
        return v(Status.Fail, "FileVault off", "FileVault is off: the startup disk is not "
                 "encrypted", excerpt, _FV_FIX)
    return v(Status.Unknown, "unrecognised output",
             f"fdesetup status said something we do not recognise (exit {item.exit_code})",
             first_lines(text), "Run `fdesetup status` and report the output.",
             Confidence.Low)


DISK_ENCRYPTION_CHECK = FunctionCheck("disk-encryption", _FV_TITLE, _disk_encryption)
