"""macOS firewall check: the application firewall on."""

from __future__ import annotations

import datetime as dt
import re

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import (
    FunctionCheck,
    Verdict,
    as_bool,
    as_int,
    command,
    first_lines,
    lines_matching,
    output,
    unavailable,
)
from .common import _plist_dict, _profile_unreadable
from .evidence_ids import ALF_PREFS, FW_MANAGED, FW_STATE

# --- firewall --------------------------------------------------------------------------------
#
# Method: `/usr/libexec/ApplicationFirewall/socketfilterfw --getglobalstate`, which prints
# "Firewall is enabled. (State = 1)", "Firewall is disabled. (State = 0)" or, when blocking
# all incoming connections, "Firewall is enabled. (State = 2)" (State >= 1 is on). On a Mac
# whose firewall is set by a profile it may refuse with "Firewall settings cannot be modified
# from command line on managed Mac computers."; then the profile in /Library/Managed
# Preferences/com.apple.security.firewall.plist (EnableFirewall, as NIST mSCP's
# system_settings_firewall_enable checks) decides. Before macOS 15 the same state is the
# `globalstate` key of /Library/Preferences/com.apple.alf.plist (0 off, 1 on, 2 block all).

_FW_TITLE = "Firewall"
_FW_FIX = ("Turn the firewall on in System Settings > Network > Firewall (or `sudo "
           "/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate on`).")


def _firewall_verdict(v: Verdict, state: int, excerpt: str, source: str,
                      confidence: Confidence = Confidence.High) -> CheckResult:
    if state >= 2:
        return v(Status.Pass, "on, blocking all incoming", f"{source}: State = 2 (on, block all "
                 "incoming connections)", excerpt, confidence=confidence)
    if state == 1:
        return v(Status.Pass, "on", f"{source}: State = 1 (on)", excerpt, confidence=confidence)
    return v(Status.Fail, "off", f"{source}: State = 0 (the application firewall is off)",
             excerpt, _FW_FIX, confidence)


def _firewall(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("firewall", _FW_TITLE, "socketfilterfw --getglobalstate")
    item = command(bundle, FW_STATE)
    why = unavailable(item, "socketfilterfw")
    if item is not None and why is None:
        text = output(item)
        m = re.search(r"State = (\d+)", text)
        if m:
            return _firewall_verdict(v, int(m.group(1)), lines_matching(text, "Firewall"),
                                     "socketfilterfw")
        m = re.search(r"Firewall is (enabled|disabled)", text)
        if m:
            return _firewall_verdict(v, 1 if m.group(1) == "enabled" else 0,
                                     lines_matching(text, "Firewall"), "socketfilterfw")
        why = f"socketfilterfw: {first_lines(text, 1) or 'no answer'}"
    managed, _ = _plist_dict(bundle, FW_MANAGED)
    managed_why = _profile_unreadable(bundle, FW_MANAGED)
    if managed and as_bool(managed.get("EnableFirewall")) is not None:
        on = bool(as_bool(managed.get("EnableFirewall")))
        block = bool(as_bool(managed.get("BlockAllIncoming")))
        state = (2 if block else 1) if on else 0
        return _firewall_verdict(
            Verdict("firewall", _FW_TITLE, "/Library/Managed Preferences/"
                    "com.apple.security.firewall.plist"), state,
            f"managed profile: EnableFirewall = {int(on)}", "configuration profile",
            Confidence.Medium)
    alf, alf_why = _plist_dict(bundle, ALF_PREFS)
    if alf and as_int(alf.get("globalstate")) is not None:
        state = as_int(alf.get("globalstate")) or 0
        return _firewall_verdict(Verdict("firewall", _FW_TITLE, "/Library/Preferences/"
                                         "com.apple.alf.plist"), state,
                                 f"com.apple.alf globalstate = {state}", "com.apple.alf",
                                 Confidence.Medium)
    reasons = "; ".join(w for w in (why, managed_why, alf_why) if w) or "no firewall state found"
    return v(Status.Unknown, "not determined", reasons, remediation=_FW_FIX,
             confidence=Confidence.Low)


FIREWALL_CHECK = FunctionCheck("firewall", _FW_TITLE, _firewall)
