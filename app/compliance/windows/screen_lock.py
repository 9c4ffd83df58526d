"""Windows screen-lock check: inactivity limit, secure screen saver, or sign-in on wake."""

from __future__ import annotations

import datetime as dt
import re

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import FunctionCheck, Verdict, as_bool, as_int, command, joined
from .common import _reg, _reg_line
from .evidence_ids import POWER_CONSOLELOCK, POWER_STANDBYIDLE, POWER_STATES, POWER_VIDEOIDLE

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


SCREEN_LOCK_CHECK = FunctionCheck("screen-lock", _LOCK_TITLE, _screen_lock)
