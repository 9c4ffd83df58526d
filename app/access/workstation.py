"""This workstation's privileged access, listed for an access-review campaign: who is in the
administrators' group and which SSH keys may log in as the current user.

Linux: /etc/group and /etc/passwd (local files only; sudo, wheel and admin). macOS:
``dscl . -read /Groups/admin GroupMembership``. Windows: ``Get-LocalGroupMember`` on the
Administrators group (found by its SID, so the name's language does not matter), and when that
fails (it does on orphaned Azure AD members) ``net localgroup Administrators``. Everywhere: the
current user's ~/.ssh/authorized_keys and authorized_keys2 (not an AuthorizedKeysFile set
elsewhere in sshd_config). Strongroom lists and suggests the revoking command; it never runs a
privileged command.

Commands go through a runner, ``(argv, timeout) -> CommandEvidence``: the shape of the
compliance collectors' ``run_command``, so a composition root can pass that one. The default
here runs the fixed argv with no shell and LC_ALL=C.
"""

from __future__ import annotations

import errno
import ntpath
import os
import stat
import subprocess  # nosec B404 - fixed argv lists, no shell
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..compliance.model import CommandEvidence
from ..compliance.parsing import load_json, output, powershell_error, shorten
from .workstation_parsers import (
    ADMIN_GROUPS,
    KEY_TYPES,
    AccessKind,
    AccessListingError,
    PrivilegedAccess,
    fingerprint,
    parse_authorized_keys,
    parse_dscl_group_membership,
    parse_etc_group,
    parse_localgroup_json,
    parse_net_localgroup,
)

__all__ = [
    "ADMIN_GROUPS", "KEY_TYPES", "MAX_FILE_BYTES", "TIMEOUT", "AccessKind", "AccessListingError",
    "PrivilegedAccess", "Runner", "collect", "fingerprint", "parse_authorized_keys",
    "parse_dscl_group_membership", "parse_etc_group", "parse_localgroup_json",
    "parse_net_localgroup", "read_bounded", "run_command",
]

Runner = Callable[[list[str], float], CommandEvidence]

MAX_FILE_BYTES = 1024 * 1024
TIMEOUT = 30.0
DSCL = ["/usr/bin/dscl", ".", "-read", "/Groups/admin", "GroupMembership"]
ADMINISTRATORS_SID = "S-1-5-32-544"
# Single quotes only: the script reaches PowerShell as one CreateProcess argument.
_MEMBERS_SCRIPT = (
    "$ErrorActionPreference = 'Stop'; "
    "try { [Console]::OutputEncoding = [Text.Encoding]::UTF8 } catch { }; "
    f"try {{ Get-LocalGroupMember -SID '{ADMINISTRATORS_SID}' | Select-Object Name, ObjectClass, "
    "@{ n = 'PrincipalSource'; e = { [string]$_.PrincipalSource } }, "
    "@{ n = 'SID'; e = { [string]$_.SID } } | ConvertTo-Json -Compress } "
    "catch { [pscustomobject]@{ error = $_.Exception.GetType().FullName; "
    "message = $_.Exception.Message } | ConvertTo-Json -Compress; exit 1 }"
)
_PLATFORMS = {"linux": "linux", "darwin": "macos", "macos": "macos", "win32": "windows",
              "windows": "windows"}
_ERROR_WORDS = {"missing": "not found", "timeout": "timed out", "permission": "permission denied"}


def run_command(argv: list[str], timeout: float = TIMEOUT) -> CommandEvidence:
    """Run a fixed argv (an absolute path first), no shell, LC_ALL=C; failures become evidence."""
    start = time.monotonic()
    if not os.path.isfile(argv[0]):
        return CommandEvidence(tuple(argv), None, error="missing")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    try:
        proc = subprocess.run(  # noqa: S603  # nosec B603
            argv, capture_output=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return CommandEvidence(tuple(argv), None, error="timeout",
                               duration=time.monotonic() - start)
    except OSError as e:
        word = "permission" if isinstance(e, PermissionError) else errno.errorcode.get(
            e.errno or 0, "oserror")
        return CommandEvidence(tuple(argv), None, error=word, duration=time.monotonic() - start)
    return CommandEvidence(
        tuple(argv), proc.returncode,
        proc.stdout[:MAX_FILE_BYTES].decode("utf-8", "replace"),
        proc.stderr[:MAX_FILE_BYTES].decode("utf-8", "replace"),
        None, time.monotonic() - start,
    )


def read_bounded(path: Path, limit: int = MAX_FILE_BYTES) -> str | None:
    """A regular file's text, or None if it does not exist; a bigger one is refused."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)  # non-blocking, so a FIFO put there cannot hang us
    except FileNotFoundError:
        return None
    except OSError as e:
        reason = "permission denied" if isinstance(e, PermissionError) else (
            e.strerror or type(e).__name__).lower()
        raise AccessListingError(f"{path} cannot be read: {reason}", str(path)) from e
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise AccessListingError(f"{path} is not a regular file, so it was not read", str(path))
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise AccessListingError(
            f"{path} is larger than {limit // 1024} KiB, so it was not read; review it by hand",
            str(path))
    return data.decode("utf-8", "replace")


def _why(evidence: CommandEvidence) -> str:
    """Why a command gave no usable answer, in a few words."""
    if evidence.error is not None:
        return _ERROR_WORDS.get(evidence.error, evidence.error)
    said = powershell_error(load_json(evidence.stdout)) or output(evidence)
    return f"exit code {evidence.exit_code}" + (f", {shorten(said, 120)}" if said else "")


def _linux() -> list[PrivilegedAccess]:
    texts = {}
    for name in ("/etc/group", "/etc/passwd"):
        text = read_bounded(Path(name))
        if text is None:
            raise AccessListingError(f"{name} does not exist", name)
        texts[name] = text
    return parse_etc_group(texts["/etc/group"], passwd_text=texts["/etc/passwd"])


def _macos(run: Runner) -> list[PrivilegedAccess]:
    answer = run(list(DSCL), TIMEOUT)
    text = output(answer)
    if answer.error is not None or (answer.exit_code != 0 and "No such key" not in text):
        raise AccessListingError(f"dscl cannot read /Groups/admin: {_why(answer)}", "dscl")
    return parse_dscl_group_membership(text)


def _system32(*parts: str) -> str:
    root = os.environ.get("SYSTEMROOT") or r"C:\Windows"
    folder = "Sysnative" if os.environ.get("PROCESSOR_ARCHITEW6432") else "System32"
    return ntpath.join(root, folder, *parts)


def _windows(run: Runner) -> list[PrivilegedAccess]:
    powershell = [_system32("WindowsPowerShell", "v1.0", "powershell.exe"), "-NoProfile",
                  "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", _MEMBERS_SCRIPT]
    answer = run(powershell, TIMEOUT)
    if answer.ok:
        try:
            return parse_localgroup_json(answer.stdout, computer=os.environ.get("COMPUTERNAME"))
        except AccessListingError as e:
            first = str(e)
    else:
        first = f"Get-LocalGroupMember: {_why(answer)}"
    fallback = run([_system32("net.exe"), "localgroup", "Administrators"], TIMEOUT)
    if not fallback.ok:
        raise AccessListingError(
            f"the Administrators group cannot be read ({first}; net localgroup: "
            f"{_why(fallback)})", "net localgroup Administrators")
    return parse_net_localgroup(fallback.stdout)


def collect(platform: str | None = None, runner: Runner | None = None,
            home: str | os.PathLike[str] | None = None) -> list[PrivilegedAccess]:
    """This workstation's privileged access: admin-group members, then the current user's
    authorized SSH keys. ``platform`` is "linux", "macos" or "windows" (or a ``sys.platform``
    value; None means this machine's), ``home`` the user's home (None: this user's)."""
    wanted = platform or sys.platform
    os_name = _PLATFORMS.get("linux" if wanted.startswith("linux") else wanted)
    if os_name is None:
        raise AccessListingError(
            f"listing privileged access is not supported on {shorten(wanted, 40)}", wanted)
    run = runner or run_command
    found = (_linux() if os_name == "linux" else _macos(run) if os_name == "macos"
             else _windows(run))
    ssh = Path(home) if home is not None else Path.home()
    for name in ("authorized_keys", "authorized_keys2"):
        path = ssh / ".ssh" / name
        text = read_bounded(path)
        if text is not None:
            found += parse_authorized_keys(text, str(path), os_name)
    return found
