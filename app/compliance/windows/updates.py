"""Windows auto-updates check: no policy, pause or service state stops Windows Update."""

from __future__ import annotations

import datetime as dt

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import FunctionCheck, Verdict, as_int, parse_iso
from .common import _reg, _reg_line, _reg_why

# --- automatic updates -----------------------------------------------------------------------
#
# Method: with no policy, Windows 10/11 download and install updates automatically (users can
# only pause them). Policies that change that, all readable without admin:
# - Group Policy "Configure Automatic Updates" (HKLM\SOFTWARE\Policies\Microsoft\Windows\
#   WindowsUpdate\AU): NoAutoUpdate = 1 turns updates off; AUOptions 2 = notify before download,
#   3 = download and notify to install, 4 = download and schedule the install, 5 = local admin
#   chooses, 7 = download, notify to install and restart. Only 4 and 5 install by themselves.
# - MDM (Intune) Update/AllowAutoUpdate (HKLM\SOFTWARE\Microsoft\PolicyManager\current\device\
#   Update): 0 notify to download, 1-4 install automatically, 5 turn automatic updates off.
# - A pause: HKLM\SOFTWARE\Microsoft\WindowsUpdate\UX\Settings PauseUpdatesExpiryTime in the
#   future; and the Windows Update service disabled (wuauserv Start = 4).

_AU_TITLE = "Automatic updates"
_AU_FIX = ("Let Windows Update install updates automatically: remove the policy that disables "
           "or defers them (\"Configure Automatic Updates\" = 4, Intune AllowAutoUpdate 1-4), "
           "resume paused updates and keep the Windows Update service enabled.")
_AUOPTIONS = {2: "notify before download", 3: "download, then wait for the user to install",
              4: "download and schedule the install", 5: "local administrator chooses",
              7: "download, then wait for the user to install"}
_MDM_AUTO = {0: "notify to download", 1: "install at maintenance time",
             2: "install and restart at maintenance time", 3: "install and restart at a "
             "scheduled time", 4: "install and restart without user control",
             5: "automatic updates turned off"}


def _auto_updates(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("auto-updates", _AU_TITLE, "registry WindowsUpdate\\AU policy, PolicyManager "
                "Update/AllowAutoUpdate, UX\\Settings pause, wuauserv Start")
    ids = ("windows.au-noautoupdate", "windows.au-auoptions", "windows.au-mdm-allowautoupdate",
           "windows.au-pause-expiry", "windows.wuauserv-start")
    values = {i: _reg(bundle, i) for i in ids}
    excerpt = "\n".join(_reg_line(bundle, i) for i in ids)
    problems: list[str] = []
    if as_int(values["windows.wuauserv-start"][0]) == 4:
        problems.append("the Windows Update service is disabled")
    if as_int(values["windows.au-noautoupdate"][0]) == 1:
        problems.append("Group Policy turns automatic updates off (NoAutoUpdate = 1)")
    options = as_int(values["windows.au-auoptions"][0])
    if options in (2, 3, 7):
        problems.append(f"Group Policy AUOptions = {options}: {_AUOPTIONS[options]}")
    mdm = as_int(values["windows.au-mdm-allowautoupdate"][0])
    if mdm in (0, 5):
        problems.append(f"MDM AllowAutoUpdate = {mdm}: {_MDM_AUTO[mdm]}")
    pause = parse_iso(values["windows.au-pause-expiry"][0])
    if pause is not None and pause > now:
        problems.append(f"updates are paused until {pause:%Y-%m-%d}")
    if problems:
        return v(Status.Fail, "not automatic", "; ".join(problems), excerpt, _AU_FIX)
    unreadable = [_reg_why(bundle, i) for i in ids if not values[i][1]]
    if unreadable:
        return v(Status.Unknown, "not determined", f"could not read {'; '.join(unreadable)}",
                 excerpt, _AU_FIX, Confidence.Low)
    if options in (4, 5) or mdm in (1, 2, 3, 4):
        how = _AUOPTIONS[options] if options in (4, 5) else _MDM_AUTO[mdm or 1]
        return v(Status.Pass, "automatic", f"policy: {how}", excerpt)
    return v(Status.Pass, "automatic (Windows default)", "no policy restricts Windows Update, "
             "which installs updates automatically by default", excerpt,
             confidence=Confidence.Medium)


AUTO_UPDATES_CHECK = FunctionCheck("auto-updates", _AU_TITLE, _auto_updates)
