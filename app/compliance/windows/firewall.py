"""Windows firewall check: Windows Firewall on for every profile."""

from __future__ import annotations

import datetime as dt
import re

from ..model import CheckResult, CommandEvidence, Confidence, EvidenceBundle, Policy, Status
from ..parsing import (
    FunctionCheck,
    Verdict,
    as_int,
    as_list,
    command,
    joined,
    load_json,
)
from .common import _command_why, _ps_json
from .evidence_ids import FW_NETSH, FW_PRODUCTS, FW_PROFILES

# --- firewall --------------------------------------------------------------------------------
#
# Method: Get-NetFirewallProfile -PolicyStore ActiveStore (the effective, policy-merged state;
# Enabled is a GpoBoolean printed as "True"/"False"); every profile (Domain, Private, Public)
# must be on. Fallback: `netsh advfirewall show allprofiles state` ("Domain Profile Settings:"
# ... "State  ON"; English output only). If a profile is off but Windows Security Center
# (root/SecurityCenter2 FirewallProduct) lists another firewall as on, the answer is left to a
# person: productState is undocumented (bits 12-15 = 1 is the widely used "on" reading). If that
# list cannot be read, another firewall may be on: UNKNOWN, not FAIL — except on Windows Server,
# which has no SecurityCenter2 namespace ("Invalid namespace"), so nothing can register there.

_FW_TITLE = "Firewall"
_FW_FIX = ("Turn on Microsoft Defender Firewall for the Domain, Private and Public profiles "
           "(Windows Security > Firewall & network protection, or `Set-NetFirewallProfile "
           "-All -Enabled True`).")


# WBEM_E_INVALID_NAMESPACE: root/SecurityCenter2 does not exist (Windows Server).
_INVALID_NAMESPACE = 0x8004100E - (1 << 32)


def _netsh_profiles(item: CommandEvidence | None) -> dict[str, bool] | None:
    if item is None or item.error is not None:
        return None
    profiles: dict[str, bool] = {}
    current = None
    for line in item.stdout.splitlines():
        header = re.match(r"^\s*(\w+) Profile Settings:", line)
        if header:
            current = header.group(1)
            continue
        state = re.match(r"^\s*State\s+(ON|OFF)\b", line, re.IGNORECASE)
        if state and current:
            profiles[current] = state.group(1).upper() == "ON"
    return profiles or None


def _third_party_firewalls(bundle: EvidenceBundle) -> tuple[list[str], str | None]:
    """Firewalls Security Center lists as on, and why the list could not be read (or None)."""
    item = command(bundle, FW_PRODUCTS)
    raw = load_json(item.stdout) if item is not None and item.error is None else None
    if isinstance(raw, dict) and (as_int(raw.get("hresult")) == _INVALID_NAMESPACE
                                  or "invalid namespace" in str(raw.get("message", "")).lower()):
        return [], None  # Windows Server: no Security Center, so nothing can register there
    payload, why = _ps_json(bundle, FW_PRODUCTS, "Security Center's firewall list")
    if not isinstance(payload, dict):
        return [], why or "Security Center's firewall list: not recognised"
    names = []
    for p in as_list(payload.get("products") if isinstance(payload, dict) else None):
        state = as_int(p.get("productState")) if isinstance(p, dict) else None
        if state is not None and (state >> 12) & 0xF == 1:
            names.append(str(p.get("displayName", "another firewall")))
    return names, None


def _firewall(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("firewall", _FW_TITLE, "Get-NetFirewallProfile -PolicyStore ActiveStore")
    payload, why = _ps_json(bundle, FW_PROFILES, "Get-NetFirewallProfile")
    profiles: dict[str, bool] = {}
    if isinstance(payload, dict):
        for p in as_list(payload.get("profiles")):
            if isinstance(p, dict) and p.get("Name"):
                enabled = str(p.get("Enabled", "")).strip().lower()
                if enabled in ("true", "1", "notconfigured", "2"):  # NotConfigured = default on
                    profiles[str(p["Name"])] = True
                elif enabled in ("false", "0"):
                    profiles[str(p["Name"])] = False
    if not profiles:
        netsh = _netsh_profiles(command(bundle, FW_NETSH))
        if netsh:
            profiles = netsh
            v = Verdict("firewall", _FW_TITLE, "netsh advfirewall show allprofiles state")
        else:
            why = "; ".join(w for w in (why, _command_why(bundle, FW_NETSH, "netsh")) if w)
            return v(Status.Unknown, "not determined", why, remediation=_FW_FIX,
                     confidence=Confidence.Low)
    excerpt = "\n".join(f"{name}: {'ON' if on else 'OFF'}" for name, on in profiles.items())
    off = [name for name, on in profiles.items() if not on]
    if not off:
        return v(Status.Pass, "on (all profiles)", f"Windows Firewall is on for "
                 f"{joined(profiles, 4)}", excerpt)
    others, others_why = _third_party_firewalls(bundle)
    if others_why:
        # Another firewall may be on; the list that would say so could not be read.
        return v(Status.Unknown, f"off: {joined(off)}; other firewalls not known",
                 f"Windows Firewall is off for {joined(off)}, and whether Security Center lists "
                 f"another active firewall is not known: {others_why}",
                 excerpt + f"\nSecurity Center firewall: {others_why}", _FW_FIX, Confidence.Low)
    if others:
        return v(Status.Unknown, f"off: {joined(off)}; {joined(others)} registered",
                 f"Windows Firewall is off for {joined(off)} but Security Center lists "
                 f"{joined(others)} as an active firewall; confirm it covers every network",
                 excerpt + f"\nSecurity Center firewall: {joined(others)}", _FW_FIX,
                 Confidence.Low)
    return v(Status.Fail, f"off: {joined(off)}", f"Windows Firewall is off for the "
             f"{joined(off)} profile{'s' if len(off) > 1 else ''}", excerpt, _FW_FIX)


FIREWALL_CHECK = FunctionCheck("firewall", _FW_TITLE, _firewall)
