"""macOS checks: pure judgements over evidence gathered by backends/compliance/macos.py.

Each parser names the method it relies on and where that method is documented. Plists are
read as files (XML as text, binary as hex) and parsed with plistlib; commands that answer on
stderr (sysadminctl) are read from both streams.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .model import (
    Check,
    CheckResult,
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
    as_utc,
    checks_table,
    command,
    file,
    first_lines,
    first_seen,
    joined,
    judge_patch_age,
    lines_matching,
    load_plist,
    output,
    unavailable,
)

# Evidence ids (the collector in backends/compliance/macos.py gathers exactly these).
FDESETUP = "macos.fdesetup-status"
INSTALL_HISTORY = "macos.install-history"
SU_PREFS = "macos.softwareupdate-prefs"
SU_MANAGED = "macos.softwareupdate-managed"
SCREENLOCK = "macos.screenlock-status"
SS_IDLE = "macos.screensaver-idletime"
SS_MANAGED = "macos.screensaver-managed"
SS_MANAGED_USER = "macos.screensaver-managed-user"
PMSET = "macos.pmset-custom"
FW_STATE = "macos.firewall-globalstate"
FW_MANAGED = "macos.firewall-managed"
ALF_PREFS = "macos.alf-prefs"
GUEST_STATUS = "macos.guest-status"
LOGINWINDOW = "macos.loginwindow-prefs"
MCX_MANAGED = "macos.mcx-managed"
ARM64 = "macos.arm64"
IBRIDGE = "macos.ibridge"
SECUREBOOT_NVRAM = "macos.secureboot-nvram"


def _plist_dict(bundle: EvidenceBundle, evidence_id: str
                ) -> tuple[dict[str, Any] | None, str | None]:
    """A plist file as a dict: (None, None) when it does not exist, (None, why) when unreadable."""
    item = file(bundle, evidence_id)
    if item is not None and item.error == "missing":
        return None, None
    why = unavailable(item, item.path if item is not None else evidence_id)
    if why or item is None:
        return None, why
    data = load_plist(item.content)
    if not isinstance(data, dict):
        return None, f"{item.path}: not a property list we can read"
    return data, None


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


# --- patch age -------------------------------------------------------------------------------
#
# Method: /Library/Receipts/InstallHistory.plist (the record behind System Information >
# Installations and `softwareupdate --history`), an array of dicts with date, displayName,
# displayVersion, packageIdentifiers, processName and, for background data updates,
# contentType = "config-data" (XProtectPlistConfigData, MRTConfigData, Gatekeeper
# Configuration Data ...: Apple marks these ConfigData in its catalog, see Der Flounder,
# "Managing automatic installation of ConfigData and security software updates", 2014).
# OS patches are processName softwareupdated / "Software Update" / macOS installer entries
# that are not config data (older records lack contentType, so known config-data names are
# matched too) and not developer tools (Command Line Tools).
# Pending updates: /Library/Preferences/com.apple.SoftwareUpdate.plist (world-readable):
# RecommendedUpdates (Display Name, Display Version, Identifier, Product Key) from the last
# background scan, LastSuccessfulDate (that scan), and FirstOfferDateDictionary (Identifier
# -> when this Mac was first offered the update). Major upgrades ("_major") are not patches.
# An update with no offer date is dated by Strongroom's own first-seen memory, when present.

_PATCH_TITLE = "OS patch age"
_PATCH_FIX = ("Install the pending updates in System Settings > General > Software Update "
              "(or `softwareupdate --install --all --restart`).")
_OS_PATCH_PROCESSES = {"softwareupdated", "software update", "macos installer",
                       "os x installer", "system installer"}
_CONFIG_DATA = re.compile(r"XProtect|MRT|Gatekeeper|ConfigData|Configuration Data|"
                          r"Compatibility Data|KEXT Exclude|Word List|Core Suggestions|LSKD",
                          re.IGNORECASE)
_NOT_OS = re.compile(r"^Command Line Tools", re.IGNORECASE)


def _is_os_patch(entry: dict[str, Any]) -> bool:
    process = str(entry.get("processName", "")).strip().lower()
    name = str(entry.get("displayName", ""))
    packages = " ".join(str(p) for p in entry.get("packageIdentifiers") or [])
    if process not in _OS_PATCH_PROCESSES:
        return False
    if str(entry.get("contentType", "")).lower() == "config-data":
        return False
    if _CONFIG_DATA.search(name) or _CONFIG_DATA.search(packages):
        return False
    return not _NOT_OS.search(name)


def _label(entry: dict[str, Any]) -> str:
    name = str(entry.get("displayName", "")).strip()
    version = str(entry.get("displayVersion", "")).strip()
    return f"{name} {version}" if version and version not in name else name


def _install_history(bundle: EvidenceBundle) -> tuple[list[dict[str, Any]] | None, str | None]:
    item = file(bundle, INSTALL_HISTORY)
    why = unavailable(item, "/Library/Receipts/InstallHistory.plist")
    if why or item is None:
        return None, why
    data = load_plist(item.content)
    if not isinstance(data, list):
        return None, "InstallHistory.plist is not a readable plist array (truncated?)"
    return [e for e in data if isinstance(e, dict)], None


def _recommended(prefs: dict[str, Any] | None) -> list[tuple[str, str, str]] | None:
    """Pending patches from RecommendedUpdates: (key, label, version); None if unknown."""
    if prefs is None:
        return None
    found: list[tuple[str, str, str]] = []
    for entry in prefs.get("RecommendedUpdates") or []:
        if not isinstance(entry, dict):
            continue
        ident = str(entry.get("Identifier", "")).strip()
        product = str(entry.get("Product Key", "")).strip()
        name = str(entry.get("Display Name", "")).strip() or ident or product or "update"
        version = str(entry.get("Display Version", "")).strip()
        if "_major" in ident or "_major" in product or _NOT_OS.search(name):
            continue  # an optional major upgrade or developer tools, not a patch
        label = f"{name} {version}" if version and version not in name else name
        found.append((ident or product or label, label, version))
    return found


def _pending_updates(bundle: EvidenceBundle, prefs: dict[str, Any] | None,
                     installed: list[dict[str, Any]]
                     ) -> tuple[list[PendingUpdate] | None, dt.datetime | None]:
    recommended = _recommended(prefs)
    if prefs is None or recommended is None:
        return None, None
    last_check = prefs.get("LastSuccessfulDate") or prefs.get("LastFullSuccessfulDate")
    checked = as_utc(last_check) if isinstance(last_check, dt.datetime) else None
    offers = prefs.get("FirstOfferDateDictionary")
    offers = offers if isinstance(offers, dict) else {}
    remembered = first_seen(bundle)
    pending: list[PendingUpdate] = []
    for key, label, version in recommended:
        offered = offers.get(key)
        since = as_utc(offered) if isinstance(offered, dt.datetime) else remembered.get(key)
        # The list is from the last scan: an update installed since then is no longer pending.
        done = bool(version) and any(
            str(e.get("displayVersion", "")).strip() == version
            and isinstance(e.get("date"), dt.datetime)
            and (since is None or as_utc(e["date"]) >= since) for e in installed)
        if not done:
            pending.append(PendingUpdate(label, since))
    return pending, checked


def pending_security_updates(bundle: EvidenceBundle) -> list[str] | None:
    """Keys of the pending patches, for Strongroom's first-seen memory; None if unknown."""
    prefs, _ = _plist_dict(bundle, SU_PREFS)
    recommended = _recommended(prefs)
    return None if recommended is None else [key for key, _, _ in recommended]


def _patch_age(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("patch-age", _PATCH_TITLE, "/Library/Receipts/InstallHistory.plist, "
                "/Library/Preferences/com.apple.SoftwareUpdate.plist")
    history, why = _install_history(bundle)
    prefs, prefs_why = _plist_dict(bundle, SU_PREFS)
    if history is None and prefs is None:
        return v(Status.Unknown, "not determined", "; ".join(w for w in (why, prefs_why) if w)
                 or "no evidence", remediation="Run the check on macOS.")
    patches = sorted((e for e in history or [] if _is_os_patch(e)
                      and isinstance(e.get("date"), dt.datetime)), key=lambda e: e["date"])
    config = [e for e in history or [] if not _is_os_patch(e)
              and str(e.get("processName", "")).lower() == "softwareupdated"]
    last = patches[-1] if patches else None
    pending, checked = _pending_updates(bundle, prefs, patches)
    excerpt_lines = [f"{e['date']:%Y-%m-%d} {_label(e)}" for e in patches[-3:]]
    if config:
        newest = max((e for e in config if isinstance(e.get("date"), dt.datetime)),
                     key=lambda e: e["date"], default=None)
        if newest is not None:
            excerpt_lines.append(f"(config data, not an OS patch: {newest['date']:%Y-%m-%d} "
                                 f"{newest.get('displayName', '')})")
    if pending:
        excerpt_lines += [f"pending: {p.name}" + (f" offered {p.since:%Y-%m-%d}" if p.since
                                                   else "") for p in pending[:3]]
    if checked:
        excerpt_lines.append(f"last update check: {checked:%Y-%m-%d %H:%M} UTC")
    facts = PatchFacts(
        last_patch=as_utc(last["date"]) if last else None,
        last_patch_name=str(last.get("displayName", "")) if last else "",
        pending=pending, last_check=checked, excerpt="\n".join(excerpt_lines),
        confidence=Confidence.High if history is not None else Confidence.Medium)
    return judge_patch_age(facts, policy, now, v, _PATCH_FIX)


# --- screen lock -----------------------------------------------------------------------------
#
# Method: the lock = the first idle trigger + the password delay.
# - Password on wake and its delay: `sysadminctl -screenLock status` run as the console user
#   (macOS 10.13+; answers on stderr with an NSLog prefix): "screenLock delay is immediate",
#   "screenLock delay is 300 seconds", "screenLock is off" (CIS macOS benchmark 2.10.2 and
#   NIST mSCP use the same command). A managed com.apple.screensaver profile (askForPassword,
#   askForPasswordDelay) is the fallback.
# - Idle triggers: the screen saver, `defaults -currentHost read com.apple.screensaver
#   idleTime` (seconds, 0 = never; absent = the 20-minute default, CIS 2.11.1 "20 minutes is
#   the default for new accounts"), overridden by a managed profile in /Library/Managed
#   Preferences; and display sleep from `pmset -g custom` (displaysleep, minutes, 0 = never)
#   per power source. Locking happens at whichever comes first; the worst power source counts.
#   System sleep is not counted: macOS sleeps the system only after the display.

_LOCK_TITLE = "Screen lock"
_LOCK_FIX = ("In System Settings > Lock Screen set \"Require password after screen saver "
             "begins or display is turned off\" to Immediately, and start the screen saver / "
             "turn the display off after at most {limit} minutes of inactivity.")
_DEFAULT_IDLE_SECONDS = 1200


def _password_delay(bundle: EvidenceBundle) -> tuple[int | None, bool, str, str | None]:
    """(delay seconds or None when off, known?, excerpt, why unknown)."""
    item = command(bundle, SCREENLOCK)
    why = unavailable(item, "sysadminctl")
    if item is not None and why is None:
        text = output(item)
        if re.search(r"screenLock is off", text, re.IGNORECASE):
            return None, True, lines_matching(text, "screenLock"), None
        m = re.search(r"screenLock delay is (immediate|(-?\d+(?:\.\d+)?) seconds?)", text,
                      re.IGNORECASE)
        if m:
            seconds = 0 if m.group(1).lower() == "immediate" else int(float(m.group(2)))
            return (seconds if seconds >= 0 else None), True, lines_matching(text, "screenLock"), \
                None
        why = "sysadminctl: unrecognised answer"
    for evidence_id in (SS_MANAGED_USER, SS_MANAGED):
        managed, _ = _plist_dict(bundle, evidence_id)
        if managed and "askForPassword" in managed:
            if not as_bool(managed.get("askForPassword")):
                return None, True, "managed profile: askForPassword = 0", None
            delay = as_int(managed.get("askForPasswordDelay")) or 0
            return delay, True, f"managed profile: askForPassword = 1, delay {delay} s", None
    return None, False, "", why


def _screensaver_idle(bundle: EvidenceBundle) -> tuple[int | None, str, bool]:
    """(seconds, 0 = never; None = unknown), excerpt, whether a default was assumed."""
    for evidence_id in (SS_MANAGED_USER, SS_MANAGED):
        managed, _ = _plist_dict(bundle, evidence_id)
        if managed and as_int(managed.get("idleTime")) is not None:
            seconds = as_int(managed.get("idleTime"))
            return seconds, f"managed profile: idleTime = {seconds}", False
    item = command(bundle, SS_IDLE)
    if item is None or item.error is not None:
        return None, "", False
    text = output(item)
    if item.exit_code == 0 and as_int(item.stdout) is not None:
        return as_int(item.stdout), f"screensaver idleTime = {item.stdout.strip()}", False
    if re.search(r"does not exist", text):
        return _DEFAULT_IDLE_SECONDS, "screensaver idleTime not set (default 20 min)", True
    return None, "", False


def _pmset_profiles(bundle: EvidenceBundle) -> dict[str, dict[str, int]] | None:
    item = command(bundle, PMSET)
    if item is None or item.error is not None or item.exit_code != 0:
        return None
    profiles: dict[str, dict[str, int]] = {}
    current: dict[str, int] | None = None
    for line in item.stdout.splitlines():
        header = re.match(r"^(\S.*?):\s*$", line)
        if header:
            current = profiles.setdefault(header.group(1), {})
            continue
        setting = re.match(r"^\s+(\w+)\s+(-?\d+)", line)
        if setting and current is not None:
            current[setting.group(1)] = int(setting.group(2))
    profiles = {k: v for k, v in profiles.items() if "displaysleep" in v or "sleep" in v}
    return profiles or None


def _screen_lock(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("screen-lock", _LOCK_TITLE, "sysadminctl -screenLock status; defaults "
                "-currentHost read com.apple.screensaver idleTime; pmset -g custom")
    limit = policy.max_screen_lock_minutes * 60
    fix = _LOCK_FIX.format(limit=policy.max_screen_lock_minutes)
    delay, delay_known, delay_excerpt, delay_why = _password_delay(bundle)
    if not policy.require_password_on_wake and (not delay_known or delay is None):
        delay, delay_known = 0, True  # only the idle trigger matters then
    saver, saver_excerpt, assumed = _screensaver_idle(bundle)
    profiles = _pmset_profiles(bundle)
    excerpt = "\n".join(x for x in (delay_excerpt, saver_excerpt) if x)
    if profiles:
        excerpt += "\n" + "\n".join(
            f"{name}: displaysleep {p.get('displaysleep', '?')} min"
            for name, p in profiles.items())

    # Lock-trigger time per power source: the earliest non-zero trigger; None = never.
    # `complete` is False when a trigger we could not read might have come earlier.
    worst = 0
    never = False
    complete = saver is not None and profiles is not None
    for p in (profiles or {"(power settings unknown)": {}}).values():
        triggers = [t for t in (saver, p.get("displaysleep", 0) * 60 if profiles else None)
                    if t is not None and t > 0]
        if not triggers:
            never = True
            continue
        worst = max(worst, min(triggers))
    if never and complete:
        return v(Status.Fail, "never locks when idle", "the screen saver and display sleep are "
                 "both set to never", excerpt, fix)
    if delay_known and delay is None and policy.require_password_on_wake:
        return v(Status.Fail, "no password on wake", "waking from the screen saver or display "
                 "sleep does not ask for a password (screenLock is off)", excerpt, fix)
    if never or not delay_known:
        reasons = [w for w in (delay_why,) if w]
        if never:
            reasons.append("the screen saver idle time or power settings could not be read")
        return v(Status.Unknown, "not determined", "; ".join(reasons) or "incomplete evidence",
                 excerpt, "Run the check as the logged-in user on macOS.", Confidence.Low)
    total = worst + (delay or 0)
    wait = "password " + ("immediately" if not delay else f"{delay} s later")
    if not policy.require_password_on_wake:
        wait = "no password required by the policy"
    observed = f"locks after {total // 60} min {total % 60:02d} s" if total % 60 else \
        f"locks after {total // 60} min"
    confidence = Confidence.Medium if assumed else Confidence.High
    if total <= limit:
        return v(Status.Pass, observed, f"idle trigger after {worst // 60} min, {wait}; "
                 f"within the {policy.max_screen_lock_minutes}-minute policy", excerpt,
                 confidence=confidence)
    if not complete:
        return v(Status.Unknown, "not determined", "the known idle triggers exceed the policy "
                 "but one trigger could not be read and may come earlier", excerpt, fix,
                 Confidence.Low)
    return v(Status.Fail, observed, f"screen locks {total // 60} min after inactivity; policy "
             f"allows {policy.max_screen_lock_minutes} min", excerpt, fix, confidence)


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
    reasons = "; ".join(w for w in (why, alf_why) if w) or "no firewall state found"
    return v(Status.Unknown, "not determined", reasons, remediation=_FW_FIX,
             confidence=Confidence.Low)


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
    why = unavailable(bridge, "system_profiler") or ("the boot policy is not shown without "
                                                     "admin rights (bputil -d needs root)")
    return v(Status.Unknown, "not determined", why, first_lines(bridge_text or ""),
             "Run `system_profiler SPiBridgeDataType` or, as admin, `bputil -d`.", Confidence.Low)


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
    if off:
        return v(Status.Fail, f"off: {joined(off, 2)}", f"automatic updates do not {joined(off)}",
                 excerpt, _AU_FIX)
    if defaulted:
        return v(Status.Pass, "on", f"all automatic update options are on ({joined(defaulted)} "
                 "not set, on by default)", excerpt, confidence=Confidence.Medium)
    return v(Status.Pass, "on", "automatic check, download and install of macOS updates and "
             "security data are all on", excerpt)


# --- TPM -------------------------------------------------------------------------------------

def _tpm(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    v = Verdict("tpm", "TPM present", "not applicable on macOS")
    return v(Status.NotApplicable, "no TPM on Macs", "Macs have no TPM; the Secure Enclave "
             "(T2 or Apple silicon) holds FileVault and key-protection secrets instead")


CHECKS: dict[str, Check] = checks_table(
    FunctionCheck("disk-encryption", _FV_TITLE, _disk_encryption),
    FunctionCheck("patch-age", _PATCH_TITLE, _patch_age),
    FunctionCheck("screen-lock", _LOCK_TITLE, _screen_lock),
    FunctionCheck("firewall", _FW_TITLE, _firewall),
    FunctionCheck("guest-account", _GUEST_TITLE, _guest_account),
    FunctionCheck("secure-boot", _SB_TITLE, _secure_boot),
    FunctionCheck("auto-updates", _AU_TITLE, _auto_updates),
    FunctionCheck("tpm", "TPM present", _tpm),
)
