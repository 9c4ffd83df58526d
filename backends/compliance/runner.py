"""How collectors gather evidence: commands with LC_ALL=C and a timeout, files, registry values.

Commands are fixed argv lists, never run through a shell. Nothing here raises for a missing
tool, a denied permission or a timeout: each becomes evidence with ``error`` set, which the checks
judge as UNKNOWN.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess  # nosec B404
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from strongroom.app.compliance.model import (
    CommandEvidence,
    Evidence,
    FileEvidence,
    RegistryEvidence,
)

log = logging.getLogger("strongroom.compliance")

DEFAULT_TIMEOUT = 10.0
MAX_OUTPUT = 256 * 1024


# Commands named bare are looked up here, not on the user's PATH, where any program the user (or
# malware running as the user) puts first would answer for a check. macOS and Windows checks name
# their tools by full path anyway.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _system_path() -> str | None:
    return SYSTEM_PATH if os.name == "posix" else None


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    if _system_path() is not None:
        env["PATH"] = SYSTEM_PATH
    return env


def run_command(argv: list[str], timeout: float = DEFAULT_TIMEOUT) -> CommandEvidence:
    """Run ``argv`` (no shell) and keep exit code, stdout and stderr apart."""
    start = time.monotonic()
    exe = shutil.which(argv[0], path=_system_path())
    if exe is None:
        return CommandEvidence(tuple(argv), None, error="missing")
    try:
        proc = subprocess.run(  # noqa: S603  # nosec B603
            [exe, *argv[1:]], capture_output=True, timeout=timeout, env=_env(),
            stdin=subprocess.DEVNULL, check=False,
        )
    except subprocess.TimeoutExpired:
        return CommandEvidence(tuple(argv), None, error="timeout",
                               duration=time.monotonic() - start)
    except PermissionError:
        return CommandEvidence(tuple(argv), None, error="permission",
                               duration=time.monotonic() - start)
    except OSError as e:
        word = errno.errorcode.get(e.errno or 0, "oserror")
        return CommandEvidence(tuple(argv), None, error=word, duration=time.monotonic() - start)
    return CommandEvidence(
        tuple(argv), proc.returncode,
        proc.stdout[:MAX_OUTPUT].decode("utf-8", "replace"),
        proc.stderr[:MAX_OUTPUT].decode("utf-8", "replace"),
        None, time.monotonic() - start,
    )


def read_file(path: str, max_bytes: int = MAX_OUTPUT, binary_hex: bool = False) -> FileEvidence:
    """A file's contents as text (or hex for binary files such as efivars)."""
    try:
        data = Path(path).read_bytes()[:max_bytes]
    except FileNotFoundError:
        return FileEvidence(path, None, "missing")
    except PermissionError:
        return FileEvidence(path, None, "permission")
    except IsADirectoryError:
        return FileEvidence(path, None, "directory")
    except OSError as e:
        return FileEvidence(path, None, errno.errorcode.get(e.errno or 0, "oserror"))
    return FileEvidence(path, data.hex() if binary_hex else data.decode("utf-8", "replace"))


def read_registry(key: str, name: str) -> RegistryEvidence:
    """A registry value with its type (Windows only; elsewhere the evidence says so)."""
    if sys.platform != "win32":
        return RegistryEvidence(key, name, None, None, "not-windows")
    import winreg

    hive_name, _, sub = key.partition("\\")
    hives = {"HKLM": winreg.HKEY_LOCAL_MACHINE, "HKEY_LOCAL_MACHINE": winreg.HKEY_LOCAL_MACHINE,
             "HKCU": winreg.HKEY_CURRENT_USER, "HKEY_CURRENT_USER": winreg.HKEY_CURRENT_USER}
    hive = hives.get(hive_name)
    if hive is None:
        return RegistryEvidence(key, name, None, None, "bad-hive")
    types = {winreg.REG_SZ: "REG_SZ", winreg.REG_DWORD: "REG_DWORD",
             winreg.REG_EXPAND_SZ: "REG_EXPAND_SZ", winreg.REG_QWORD: "REG_QWORD",
             winreg.REG_MULTI_SZ: "REG_MULTI_SZ", winreg.REG_BINARY: "REG_BINARY"}
    try:
        with winreg.OpenKey(hive, sub) as handle:
            value, kind = winreg.QueryValueEx(handle, name)
    except FileNotFoundError:
        return RegistryEvidence(key, name, None, None, "missing")
    except PermissionError:
        return RegistryEvidence(key, name, None, None, "permission")
    except OSError:
        return RegistryEvidence(key, name, None, None, "oserror")
    if isinstance(value, bytes):
        value = value.hex()
    elif isinstance(value, list):
        value = "\n".join(str(v) for v in value)
    return RegistryEvidence(key, name, types.get(kind, str(kind)), value)


def gather_parallel(
    tasks: Sequence[tuple[str, Callable[[], Mapping[str, Evidence]]]], workers: int = 8
) -> dict[str, Evidence]:
    """Run named evidence tasks on a small pool, in order of submission, and merge their items.

    One task that raises is logged by name (never with what it read) and the rest still count.
    """
    items: dict[str, Evidence] = {}
    if not tasks:
        return items
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(tasks)))) as pool:
        futures = [(name, pool.submit(task)) for name, task in tasks]
        for name, future in futures:
            try:
                items.update(future.result())
            except Exception as e:  # noqa: BLE001 - one broken task must not stop the rest
                log.warning("collecting %s failed: %s", name, type(e).__name__)
    return items
