"""macOS guest-account check: the guest user disabled."""

from __future__ import annotations

import datetime as dt
import re

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import FunctionCheck, Verdict, as_bool, command, lines_matching, output, unavailable
from .common import _plist_dict, _profile_unreadable
from .evidence_ids import GUEST_STATUS, LOGINWINDOW, MCX_MANAGED

# --- guest account ---------------------------------------------------------------------------
#
# Method: `sysadminctl -guestAccount status` (answers on stderr: "Guest account enabled." /
# "Guest account disabled."; runs without admin), then a profile's com.apple.MCX
# DisableGuestAccount / EnableGuestAccount (what NIST mSCP's
# system_settings_guest_account_disable checks), then GuestEnabled in
# /Library/Preferences/com.apple.loginwindow.plist (absent = never enabled: the guest user is
# off on a new Mac).

_GUEST_TITLE = "Guest account"
_GUEST_FIX = ("Turn off \"Allow guests to log in to this computer\" in System Settings > "
              "Users & Groups > Guest User (or `sudo sysadminctl -guestAccount off`).")


def _guest_account(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("guest-account", _GUEST_TITLE, "sysadminctl -guestAccount status")
    item = command(bundle, GUEST_STATUS)
    why = unavailable(item, "sysadminctl")
    if item is not None and why is None:
        text = output(item)
        m = re.search(r"Guest account (?:is )?(enabled|disabled)", text, re.IGNORECASE)
        if m:
            excerpt = lines_matching(text, "guest")
            if m.group(1).lower() == "enabled":
                return v(Status.Fail, "guest enabled", "the guest user can log in", excerpt,
                         _GUEST_FIX)
            return v(Status.Pass, "guest disabled", "the guest user is disabled", excerpt)
        why = "sysadminctl: unrecognised answer"
    mcx, _ = _plist_dict(bundle, MCX_MANAGED)
    mcx_why = _profile_unreadable(bundle, MCX_MANAGED)
    if mcx and ("DisableGuestAccount" in mcx or "EnableGuestAccount" in mcx):
        enabled = as_bool(mcx.get("EnableGuestAccount")) is True or \
            as_bool(mcx.get("DisableGuestAccount")) is False
        mv = Verdict("guest-account", _GUEST_TITLE,
                     "/Library/Managed Preferences/com.apple.MCX.plist")
        excerpt = "managed profile: " + ", ".join(
            f"{k} = {mcx[k]}" for k in ("DisableGuestAccount", "EnableGuestAccount") if k in mcx)
        if enabled:
            return mv(Status.Fail, "guest enabled by profile", "a configuration profile enables "
                      "the guest account", excerpt, _GUEST_FIX, Confidence.Medium)
        return mv(Status.Pass, "guest disabled by profile", "a configuration profile disables "
                  "the guest account", excerpt, confidence=Confidence.Medium)
    prefs, prefs_why = _plist_dict(bundle, LOGINWINDOW)
    lv = Verdict("guest-account", _GUEST_TITLE, "/Library/Preferences/com.apple.loginwindow.plist")
    if prefs is None and prefs_why is None:
        prefs_why = "com.apple.loginwindow.plist does not exist"
    if prefs is not None:
        value = as_bool(prefs.get("GuestEnabled"))
        if value and mcx_why:
            # A profile's DisableGuestAccount takes precedence over the local setting.
            return lv(Status.Unknown, "guest enabled locally; profile not readable",
                      "GuestEnabled = 1 in com.apple.loginwindow, but a configuration profile "
                      f"would override it and it could not be read ({mcx_why})",
                      f"GuestEnabled = 1\nmanaged profile: {mcx_why}", _GUEST_FIX,
                      Confidence.Low)
        if value:
            return lv(Status.Fail, "guest enabled", "GuestEnabled = 1 in com.apple.loginwindow",
                      "GuestEnabled = 1", _GUEST_FIX, Confidence.Medium)
        if value is False:
            return lv(Status.Pass, "guest disabled", "GuestEnabled = 0 in com.apple.loginwindow",
                      "GuestEnabled = 0", confidence=Confidence.Medium)
        return lv(Status.Pass, "guest disabled", "GuestEnabled is not set: the guest user has "
                  "never been enabled (off by default)", "GuestEnabled: not set",
                  confidence=Confidence.Medium)
    return v(Status.Unknown, "not determined",
             "; ".join(w for w in (why, prefs_why) if w) or "no evidence",
             remediation=_GUEST_FIX, confidence=Confidence.Low)


GUEST_ACCOUNT_CHECK = FunctionCheck("guest-account", _GUEST_TITLE, _guest_account)
