"""macOS auto-updates check: every Software Update automatic option on."""

from __future__ import annotations

import datetime as dt

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import FunctionCheck, Verdict, as_bool, joined
from .common import _plist_dict, _profile_unreadable
from .evidence_ids import SU_MANAGED, SU_PREFS

# --- automatic updates -----------------------------------------------------------------------
#
# Method: the keys of com.apple.SoftwareUpdate as System Settings > General > Software Update
# > Automatic Updates writes them to /Library/Preferences/com.apple.SoftwareUpdate.plist, with
# a configuration profile's values (/Library/Managed Preferences/com.apple.SoftwareUpdate.plist)
# taking precedence. AutomaticCheckEnabled, AutomaticDownload, AutomaticallyInstallMacOSUpdates,
# CriticalUpdateInstall ("Install Security Responses and system files") and ConfigDataInstall
# must all be on (CIS macOS 1.2-1.6). An absent key takes its documented default, true for all
# five (apple/device-management, mdm/profiles/com.apple.SoftwareUpdate.yaml). Settings pushed
# only by declarative device management (com.apple.configuration.softwareupdate.settings,
# macOS 14+) are not visible here.

_AU_TITLE = "Automatic updates"
_AU_KEYS = {
    "AutomaticCheckEnabled": "check for updates",
    "AutomaticDownload": "download new updates",
    "AutomaticallyInstallMacOSUpdates": "install macOS updates",
    "CriticalUpdateInstall": "install Security Responses and system files",
    "ConfigDataInstall": "install security data (XProtect, Gatekeeper)",
}
_AU_FIX = ("Turn on every option in System Settings > General > Software Update > Automatic "
           "Updates (or deploy a com.apple.SoftwareUpdate profile).")


def _auto_updates(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("auto-updates", _AU_TITLE, "/Library/Preferences/com.apple.SoftwareUpdate.plist; "
                "/Library/Managed Preferences/com.apple.SoftwareUpdate.plist")
    prefs, why = _plist_dict(bundle, SU_PREFS)
    managed, _ = _plist_dict(bundle, SU_MANAGED)
    managed_why = _profile_unreadable(bundle, SU_MANAGED)
    if prefs is None and managed is None:
        return v(Status.Unknown, "not determined",
                 why or "com.apple.SoftwareUpdate.plist does not exist and no profile sets it",
                 remediation=_AU_FIX, confidence=Confidence.Low)
    off: list[str] = []
    defaulted: list[str] = []
    lines: list[str] = []
    for key, label in _AU_KEYS.items():
        source, value = "default", None
        if managed and as_bool(managed.get(key)) is not None:
            source, value = "profile", as_bool(managed.get(key))
        elif prefs and as_bool(prefs.get(key)) is not None:
            source, value = "local", as_bool(prefs.get(key))
        if value is None:
            defaulted.append(key)
            value = True
        lines.append(f"{key} = {int(value)} ({source})")
        if not value:
            off.append(label)
    excerpt = "\n".join(lines)
    if off and managed_why:
        # A profile's value takes precedence: the one we could not read may turn these on.
        return v(Status.Unknown, f"local: off: {joined(off, 2)}; profile not readable",
                 f"the local settings do not {joined(off)}, but a configuration profile would "
                 f"override them and it could not be read ({managed_why})",
                 excerpt + f"\nmanaged profile: {managed_why}", _AU_FIX, Confidence.Low)
    if off:
        return v(Status.Fail, f"off: {joined(off, 2)}", f"automatic updates do not {joined(off)}",
                 excerpt, _AU_FIX)
    if defaulted:
        return v(Status.Pass, "on", f"all automatic update options are on ({joined(defaulted)} "
                 "not set, on by default)", excerpt, confidence=Confidence.Medium)
    return v(Status.Pass, "on", "automatic check, download and install of macOS updates and "
             "security data are all on", excerpt)


AUTO_UPDATES_CHECK = FunctionCheck("auto-updates", _AU_TITLE, _auto_updates)
