"""macOS screen-lock check: the first idle trigger plus the password delay."""

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
    shorten,
    unavailable,
)
from .common import _plist_dict, _profile_unreadable
from .evidence_ids import PMSET, SCREENLOCK, SS_IDLE, SS_MANAGED, SS_MANAGED_USER

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
        managed_why = _profile_unreadable(bundle, evidence_id)
        if managed_why:  # a profile that might set askForPassword could not be read
            why = "; ".join(w for w in (why, managed_why) if w)
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


def _unread_triggers(bundle: EvidenceBundle, saver: int | None,
                     profiles: dict[str, dict[str, int]] | None) -> list[str]:
    """Which idle-trigger reads gave nothing, and why ("pmset: permission denied")."""
    out = []
    for known, evidence_id, what in ((saver is not None, SS_IDLE, "the screen saver idle time"),
                                     (profiles is not None, PMSET, "display sleep (pmset)")):
        if known:
            continue
        item = command(bundle, evidence_id)
        why = unavailable(item, what)
        if why is None and item is not None:
            detail = first_lines(output(item), 1) or f"exit {item.exit_code}"
            why = f"{what}: {shorten(detail, 80)}"
        out.append(why or f"{what}: not readable")
    return out


def _managed_unread(bundle: EvidenceBundle) -> list[str]:
    """Screen saver profiles that exist but could not be read (they override the user's)."""
    return [why for evidence_id in (SS_MANAGED_USER, SS_MANAGED)
            if (why := _profile_unreadable(bundle, evidence_id))]


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
    unread = _unread_triggers(bundle, saver, profiles)
    # The user's idle time decides a FAIL, but a profile we could not read would override it.
    overridden = _managed_unread(bundle)
    maybe_overridden = v(Status.Unknown, "not determined", "the user's settings do not lock in "
                         "time, but a configuration profile that would override them could not "
                         "be read: " + "; ".join(overridden), excerpt, fix, Confidence.Low)
    if never and complete and overridden:
        return maybe_overridden
    if never and complete:
        return v(Status.Fail, "never locks when idle", "the screen saver and display sleep are "
                 "both set to never", excerpt, fix)
    if delay_known and delay is None and policy.require_password_on_wake:
        return v(Status.Fail, "no password on wake", "waking from the screen saver or display "
                 "sleep does not ask for a password (screenLock is off)", excerpt, fix)
    if never or not delay_known:
        reasons = [w for w in (delay_why,) if w]
        if never:
            reasons.append("could not read " + ("; ".join(unread) or "the idle triggers"))
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
                 "but one could not be read and may come earlier: " + "; ".join(unread),
                 excerpt, fix, Confidence.Low)
    if overridden:
        return maybe_overridden
    return v(Status.Fail, observed, f"screen locks {total // 60} min after inactivity; policy "
             f"allows {policy.max_screen_lock_minutes} min", excerpt, fix, confidence)


SCREEN_LOCK_CHECK = FunctionCheck("screen-lock", _LOCK_TITLE, _screen_lock)
