"""macOS platform checks: Secure Boot, and TPM (not applicable on Macs)."""

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
from .evidence_ids import ARM64, IBRIDGE, SECUREBOOT_NVRAM

# --- secure boot -----------------------------------------------------------------------------
#
# Method: Apple silicon (`sysctl -n hw.optional.arm64` = 1) always boots securely; its policy
# (Full / Reduced / Permissive Security) is shown without admin rights under "Boot Policy" in
# `system_profiler SPiBridgeDataType` ("Secure Boot: Full Security"). `bputil -d` shows the
# same but needs root, so it is not used. Intel Macs with a T2 chip keep the Startup Security
# Utility choice in NVRAM: `nvram 94b73556-2197-4702-82a8-3e1337dafbfb:AppleSecureBootPolicy`
# prints %02 (Full), %01 (Medium) or %00 (No Security) — AppleImg4SbModeFull/Medium/Disabled
# in OpenCore's AppleImg4Verification.h. An Intel Mac without a T2 chip has no Secure Boot.
# Full and Reduced/Medium both verify the OS signature chain, so both pass; Permissive/None
# fails.

_SB_TITLE = "Secure Boot"
_SB_FIX = ("Start up in macOS Recovery, open Startup Security Utility and choose Full "
           "Security.")


def _secure_boot(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("secure-boot", _SB_TITLE, "system_profiler SPiBridgeDataType; nvram "
                "AppleSecureBootPolicy")
    arch = command(bundle, ARM64)
    apple_silicon: bool | None = None
    if arch is not None and arch.error is None:
        apple_silicon = arch.exit_code == 0 and arch.stdout.strip() == "1"
    bridge = command(bundle, IBRIDGE)
    bridge_text = output(bridge) if bridge is not None and bridge.error is None else None
    if bridge_text:
        m = re.search(r"Secure Boot:\s*(Full|Reduced|Medium|Permissive|No) Security", bridge_text)
        if m:
            level = m.group(1)
            excerpt = lines_matching(bridge_text, r"Secure Boot|Model Name|System Integrity")
            if level in ("Permissive", "No"):
                return v(Status.Fail, f"{level} Security", f"the startup security policy is "
                         f"{level} Security: the OS signature chain is not enforced", excerpt,
                         _SB_FIX)
            note = "" if level == "Full" else "; Full Security is stricter (current OS only)"
            return v(Status.Pass, f"{level} Security", f"Secure Boot enforced ({level} "
                     f"Security){note}", excerpt)
    nvram = command(bundle, SECUREBOOT_NVRAM)
    if nvram is not None and nvram.error is None and nvram.exit_code == 0:
        m = re.search(r"AppleSecureBootPolicy\s+%0([0-2])", nvram.stdout)
        if m:
            level = {"2": "Full", "1": "Medium", "0": "No"}[m.group(1)]
            excerpt = nvram.stdout.strip()
            nv = Verdict("secure-boot", _SB_TITLE, "nvram AppleSecureBootPolicy")
            if level == "No":
                return nv(Status.Fail, "No Security", "the T2 secure boot policy is No "
                          "Security", excerpt, _SB_FIX)
            return nv(Status.Pass, f"{level} Security", f"T2 Secure Boot enforced ({level} "
                      "Security)", excerpt)
    if apple_silicon is False and bridge is not None and bridge.error is None \
            and bridge.exit_code == 0 and bridge_text is not None \
            and not re.search(r"T2", bridge_text):
        return v(Status.Fail, "no Secure Boot hardware", "Intel Mac without a T2 security chip: "
                 "it has no Secure Boot", first_lines(bridge_text) or "(no iBridge controller)",
                 "This Mac cannot enforce Secure Boot; replace it or record an exception.",
                 Confidence.Medium)
    # Name every read that left it open; with all of them read, only bputil (root) would tell.
    unread = [w for w in (unavailable(bridge, "system_profiler"),
                          nvram and unavailable(nvram, "nvram AppleSecureBootPolicy"),
                          arch and unavailable(arch, "sysctl hw.optional.arm64")) if w]
    why = "; ".join(unread) or ("the boot policy is not shown without admin rights (bputil -d "
                                "needs root)")
    return v(Status.Unknown, "not determined", why, first_lines(bridge_text or ""),
             "Run `system_profiler SPiBridgeDataType` or, as admin, `bputil -d`.", Confidence.Low)


# --- TPM -------------------------------------------------------------------------------------

def _tpm(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("tpm", "TPM present", "not applicable on macOS")
    return v(Status.NotApplicable, "no TPM on Macs", "Macs have no TPM; the Secure Enclave "
             "(T2 or Apple silicon) holds FileVault and key-protection secrets instead")


SECURE_BOOT_CHECK = FunctionCheck("secure-boot", _SB_TITLE, _secure_boot)
TPM_CHECK = FunctionCheck("tpm", "TPM present", _tpm)
