"""The macOS evidence collector: commands and plist reads run in parallel, no admin rights needed.

It gathers exactly the evidence ids ``strongroom.app.compliance.macos`` reads (the method
of each check is documented there) and judges nothing. Commands run through
``runner.run_command`` by absolute path (LC_ALL=C, a timeout, no shell); a missing tool, a denied
read or a timeout becomes evidence with ``error`` set. Per-user settings (screen lock, screen
saver) are read as the console user: when Strongroom itself runs as root, those commands run
through ``launchctl asuser <uid> sudo -u <user>``. Binary plists are stored as XML text, so
dumps stay readable and can be redacted. Nothing here imports a macOS-only module at import.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import plistlib
import socket
import sys
from collections.abc import Callable

from strongroom.app.compliance.macos import evidence_ids as ids
from strongroom.app.compliance.model import OS, Evidence, EvidenceBundle, FileEvidence
from strongroom.app.plugins import Availability

from .runner import gather_parallel, read_file, run_command

INSTALL_HISTORY_MAX = 32 * 1024 * 1024  # the newest entries are at the end of this file
MANAGED = "/Library/Managed Preferences"
SECURE_BOOT_VAR = "94b73556-2197-4702-82a8-3e1337dafbfb:AppleSecureBootPolicy"


def read_plist(path: str, max_bytes: int = 1024 * 1024) -> FileEvidence:
    """A plist as text: XML as it is, binary converted to XML (hex if it will not convert)."""
    item = read_file(path, max_bytes)
    if item.content is None or not item.content.startswith("bplist"):
        return item
    raw = read_file(path, max_bytes, binary_hex=True)
    if raw.content is None:
        return raw
    try:
        xml = plistlib.dumps(plistlib.loads(bytes.fromhex(raw.content)), fmt=plistlib.FMT_XML)
    except (plistlib.InvalidFileException, ValueError, TypeError, OverflowError):
        return raw
    return FileEvidence(path, xml.decode("utf-8"))


def console_user() -> tuple[int, str] | None:
    """(uid, name) of the user at the console, from the owner of /dev/console."""
    try:
        import pwd

        uid = os.stat("/dev/console").st_uid
        return uid, pwd.getpwuid(uid).pw_name
    except (ImportError, OSError, KeyError):
        return None


def as_console_user(argv: list[str], user: tuple[int, str] | None) -> list[str]:
    """``argv`` run as the console user when we are root (per-user settings live there)."""
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None or geteuid() != 0 or user is None or user[0] == 0:
        return argv
    uid, name = user
    return ["/bin/launchctl", "asuser", str(uid), "/usr/bin/sudo", "-u", name, *argv]


Items = dict[str, Evidence]
Task = Callable[[tuple[int, str] | None], Items]


def t_fdesetup(user: tuple[int, str] | None) -> Items:
    return {ids.FDESETUP: run_command(["/usr/bin/fdesetup", "status"])}


def t_install_history(user: tuple[int, str] | None) -> Items:
    return {ids.INSTALL_HISTORY: read_plist("/Library/Receipts/InstallHistory.plist",
                                            INSTALL_HISTORY_MAX)}


def t_softwareupdate(user: tuple[int, str] | None) -> Items:
    return {ids.SU_PREFS: read_plist("/Library/Preferences/com.apple.SoftwareUpdate.plist"),
            ids.SU_MANAGED: read_plist(f"{MANAGED}/com.apple.SoftwareUpdate.plist")}


def t_screen_lock(user: tuple[int, str] | None) -> Items:
    return {ids.SCREENLOCK: run_command(
        as_console_user(["/usr/sbin/sysadminctl", "-screenLock", "status"], user))}


def t_screensaver(user: tuple[int, str] | None) -> Items:
    out: Items = {
        ids.SS_IDLE: run_command(as_console_user(
            ["/usr/bin/defaults", "-currentHost", "read", "com.apple.screensaver", "idleTime"],
            user)),
        ids.SS_MANAGED: read_plist(f"{MANAGED}/com.apple.screensaver.plist"),
    }
    if user is not None and "/" not in user[1]:
        out[ids.SS_MANAGED_USER] = read_plist(f"{MANAGED}/{user[1]}/com.apple.screensaver.plist")
    return out


def t_pmset(user: tuple[int, str] | None) -> Items:
    return {ids.PMSET: run_command(["/usr/bin/pmset", "-g", "custom"])}


def t_firewall(user: tuple[int, str] | None) -> Items:
    return {
        ids.FW_STATE: run_command(["/usr/libexec/ApplicationFirewall/socketfilterfw",
                                   "--getglobalstate"]),
        ids.FW_MANAGED: read_plist(f"{MANAGED}/com.apple.security.firewall.plist"),
        ids.ALF_PREFS: read_plist("/Library/Preferences/com.apple.alf.plist"),
    }


def t_guest(user: tuple[int, str] | None) -> Items:
    return {
        ids.GUEST_STATUS: run_command(["/usr/sbin/sysadminctl", "-guestAccount", "status"]),
        ids.LOGINWINDOW: read_plist("/Library/Preferences/com.apple.loginwindow.plist"),
        ids.MCX_MANAGED: read_plist(f"{MANAGED}/com.apple.MCX.plist"),
    }


def t_secure_boot(user: tuple[int, str] | None) -> Items:
    return {
        ids.ARM64: run_command(["/usr/sbin/sysctl", "-n", "hw.optional.arm64"]),
        ids.IBRIDGE: run_command(["/usr/sbin/system_profiler", "SPiBridgeDataType"], timeout=30),
        ids.SECUREBOOT_NVRAM: run_command(["/usr/sbin/nvram", SECURE_BOOT_VAR]),
    }


TASKS: dict[str, tuple[Task, ...]] = {
    "disk-encryption": (t_fdesetup,),
    "patch-age": (t_install_history, t_softwareupdate),
    "screen-lock": (t_screen_lock, t_screensaver, t_pmset),
    "firewall": (t_firewall,),
    "guest-account": (t_guest,),
    "secure-boot": (t_secure_boot,),
    "auto-updates": (t_softwareupdate,),
    "tpm": (),  # Macs have no TPM: nothing to collect
}


class MacOSCollector:
    """Gathers the macOS checks' evidence; ``only`` is a set of check ids (None = all)."""

    os = OS.MacOS

    def __init__(self, workers: int = 8) -> None:
        self.workers = workers

    @staticmethod
    def available() -> Availability:
        if sys.platform != "darwin":
            return Availability(False, "macOS required")
        return Availability(True)

    def collect(self, only: set[str] | None = None) -> EvidenceBundle:
        collected = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        tasks: list[Task] = []
        for check_id, check_tasks in TASKS.items():
            if only is None or check_id in only:
                tasks += [t for t in check_tasks if t not in tasks]
        user = console_user() if sys.platform == "darwin" else None
        # system_profiler is the slowest read: it goes first (TASKS order puts it late).
        tasks.sort(key=lambda t: t is not t_secure_boot)
        items = gather_parallel(
            [(t.__name__, functools.partial(t, user)) for t in tasks], self.workers
        )
        return EvidenceBundle(os=OS.MacOS, collected=collected, items=items,
                              host=socket.gethostname())
