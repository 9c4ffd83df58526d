"""Linux screen-lock check: GNOME and KDE idle lock and password on wake."""

from __future__ import annotations

import datetime as dt
import re

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import command, file
from .common import LinuxCheck, _bool, _ini_section, _Result, _text, excerpt, failure, problem
from .evidence_ids import (
    DCONF_USER,
    GS_IDLE,
    GS_LOCKDOWN,
    GS_SCREENSAVER,
    KSCREENLOCKERRC,
    LOGIN_SESSION,
    UID,
)

# ===== screen-lock =============================================================================
# Method: which desktop from `loginctl show-session auto -p Type -p Desktop -p Class -p Active`
# ("auto": the caller's session or the display session of the caller's user; Type x11/wayland =
# graphical). GNOME (gsettings-desktop-schemas): org.gnome.desktop.session idle-delay (uint32,
# seconds of inactivity before the session is idle; 0 = never), org.gnome.desktop.screensaver
# lock-enabled (lock when the screensaver activates) and lock-delay (seconds after activation
# before locking; 0 = at once), Ubuntu's ubuntu-lock-on-suspend, and org.gnome.desktop.lockdown
# disable-lock-screen; read with gsettings as the desktop user (the settings are per user; run
# as root, they are root's). KDE (kscreenlocker's settings/kscreenlockersettings.kcfg):
# ~/.config/kscreenlockerrc [Daemon] Autolock (default true), Timeout (minutes, default 5),
# LockGrace (seconds, default 5), LockOnResume (default true), RequirePassword (default true);
# an absent file or key means the default. Lock after idle-delay + lock-delay ≤ the policy,
# with lock-on-resume when a password on wake is required → PASS.

_GS_VALUE = re.compile(r"^(?:uint32|int32|uint64|int64)?\s*(\S+)$")
GNOME_DESKTOPS = {"gnome", "ubuntu", "gnome-classic", "gnome-xorg", "unity", "pop", "zorin",
                  "budgie", "gnome-flashback"}


def _gs_value(text: str) -> str | None:
    m = _GS_VALUE.match(text.strip())
    return m.group(1).strip("'") if m else None


def _session(bundle: EvidenceBundle) -> dict[str, str]:
    item = command(bundle, LOGIN_SESSION)
    if item is None or not item.ok:
        return {}
    out = {}
    for line in item.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _judge_lock(r: _Result, policy: Policy, desktop: str, lock_seconds: int | None,
                locks: bool, wake_password: bool, observed_extra: str, confidence: Confidence,
                excerpts: list[str], note: str) -> CheckResult:
    limit = policy.max_screen_lock_minutes * 60
    if not locks:
        return r.make(Status.Fail, f"{desktop}: screen does not lock",
                      f"the screen blanks or idles without locking{note}", confidence,
                      excerpts=excerpts)
    if lock_seconds is None:
        return r.make(Status.Fail, f"{desktop}: never locks when idle",
                      f"the idle timeout is off (0 = never){note}", confidence, excerpts=excerpts)
    minutes = lock_seconds / 60
    shown = f"{minutes:g} min" if minutes >= 1 else f"{lock_seconds} s"
    if lock_seconds > limit:
        return r.make(Status.Fail, f"{desktop}: locks after {shown}{observed_extra}",
                      f"over the {policy.max_screen_lock_minutes}-minute limit{note}", confidence,
                      excerpts=excerpts)
    if policy.require_password_on_wake and not wake_password:
        return r.make(Status.Fail, f"{desktop}: locks after {shown}, not on wake",
                      f"waking from sleep does not ask for the password{note}", confidence,
                      excerpts=excerpts)
    return r.make(Status.Pass, f"{desktop}: locks after {shown}{observed_extra}",
                  f"within {policy.max_screen_lock_minutes} min"
                  + (", password on wake" if wake_password else "") + note, confidence,
                  excerpts=excerpts)


def _gnome(bundle: EvidenceBundle, r: _Result, policy: Policy, confidence: Confidence,
           note: str) -> CheckResult:
    idle_item = command(bundle, GS_IDLE)
    saver_item = command(bundle, GS_SCREENSAVER)
    lockdown_item = command(bundle, GS_LOCKDOWN)
    for item, what in ((idle_item, "gsettings"), (saver_item, "gsettings")):
        why = problem(item, what)
        if why or item is None or item.exit_code != 0:
            return r.make(Status.Unknown, "GNOME settings not readable",
                          f"{why or 'gsettings failed (is gsettings-desktop-schemas installed?)'}",
                          Confidence.Low, excerpts=[excerpt(item)])
    assert idle_item is not None and saver_item is not None  # noqa: S101 - checked just above
    idle_text = _gs_value(idle_item.stdout)
    saver: dict[str, str] = {}
    for line in saver_item.stdout.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0] == "org.gnome.desktop.screensaver":
            value = _gs_value(parts[2])
            if value is not None:
                saver[parts[1]] = value
    if idle_text is None or not idle_text.isdigit() or "lock-enabled" not in saver or \
            not saver.get("lock-delay", "").isdigit():
        return r.make(Status.Unknown, "GNOME settings not recognised",
                      "unrecognised gsettings output", Confidence.Low,
                      excerpts=[excerpt(idle_item), excerpt(saver_item)])
    idle = int(idle_text)
    delay = int(saver["lock-delay"])
    enabled = saver["lock-enabled"] == "true"
    disabled_by_lockdown = bool(lockdown_item and lockdown_item.ok and
                                _gs_value(lockdown_item.stdout) == "true")
    on_suspend = saver.get("ubuntu-lock-on-suspend", "true") == "true"
    shown = [ln for ln in saver_item.stdout.splitlines()
             if any(k in ln for k in ("lock-enabled", "lock-delay", "lock-on-suspend"))]
    excerpts = [excerpt(idle_item), excerpt(saver_item, shown)]
    if disabled_by_lockdown:
        excerpts.append(excerpt(lockdown_item))
        return r.make(Status.Fail, "GNOME: lock screen disabled",
                      f"org.gnome.desktop.lockdown disable-lock-screen is true{note}", confidence,
                      excerpts=excerpts)
    return _judge_lock(
        r, policy, "GNOME", None if idle == 0 else idle + delay, enabled,
        enabled and on_suspend, f" (idle {idle} s + lock delay {delay} s)", confidence,
        excerpts, note,
    )


def _kde(bundle: EvidenceBundle, r: _Result, policy: Policy, confidence: Confidence,
         note: str) -> CheckResult:
    item = file(bundle, KSCREENLOCKERRC)
    if item is not None and item.error not in (None, "missing"):
        return r.make(Status.Unknown, "KDE settings not readable", problem(item) or "",
                      Confidence.Low, excerpts=[excerpt(item)])
    daemon = _ini_section(_text(item) or "", "Daemon")
    autolock = _bool(daemon.get("Autolock"), True)
    resume = _bool(daemon.get("LockOnResume"), True)
    password = _bool(daemon.get("RequirePassword"), True)
    try:
        timeout = float(daemon.get("Timeout", "5"))
        grace = int(daemon.get("LockGrace", "5"))
    except ValueError:
        timeout, grace = -1.0, -1
    if None in (autolock, resume, password) or timeout < 0 or grace < 0:
        return r.make(Status.Unknown, "KDE settings not recognised",
                      "unrecognised values in kscreenlockerrc [Daemon]", Confidence.Low,
                      excerpts=[excerpt(item)])
    shown = [f"{k}={v}" for k, v in daemon.items()] or ["(no [Daemon] keys: KDE defaults)"]
    excerpts = [excerpt(item, shown)]
    if password is False:
        return r.make(Status.Fail, "KDE: lock asks for no password",
                      f"RequirePassword=false{note}", confidence, excerpts=excerpts)
    return _judge_lock(
        r, policy, "KDE", None if timeout == 0 else round(timeout * 60), bool(autolock),
        bool(resume), f" (grace {grace} s)", confidence, excerpts, note,
    )


def check_screen_lock(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    r = _Result(
        "screen-lock",
        "loginctl show-session auto (desktop); GNOME: gsettings idle-delay, screensaver "
        "lock-enabled/lock-delay, lockdown disable-lock-screen; KDE: ~/.config/kscreenlockerrc "
        "[Daemon] with kscreenlocker's defaults",
        f"Lock the screen after at most {policy.max_screen_lock_minutes} minutes and ask for the "
        "password: GNOME Settings › Privacy › Screen Lock (gsettings set "
        "org.gnome.desktop.session idle-delay 300; org.gnome.desktop.screensaver lock-enabled "
        "true); KDE System Settings › Screen Locking.",
    )
    session = _session(bundle)
    graphical = session.get("Type") in ("x11", "wayland", "mir")
    desktop = session.get("Desktop", "").lower()
    uid_item = command(bundle, UID)
    as_root = bool(uid_item and uid_item.ok and uid_item.stdout.strip() == "0")
    note = "; read as root: these are root's settings, run as the desktop user" if as_root else ""
    base = Confidence.Low if as_root else Confidence.High
    kde_file = file(bundle, KSCREENLOCKERRC)
    has_kde = kde_file is not None and kde_file.error is None
    dconf = file(bundle, DCONF_USER)
    has_dconf = dconf is not None and dconf.error is None
    gs_ok = bool((item := command(bundle, GS_IDLE)) and item.ok)
    if graphical and ("kde" in desktop or "plasma" in desktop):
        return _kde(bundle, r, policy, base, note)
    if graphical and desktop in GNOME_DESKTOPS:
        return _gnome(bundle, r, policy, base, note)
    if graphical and desktop:
        return r.make(Status.Unknown, f"desktop {session.get('Desktop')}",
                      f"the {session.get('Desktop')} desktop is not supported yet (GNOME and KDE "
                      "are)", Confidence.Medium, excerpts=[excerpt(command(bundle, LOGIN_SESSION))])
    lower = Confidence.Low if as_root else Confidence.Medium
    seen = "" if graphical else "; no graphical session seen, judged from this user's settings"
    if has_kde:
        return _kde(bundle, r, policy, lower, seen + note)
    if has_dconf and gs_ok:
        return _gnome(bundle, r, policy, lower, seen + note)
    return r.make(
        Status.Unknown, "no desktop session found",
        "no graphical session, KDE config or GNOME settings database for this user"
        + (" (" + (failure(command(bundle, LOGIN_SESSION), "loginctl") or
                   f"loginctl: session Type={session.get('Type', '?')}") + ")") + note,
        Confidence.Medium,
        "Run the check as the desktop user inside their session (a server without a desktop "
        "can list screen-lock as not required in the policy).",
        excerpts=[excerpt(command(bundle, LOGIN_SESSION)), excerpt(dconf), excerpt(kde_file)],
    )


SCREEN_LOCK_CHECK = LinuxCheck("screen-lock", check_screen_lock)
