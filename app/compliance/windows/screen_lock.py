"""Windows screen-lock check: inactivity limit, secure screen saver, or sign-in on wake."""

from __future__ import annotations

import datetime as dt
import re

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import FunctionCheck, Verdict, as_bool, as_int, command, joined
from .common import _command_why, _reg, _reg_line, _reg_why
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
# last two hex values (AC, then DC) are used. A value that cannot be read is never replaced by
# one it may override (a user's screen saver value under an unreadable policy value), and an
# unread powercfg /a or VIDEOIDLE leaves the Modern Standby path open: UNKNOWN, not FAIL.

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


def _modern_standby(bundle: EvidenceBundle) -> bool | None:
    """Whether `powercfg /a` lists Standby (S0 Low Power Idle) as available; None: not read."""
    item = command(bundle, POWER_STATES)
    if item is None or item.error is not None or item.exit_code != 0:
        return None
    blocks: list[list[str]] = []
    for line in item.stdout.splitlines():
        if not line.strip():
            continue
        if not line[:1].isspace() or not blocks:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return bool(blocks) and any("S0 Low Power Idle" in line for line in blocks[0][1:])


def _power_why(bundle: EvidenceBundle, consolelock: tuple[int, int] | None,
               standby: tuple[int, int] | None) -> str:
    return "; ".join(_command_why(bundle, eid, f"powercfg {label}") for label, eid, pair in (
        ("CONSOLELOCK", POWER_CONSOLELOCK, consolelock),
        ("STANDBYIDLE", POWER_STANDBYIDLE, standby)) if pair is None)


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
        incomplete.append(_reg_why(bundle, "windows.inactivity-timeout"))

    # Each screen saver value as it takes effect: the policy's when set, else the user's. A
    # value that could not be read (the policy's, or the user's where no policy is set) is
    # unknown, and never replaced by a value it might override.
    saver: dict[str, object] = {}
    unread: list[str] = []
    saver_readable = True
    for name in ("active", "secure", "timeout", "exe"):
        policy_id, user_id = f"windows.screensaver-policy-{name}", f"windows.screensaver-{name}"
        policy_value, policy_ok = _reg(bundle, policy_id)
        user_value, user_ok = _reg(bundle, user_id)
        saver_readable = saver_readable and policy_ok and user_ok
        if not policy_ok:
            shown = policy_id
        elif policy_value not in (None, ""):
            saver[name], shown = policy_value, policy_id
        else:
            shown = user_id
            if user_ok:
                saver[name] = user_value
        if name not in saver:
            unread.append(_reg_why(bundle, shown))
        lines.append(_reg_line(bundle, shown))
    active = as_bool(saver["active"]) if "active" in saver else None
    timeout = as_int(saver["timeout"]) if "timeout" in saver else None
    exe = str(saver["exe"] or "").strip() if "exe" in saver else None
    runs = "active" in saver and "timeout" in saver and "exe" in saver
    if runs and active and exe and timeout and timeout > 0:
        if "secure" in saver and as_bool(saver["secure"]):
            locks.append((timeout, f"password-protected screen saver after {timeout} s",
                          Confidence.High))
        elif not policy.require_password_on_wake:
            locks.append((timeout, f"screen saver after {timeout} s", Confidence.High))
        elif "secure" in saver:
            unlocked.append(f"screen saver after {timeout} s without a password")
        else:
            incomplete.append(f"whether the screen saver asks for a password ({joined(unread)})")
    elif runs and active and timeout and not exe:
        unlocked.append("screen saver enabled but none selected (SCRNSAVE.EXE empty), so it "
                        "never starts")
    elif not saver_readable:
        incomplete.append(f"the screen saver settings ({joined(unread) or 'unreadable'})")

    consolelock = _powercfg(bundle, POWER_CONSOLELOCK)
    standby = _powercfg(bundle, POWER_STANDBYIDLE)
    video = _powercfg(bundle, POWER_VIDEOIDLE)
    modern = _modern_standby(bundle)
    display_off = video is None or min(video) > 0
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
        incomplete.append(f"the power settings ({_power_why(bundle, consolelock, standby)})")
    elif modern is None and display_off:
        incomplete.append("whether turning the display off enters Modern Standby ("
                          f"{_command_why(bundle, POWER_STATES, 'powercfg /a')})")
    elif modern and video is None:
        incomplete.append("when the display turns off on this Modern Standby device ("
                          f"{_command_why(bundle, POWER_VIDEOIDLE, 'powercfg VIDEOIDLE')})")

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
        return v(Status.Unknown, "not determined", f"could not read {'; '.join(incomplete)}",
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
