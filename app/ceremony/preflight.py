"""Before a ceremony: is this machine offline, do its endpoint checks pass, is the clock plausible,
is the expected token present, can the output folder be written? Each check reports what it found,
so a failure says exactly why; the ceremony stops on one unless the witness records an exception.

Offline means no network interface but loopback is up and there is no default route (IPv4 or
IPv6), asked of the kernel for this process's network namespace (Linux; elsewhere the check is
unknown and needs the witness's exception).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import secrets
import socket
import struct
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .script import Preflight

EARLIEST = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # no clock this Strongroom runs on is older
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
IFF_UP = 0x1
SIOCGIFFLAGS = 0x8913
MAX_INTERFACES = 256


@dataclass(frozen=True)
class Finding:
    check: str  # offline | endpoint | clock | token | output
    ok: bool | None  # None: could not be told here
    detail: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail,
                "evidence": dict(self.evidence)}


def offline(proc_root: Path = Path("/proc"),
            interfaces: Callable[[], list[tuple[str, int]]] | None = None) -> Finding:
    """No interface but loopback up and no default route, in this process's network namespace
    (the kernel's interface list and flags, and /proc/net's routes, which follow the namespace;
    /sys/class/net may not)."""
    try:
        found = (interfaces or _interfaces)()
    except OSError as e:
        return Finding("offline", None, f"the network interfaces cannot be read here ({e})")
    names = sorted(n for n, _ in found)[:MAX_INTERFACES]
    up = sorted(n for n, flags in found if n != "lo" and flags & IFF_UP)
    routes = _default_routes(proc_root)
    if up or routes:
        parts = ([f"interfaces up: {', '.join(up)}"] if up else []) + (
            [f"default routes via: {', '.join(routes)}"] if routes else [])
        return Finding("offline", False, "the machine is not offline: " + "; ".join(parts),
                       {"interfaces_up": up, "default_routes": routes, "interfaces": names})
    return Finding("offline", True, "no interface but loopback is up, no default route",
                   {"interfaces": names})


def _interfaces() -> list[tuple[str, int]]:
    """Each interface of this network namespace with its flags (SIOCGIFFLAGS; Linux)."""
    if not sys.platform.startswith("linux"):
        raise OSError("interface flags are read on Linux only")
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _index, name in socket.if_nameindex()[:MAX_INTERFACES]:
            request = struct.pack("16sH14x", name.encode()[:15], 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS,
                                                         request))[1]
            out.append((name, flags))
    return out


def _default_routes(proc_root: Path) -> list[str]:
    found: list[str] = []
    with contextlib.suppress(OSError):
        for line in (proc_root / "net" / "route").read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) > 7 and parts[1] == "00000000" and parts[7] == "00000000":
                found.append(f"{parts[0]} (IPv4)")
    with contextlib.suppress(OSError):
        for line in (proc_root / "net" / "ipv6_route").read_text().splitlines():
            parts = line.split()
            if len(parts) == 10 and parts[0] == "0" * 32 and parts[1] == "00" \
                    and parts[9] != "lo":
                found.append(f"{parts[9]} (IPv6)")
    return sorted(set(found))


def endpoint(results: Mapping[str, str], wanted: Sequence[str]) -> Finding:
    """The endpoint checks the script asks for, from a check run's statuses."""
    bad = {c: results.get(c, "MISSING") for c in wanted
           if results.get(c) not in ("PASS", "EXCEPTED")}
    if bad:
        listed = ", ".join(f"{c} {s}" for c, s in sorted(bad.items()))
        return Finding("endpoint", False, f"endpoint checks do not pass: {listed}",
                       {"results": dict(results)})
    return Finding("endpoint", True, f"passed: {', '.join(wanted) or 'none asked'}",
                   {"results": dict(results)})


def clock(now: dt.datetime) -> Finding:
    if not EARLIEST <= now < LATEST:
        return Finding("clock", False, f"the clock says {now.isoformat()}, which cannot be "
                                       "right; set it before the ceremony")
    return Finding("clock", True, f"the clock says {now.isoformat()} (the witness confirms it)",
                   {"now": now.isoformat()})


def token(spec: Preflight, tokens: Callable[[], Sequence[Any]] | None) -> Finding:
    """The token the script names is present (by serial or label), listed without a PIN."""
    if spec.token_serial is None and spec.token_label is None:
        return Finding("token", True, "the script names no token")
    wanted = spec.token_serial or spec.token_label
    if tokens is None:
        return Finding("token", False, f"no {spec.token_store} token can be listed here")
    try:
        present = list(tokens())
    except Exception as e:  # noqa: BLE001 - reported as the finding
        return Finding("token", False, f"the tokens cannot be listed ({e})")
    names = [f"{t.label} ({t.serial})" for t in present]
    if any(wanted in (t.serial, t.label) for t in present):
        return Finding("token", True, f"token {wanted} is present", {"present": names})
    return Finding("token", False, f"token {wanted} is not present (present: "
                                   f"{', '.join(names) or 'none'})", {"present": names})


def output(folder: Path) -> Finding:
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o755)
        probe = folder / f".write-test-{secrets.token_hex(4)}"
        with open(probe, "xb") as f:
            f.write(b"x")
            os.fsync(f.fileno())
        probe.unlink()
    except OSError as e:
        return Finding("output", False, f"cannot write to {folder}: {e.strerror or e}")
    return Finding("output", True, f"{folder} is writable")


def run_all(spec: Preflight, *, folder: Path, now: dt.datetime, check_results: Mapping[str, str],
            tokens: Callable[[], Sequence[Any]] | None, proc_root: Path = Path("/proc"),
            interfaces: Callable[[], list[tuple[str, int]]] | None = None) -> list[Finding]:
    found = [offline(proc_root, interfaces)] if spec.offline else []
    found += [endpoint(check_results, spec.checks), clock(now), token(spec, tokens),
              output(folder)]
    return found
