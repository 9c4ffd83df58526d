"""Windows checks: pure judgements over evidence gathered by backends/compliance/windows.py.

PowerShell evidence is one JSON object per script (dates as ISO 8601 via ``.ToString('o')``);
when a script throws, the collector's wrapper prints {"error", "hresult", "message"} instead.
Registry evidence keeps the value's type: REG_SZ numbers are compared as integers. Each parser
names its method and where that method is documented.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .model import (
    Check,
    CheckResult,
    CommandEvidence,
    Confidence,
    EvidenceBundle,
    Policy,
    Status,
)
from .parsing import (
    FunctionCheck,
    PatchFacts,
    PendingUpdate,
    Verdict,
    as_bool,
    as_int,
    as_list,
    checks_table,
    command,
    first_lines,
    first_seen,
    joined,
    judge_patch_age,
    lines_matching,
    load_json,
    looks_like_access_denied,
    parse_iso,
    parse_short_date,
    powershell_error,
    registry,
    shorten,
    unavailable,
)

# Evidence ids (the collector in backends/compliance/windows.py gathers exactly these).
BITLOCKER_SHELL = "windows.bitlocker-shell"
BITLOCKER_WMI = "windows.bitlocker-wmi"
UPDATE_HISTORY = "windows.update-history"
UPDATE_PENDING = "windows.update-pending"
HOTFIX = "windows.hotfix"
POWER_VIDEOIDLE = "windows.power-videoidle"
POWER_STANDBYIDLE = "windows.power-standbyidle"
POWER_CONSOLELOCK = "windows.power-consolelock"
POWER_STATES = "windows.power-states"
FW_PROFILES = "windows.firewall-profiles"
FW_NETSH = "windows.firewall-netsh"
FW_PRODUCTS = "windows.firewall-products"
GUEST_LOCALUSER = "windows.guest-localuser"
GUEST_NETUSER = "windows.guest-netuser"
TPM_GET = "windows.tpm-get"
TPMTOOL = "windows.tpmtool"
TPM_PNP = "windows.tpm-pnp"

_DESKTOP = r"HKCU\Control Panel\Desktop"
_DESKTOP_POLICY = r"HKCU\Software\Policies\Microsoft\Windows\Control Panel\Desktop"
_AU_POLICY = r"HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU"

# Registry evidence: id -> (key, value name). The collector reads exactly these.
REGISTRY: dict[str, tuple[str, str]] = {
    "windows.inactivity-timeout": (
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System", "InactivityTimeoutSecs"),
    "windows.screensaver-active": (_DESKTOP, "ScreenSaveActive"),
    "windows.screensaver-secure": (_DESKTOP, "ScreenSaverIsSecure"),
    "windows.screensaver-timeout": (_DESKTOP, "ScreenSaveTimeOut"),
    "windows.screensaver-exe": (_DESKTOP, "SCRNSAVE.EXE"),
    "windows.screensaver-policy-active": (_DESKTOP_POLICY, "ScreenSaveActive"),
    "windows.screensaver-policy-secure": (_DESKTOP_POLICY, "ScreenSaverIsSecure"),
    "windows.screensaver-policy-timeout": (_DESKTOP_POLICY, "ScreenSaveTimeOut"),
    "windows.screensaver-policy-exe": (_DESKTOP_POLICY, "SCRNSAVE.EXE"),
    "windows.secureboot-state": (
        r"HKLM\SYSTEM\CurrentControlSet\Control\SecureBoot\State", "UEFISecureBootEnabled"),
    "windows.firmware-type": (r"HKLM\SYSTEM\CurrentControlSet\Control", "PEFirmwareType"),
    "windows.au-noautoupdate": (_AU_POLICY, "NoAutoUpdate"),
    "windows.au-auoptions": (_AU_POLICY, "AUOptions"),
    "windows.au-mdm-allowautoupdate": (
        r"HKLM\SOFTWARE\Microsoft\PolicyManager\current\device\Update", "AllowAutoUpdate"),
    "windows.au-pause-expiry": (
        r"HKLM\SOFTWARE\Microsoft\WindowsUpdate\UX\Settings", "PauseUpdatesExpiryTime"),
    "windows.wuauserv-start": (r"HKLM\SYSTEM\CurrentControlSet\Services\wuauserv", "Start"),
}


def _ps_json(bundle: EvidenceBundle, evidence_id: str, what: str) -> tuple[Any, str | None]:
    """A PowerShell script's JSON answer, or (None, why not)."""
    item = command(bundle, evidence_id)
    why = unavailable(item, what)
    if why or item is None:
        return None, why
    payload = load_json(item.stdout)
    error = powershell_error(payload)
    if error is not None:
        prefix = "needs administrator rights" if looks_like_access_denied(error) else "failed"
        return None, f"{what} {prefix}: {shorten(first_lines(error, 1))}"
    if payload is None:
        detail = shorten(first_lines(item.stderr, 1)) or f"exit {item.exit_code}, no JSON"
        if looks_like_access_denied(item.stderr):
            return None, f"{what} needs administrator rights: {detail}"
        return None, f"{what}: {detail}"
    return payload, None


def _reg(bundle: EvidenceBundle, evidence_id: str) -> tuple[object, bool]:
    """(value, readable): an absent value is readable (not configured); errors are not."""
    item = registry(bundle, evidence_id)
    if item is None:
        return None, False
    if item.error == "missing":
        return None, True
    if item.error is not None:
        return None, False
    return item.value, True


def _reg_line(bundle: EvidenceBundle, evidence_id: str) -> str:
    item = registry(bundle, evidence_id)
    key, name = REGISTRY[evidence_id]
    if item is None:
        return f"{name}: not collected"
    if item.error == "missing":
        return f"{key}\\{name}: not set"
    if item.error:
        return f"{key}\\{name}: {item.error}"
    return f"{key}\\{name} = {item.value!r} ({item.type})"


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


# --- patch age -------------------------------------------------------------------------------
#
# Method: the Windows Update Agent COM API (Microsoft.Update.Session), documented in MS-UAMG:
# IUpdateSearcher::QueryHistory returns entries "sorted by date in descending order" (3.38.4.10)
# whose Date is "the date-time, in UTC, that the operation was performed" (3.32.4.4);
# Operation 1 = installation, ResultCode 2 = succeeded (OperationResultCode). Defender
# definition/platform updates (KB2267602, KB4052623, KB2461484, KB915597, KB5007651) and the
# Malicious Software Removal Tool (KB890830) are data, not OS patches, as are drivers and
# firmware; an OS patch is a successful install whose title names Windows, .NET or the
# servicing stack. Pending updates: an offline search (IUpdateSearcher.Online = false: "uses
# local data only", 3.38.4.13) for IsInstalled=0 and IsHidden=0 and Type='Software', each with
# LastDeploymentChangeTime ("the date-time, in UTC, when the update was last published",
# 3.20.4.23); optional (BrowseOnly) updates, previews and feature upgrades are not required.
# The last successful search is IAutomaticUpdatesResults::LastSearchSuccessDate. Fallback and
# complement: Win32_QuickFixEngineering (what Get-HotFix reads), whose InstalledOn is a free-form
# string — US M/d/yyyy, the machine's short date ("23.11.2026") or a hex FILETIME; it also lists
# updates installed offline (wusa/DISM) that the WU history never saw.

_PATCH_TITLE = "OS patch age"
_PATCH_FIX = ("Install the pending updates in Settings > Windows Update (Check for updates, "
              "then restart).")
_NOT_PATCH = re.compile(
    r"KB2267602|KB4052623|KB2461484|KB915597|KB5007651|KB890830|Security Intelligence|"
    r"Definition Update|Malicious Software Removal|antimalware platform|Security platform|"
    r"Defender|Feature update|Upgrade to Windows|\bPreview\b", re.IGNORECASE)
_OS_TITLE = re.compile(r"\bWindows\b|\.NET|Servicing Stack", re.IGNORECASE)
_NOT_PATCH_CATEGORIES = {"definition updates", "drivers", "upgrades", "feature packs"}


def _os_update(title: str, categories: list[Any]) -> bool:
    cats = {str(c).strip().lower() for c in categories}
    return bool(_OS_TITLE.search(title)) and not _NOT_PATCH.search(title) \
        and not cats & _NOT_PATCH_CATEGORIES


def _pending_list(bundle: EvidenceBundle) -> tuple[list[tuple[str, str, dt.datetime | None]] | None,
                                                   dt.datetime | None, str | None]:
    """Pending OS patches as (key, title, published), the last successful search, why unknown."""
    payload, why = _ps_json(bundle, UPDATE_PENDING, "Windows Update offline search")
    if not isinstance(payload, dict):
        return None, None, why
    found: list[tuple[str, str, dt.datetime | None]] = []
    for u in as_list(payload.get("pending")):
        if not isinstance(u, dict) or as_bool(u.get("BrowseOnly")):
            continue
        title = str(u.get("Title", ""))
        if not _os_update(title, as_list(u.get("Categories"))):
            continue
        kbs = [str(k) for k in as_list(u.get("KB")) if str(k)]
        key = f"KB{kbs[0]}" if kbs else title
        found.append((key, title, parse_iso(u.get("Published"))))
    return found, parse_iso(payload.get("lastSearchSuccess")), None


def pending_security_updates(bundle: EvidenceBundle) -> list[str] | None:
    """Keys (KB numbers) of the pending OS patches, for Strongroom's first-seen memory."""
    found, _, _ = _pending_list(bundle)
    return None if found is None else [key for key, _, _ in found]


def _history_patches(bundle: EvidenceBundle) -> tuple[list[tuple[dt.datetime, str]] | None,
                                                      str | None]:
    payload, why = _ps_json(bundle, UPDATE_HISTORY, "Windows Update history")
    if not isinstance(payload, dict):
        return None, why
    patches: list[tuple[dt.datetime, str]] = []
    for e in as_list(payload.get("history")):
        if not isinstance(e, dict):
            continue
        when = parse_iso(e.get("Date"))
        title = str(e.get("Title", ""))
        if when and as_int(e.get("Operation")) == 1 and as_int(e.get("ResultCode")) == 2 \
                and _os_update(title, as_list(e.get("Categories"))):
            patches.append((when, title))
    return sorted(patches), None


def _hotfixes(bundle: EvidenceBundle, now: dt.datetime
              ) -> tuple[list[tuple[list[dt.date], str, str]] | None, str | None]:
    """QFE entries as (possible install dates, id, raw InstalledOn); future readings dropped."""
    payload, why = _ps_json(bundle, HOTFIX, "Win32_QuickFixEngineering")
    if not isinstance(payload, dict):
        return None, why
    pattern = payload.get("shortDatePattern")
    found = []
    for h in as_list(payload.get("hotfixes")):
        if not isinstance(h, dict):
            continue
        raw = str(h.get("InstalledOn") or "")
        latest = (now + dt.timedelta(days=1)).date()  # a day of slack for time zones
        dates = [d for d in parse_short_date(raw, pattern if isinstance(pattern, str) else None)
                 if d <= latest]
        if dates:
            found.append((dates, str(h.get("HotFixID", "")), raw))
    return found, None


def _patch_age(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("patch-age", _PATCH_TITLE, "Microsoft.Update.Session QueryHistory and offline "
                "Search; Win32_QuickFixEngineering")
    history, history_why = _history_patches(bundle)
    hotfixes, hotfix_why = _hotfixes(bundle, now)
    pending_raw, last_search, pending_why = _pending_list(bundle)
    if history is None and hotfixes is None and pending_raw is None:
        return v(Status.Unknown, "not determined",
                 "; ".join(w for w in (history_why, hotfix_why, pending_why) if w),
                 remediation="Run the check on Windows (the Windows Update service must run).",
                 confidence=Confidence.Low)
    remembered = first_seen(bundle)
    pending = None if pending_raw is None else [
        PendingUpdate(title, published or remembered.get(key))
        for key, title, published in pending_raw]
    newest = history[-1] if history else None
    lines = [f"{when:%Y-%m-%d} {title}" for when, title in (history or [])[-3:]]
    lines += [f"pending: {title}" + (f" published {p:%Y-%m-%d}" if p else "")
              for _, title, p in (pending_raw or [])[:3]]
    if last_search:
        lines.append(f"last successful update search: {last_search:%Y-%m-%d %H:%M} UTC")
    if history_why:
        lines.append(history_why)

    def facts(pick: int) -> PatchFacts:
        """The facts with each hotfix read as its earliest (0) or latest (-1) possible date."""
        last, name = (newest if newest else (None, ""))
        confidence = Confidence.High if history is not None else Confidence.Medium
        for dates, hotfix_id, _ in hotfixes or []:
            when = dt.datetime.combine(sorted(dates)[pick], dt.time(), dt.UTC)
            if last is None or when.date() > last.date():
                last, name = when, f"{hotfix_id} (Get-HotFix)"
                confidence = Confidence.Medium
        extra = [f"newest hotfix: {name}"] if name.endswith("(Get-HotFix)") else []
        return PatchFacts(last, name, pending, last_search, "\n".join(lines + extra), confidence)

    early = judge_patch_age(facts(0), policy, now, v, _PATCH_FIX)
    late = judge_patch_age(facts(-1), policy, now, v, _PATCH_FIX)
    if early.status is late.status:
        return late
    ambiguous = [raw for dates, _, raw in hotfixes or [] if len(dates) > 1]
    return v(Status.Unknown, "ambiguous install date",
             f"Get-HotFix date {joined(ambiguous, 2)} can be read day-first or month-first and "
             "the answer depends on which", late.evidence_excerpt, _PATCH_FIX, Confidence.Low)


# --- screen lock -----------------------------------------------------------------------------
#
# Method: any of three documented ways to lock an idle session, whichever comes first:
# 1. "Interactive logon: Machine inactivity limit" = InactivityTimeoutSecs (REG_DWORD, seconds,
#    0 = off) in HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System.
# 2. A password-protected screen saver: ScreenSaveActive, ScreenSaverIsSecure, ScreenSaveTimeOut
#    (REG_SZ, seconds — compared as integers) and SCRNSAVE.EXE in HKCU\Control Panel\Desktop,
#    with Group Policy values in HKCU\Software\Policies\Microsoft\Windows\Control Panel\Desktop
#    taking precedence. Per the "Enable screen saver" policy's help, a screen saver runs only if
#    one is selected (SCRNSAVE.EXE) and the timeout is non-zero.
# 3. Power: "Require a password on wakeup" (powercfg SUB_NONE CONSOLELOCK = 1) locks on resume
#    from sleep (SUB_SLEEP STANDBYIDLE, seconds); on Modern Standby devices (powercfg /a lists
#    "Standby (S0 Low Power Idle)" as available) turning the display off (SUB_VIDEO VIDEOIDLE)
#    enters standby, so it locks too. Both AC and DC values must lock (the worse counts).
# powercfg labels are localized; when "Current AC/DC Power Setting Index" is not found, the
# last two hex values (AC, then DC) are used.

_LOCK_TITLE = "Screen lock"
_LOCK_FIX = ("Set \"Interactive logon: Machine inactivity limit\" to at most {limit} minutes "
             "(Group Policy or Intune), or a password-protected screen saver with a timeout of "
             "at most {limit} minutes.")


def _powercfg(bundle: EvidenceBundle, evidence_id: str) -> tuple[int, int] | None:
    item = command(bundle, evidence_id)
    if item is None or item.error is not None or item.exit_code != 0:
        return None
    ac = re.search(r"Current AC Power Setting Index:\s*0x([0-9a-fA-F]+)", item.stdout)
    dc = re.search(r"Current DC Power Setting Index:\s*0x([0-9a-fA-F]+)", item.stdout)
    if ac and dc:
        return int(ac.group(1), 16), int(dc.group(1), 16)
    values = re.findall(r":\s*0x([0-9a-fA-F]{8})\s*$", item.stdout, re.MULTILINE)
    if len(values) >= 2:
        return int(values[-2], 16), int(values[-1], 16)
    return None


def _modern_standby(bundle: EvidenceBundle) -> bool:
    item = command(bundle, POWER_STATES)
    if item is None or item.error is not None:
        return False
    blocks: list[list[str]] = []
    for line in item.stdout.splitlines():
        if not line.strip():
            continue
        if not line[:1].isspace() or not blocks:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return bool(blocks) and any("S0 Low Power Idle" in line for line in blocks[0][1:])


def _screen_lock(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("screen-lock", _LOCK_TITLE, "registry InactivityTimeoutSecs and Control Panel\\"
                "Desktop screen saver values; powercfg /q CONSOLELOCK, STANDBYIDLE, VIDEOIDLE")
    limit = policy.max_screen_lock_minutes * 60
    fix = _LOCK_FIX.format(limit=policy.max_screen_lock_minutes)
    locks: list[tuple[int, str, Confidence]] = []  # (seconds, how, confidence)
    unlocked: list[str] = []
    incomplete: list[str] = []
    lines: list[str] = []

    value, readable = _reg(bundle, "windows.inactivity-timeout")
    lines.append(_reg_line(bundle, "windows.inactivity-timeout"))
    seconds = as_int(value)
    if seconds and seconds > 0:
        locks.append((seconds, f"machine inactivity limit {seconds} s", Confidence.High))
    elif not readable:
        incomplete.append("InactivityTimeoutSecs")

    saver: dict[str, object] = {}
    saver_readable = True
    for name in ("active", "secure", "timeout", "exe"):
        policy_value, policy_ok = _reg(bundle, f"windows.screensaver-policy-{name}")
        user_value, user_ok = _reg(bundle, f"windows.screensaver-{name}")
        saver[name] = policy_value if policy_value not in (None, "") else user_value
        saver_readable = saver_readable and policy_ok and user_ok
        shown = f"windows.screensaver-policy-{name}" if policy_value not in (None, "") \
            else f"windows.screensaver-{name}"
        lines.append(_reg_line(bundle, shown))
    timeout = as_int(saver["timeout"])
    if as_bool(saver["active"]) and str(saver["exe"] or "").strip() and timeout and timeout > 0:
        if as_bool(saver["secure"]):
            locks.append((timeout, f"password-protected screen saver after {timeout} s",
                          Confidence.High))
        elif policy.require_password_on_wake:
            unlocked.append(f"screen saver after {timeout} s without a password")
        else:
            locks.append((timeout, f"screen saver after {timeout} s", Confidence.High))
    elif as_bool(saver["active"]) and timeout and not str(saver["exe"] or "").strip():
        unlocked.append("screen saver enabled but none selected (SCRNSAVE.EXE empty), so it "
                        "never starts")
    elif not saver_readable:
        incomplete.append("screen saver settings")

    consolelock = _powercfg(bundle, POWER_CONSOLELOCK)
    standby = _powercfg(bundle, POWER_STANDBYIDLE)
    video = _powercfg(bundle, POWER_VIDEOIDLE)
    modern = _modern_standby(bundle)
    for label, pair in (("CONSOLELOCK", consolelock), ("STANDBYIDLE", standby),
                        ("VIDEOIDLE", video)):
        lines.append(f"powercfg {label}: " + (f"AC {pair[0]}, DC {pair[1]}" if pair
                                                 else "not read"))
    if modern:
        lines.append("powercfg /a: Standby (S0 Low Power Idle) available")
    paths = [("sleep", standby)] + ([("display off (Modern Standby)", video)] if modern else [])
    for how, pair in paths:
        if pair is None or min(pair) <= 0:
            continue
        worst = max(pair)
        if consolelock is not None and min(consolelock) >= 1:
            locks.append((worst, f"{how} after {worst} s, sign-in required on wake",
                          Confidence.Medium))
        elif consolelock is not None and not policy.require_password_on_wake:
            locks.append((worst, f"{how} after {worst} s", Confidence.Medium))
        elif consolelock is not None:
            unlocked.append(f"{how} after {worst} s without sign-in on wake")
    if consolelock is None or standby is None:
        incomplete.append("power settings")

    excerpt = "\n".join(lines)
    if locks:
        seconds, how, confidence = min(locks)
        minutes = f"{seconds // 60} min" + (f" {seconds % 60} s" if seconds % 60 else "")
        if seconds <= limit:
            return v(Status.Pass, f"locks after {minutes}", f"{how}; within the "
                     f"{policy.max_screen_lock_minutes}-minute policy", excerpt,
                     confidence=confidence)
        if not incomplete:
            return v(Status.Fail, f"locks after {minutes}", f"{how}; policy allows "
                     f"{policy.max_screen_lock_minutes} min", excerpt, fix, confidence)
    if incomplete:
        return v(Status.Unknown, "not determined", f"could not read {joined(incomplete)}",
                 excerpt, fix, Confidence.Low)
    notes = unlocked or ["no machine inactivity limit or password-protected screen saver"]
    if standby is not None and min(standby) <= 0:
        notes.append("the PC never goes to sleep on " + ("AC power" if standby[0] <= 0
                                                         else "battery"))
    if video is not None and min(video) > 0 and not modern:
        notes.append("turning the display off does not lock without Modern Standby")
    return v(Status.Fail, "never locks when idle", f"nothing locks the session: {'; '.join(notes)}",
             excerpt, fix)


# --- firewall --------------------------------------------------------------------------------
#
# Method: Get-NetFirewallProfile -PolicyStore ActiveStore (the effective, policy-merged state;
# Enabled is a GpoBoolean printed as "True"/"False"); every profile (Domain, Private, Public)
# must be on. Fallback: `netsh advfirewall show allprofiles state` ("Domain Profile Settings:"
# ... "State  ON"; English output only). If a profile is off but Windows Security Center
# (root/SecurityCenter2 FirewallProduct) lists another firewall as on, the answer is left to a
# person: productState is undocumented (bits 12-15 = 1 is the widely used "on" reading).

_FW_TITLE = "Firewall"
_FW_FIX = ("Turn on Microsoft Defender Firewall for the Domain, Private and Public profiles "
           "(Windows Security > Firewall & network protection, or `Set-NetFirewallProfile "
           "-All -Enabled True`).")


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


def _third_party_firewalls(bundle: EvidenceBundle) -> list[str]:
    payload, _ = _ps_json(bundle, FW_PRODUCTS, "SecurityCenter2")
    names = []
    for p in as_list(payload.get("products") if isinstance(payload, dict) else None):
        state = as_int(p.get("productState")) if isinstance(p, dict) else None
        if state is not None and (state >> 12) & 0xF == 1:
            names.append(str(p.get("displayName", "another firewall")))
    return names


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
            why = "; ".join(w for w in (why, unavailable(command(bundle, FW_NETSH), "netsh")
                                        or "netsh: output not recognised") if w)
            return v(Status.Unknown, "not determined", why, remediation=_FW_FIX,
                     confidence=Confidence.Low)
    excerpt = "\n".join(f"{name}: {'ON' if on else 'OFF'}" for name, on in profiles.items())
    off = [name for name, on in profiles.items() if not on]
    if not off:
        return v(Status.Pass, "on (all profiles)", f"Windows Firewall is on for "
                 f"{joined(profiles, 4)}", excerpt)
    others = _third_party_firewalls(bundle)
    if others:
        return v(Status.Unknown, f"off: {joined(off)}; {joined(others)} registered",
                 f"Windows Firewall is off for {joined(off)} but Security Center lists "
                 f"{joined(others)} as an active firewall; confirm it covers every network",
                 excerpt + f"\nSecurity Center firewall: {joined(others)}", _FW_FIX,
                 Confidence.Low)
    return v(Status.Fail, f"off: {joined(off)}", f"Windows Firewall is off for the "
             f"{joined(off)} profile{'s' if len(off) > 1 else ''}", excerpt, _FW_FIX)


# --- guest account ---------------------------------------------------------------------------
#
# Method: Get-LocalUser, selecting the built-in guest by its well-known RID 501 (SID
# S-1-5-21-…-501) so a renamed guest account is still found; Enabled must be false. Fallback:
# `net user guest` ("Account active               No"; English output only; finds the account
# only under its default name).

_GUEST_TITLE = "Guest account"
_GUEST_FIX = "Disable the built-in Guest account (`net user guest /active:no` as administrator)."


def _guest_account(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("guest-account", _GUEST_TITLE, "Get-LocalUser (SID ending -501)")
    payload, why = _ps_json(bundle, GUEST_LOCALUSER, "Get-LocalUser")
    accounts = [a for a in as_list(payload.get("accounts") if isinstance(payload, dict) else None)
                if isinstance(a, dict)]
    if accounts:
        enabled = [str(a.get("Name", "Guest")) for a in accounts if as_bool(a.get("Enabled"))]
        excerpt = "\n".join(f"{a.get('Name')} (RID 501) Enabled = {a.get('Enabled')}"
                            for a in accounts)
        if enabled:
            return v(Status.Fail, "guest enabled", f"the built-in guest account "
                     f"({joined(enabled)}) is enabled", excerpt, _GUEST_FIX)
        return v(Status.Pass, "guest disabled", "the built-in guest account is disabled",
                 excerpt)
    if isinstance(payload, dict):
        why = "Get-LocalUser found no account with RID 501"
    item = command(bundle, GUEST_NETUSER)
    net_why = unavailable(item, "net user guest")
    if item is not None and net_why is None:
        m = re.search(r"^Account active\s+(Yes|No)\b", item.stdout, re.MULTILINE | re.IGNORECASE)
        nv = Verdict("guest-account", _GUEST_TITLE, "net user guest")
        if m:
            excerpt = lines_matching(item.stdout, r"^(User name|Account active)")
            if m.group(1).lower() == "yes":
                return nv(Status.Fail, "guest enabled", "the Guest account is active", excerpt,
                          _GUEST_FIX, Confidence.Medium)
            return nv(Status.Pass, "guest disabled", "the Guest account is not active", excerpt,
                      confidence=Confidence.Medium)
        net_why = "net user guest: output not recognised (" + (
            shorten(first_lines(item.stdout + item.stderr, 1), 40) or "empty") + ")"
    return v(Status.Unknown, "not determined", "; ".join(w for w in (why, net_why) if w),
             remediation=_GUEST_FIX, confidence=Confidence.Low)


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
    firmware, _ = _reg(bundle, "windows.firmware-type")
    excerpt += "\n" + _reg_line(bundle, "windows.firmware-type")
    if readable and as_int(firmware) == 1:
        return v(Status.Fail, "legacy BIOS boot", "Windows boots in legacy BIOS mode "
                 "(PEFirmwareType = 1): Secure Boot is not possible", excerpt, _SB_FIX,
                 Confidence.Medium, method="registry UEFISecureBootEnabled, PEFirmwareType")
    item = registry(bundle, "windows.secureboot-state")
    why = "UEFISecureBootEnabled is not set" if item is not None and item.error == "missing" \
        else unavailable(item, "UEFISecureBootEnabled") or "UEFISecureBootEnabled is not a number"
    return v(Status.Unknown, "not determined", why, excerpt,
             "Run `Confirm-SecureBootUEFI` as administrator.", Confidence.Low)


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
    unreadable = [REGISTRY[i][1] for i in ids if not values[i][1]]
    if unreadable:
        return v(Status.Unknown, "not determined", f"could not read {joined(unreadable)}",
                 excerpt, _AU_FIX, Confidence.Low)
    if options in (4, 5) or mdm in (1, 2, 3, 4):
        how = _AUOPTIONS[options] if options in (4, 5) else _MDM_AUTO[mdm or 1]
        return v(Status.Pass, "automatic", f"policy: {how}", excerpt)
    return v(Status.Pass, "automatic (Windows default)", "no policy restricts Windows Update, "
             "which installs updates automatically by default", excerpt,
             confidence=Confidence.Medium)


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


CHECKS: dict[str, Check] = checks_table(
    FunctionCheck("disk-encryption", _BL_TITLE, _disk_encryption),
    FunctionCheck("patch-age", _PATCH_TITLE, _patch_age),
    FunctionCheck("screen-lock", _LOCK_TITLE, _screen_lock),
    FunctionCheck("firewall", _FW_TITLE, _firewall),
    FunctionCheck("guest-account", _GUEST_TITLE, _guest_account),
    FunctionCheck("secure-boot", _SB_TITLE, _secure_boot),
    FunctionCheck("auto-updates", _AU_TITLE, _auto_updates),
    FunctionCheck("tpm", _TPM_TITLE, _tpm),
)
