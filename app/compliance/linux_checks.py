"""Linux checks: pure judgements over the evidence ``LinuxCollector`` gathers (ids below).

Each check documents its method beside its parser: which commands and files, what their
formats are according to the tools' own sources or manuals, and how the status follows. The
general rule: a missing tool, a denied permission, a timeout or output we do not recognise is
UNKNOWN with the reason, never FAIL. Nothing here touches the machine.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from . import first_seen
from .model import (
    CheckResult,
    CommandEvidence,
    Confidence,
    Evidence,
    EvidenceBundle,
    FileEvidence,
    Policy,
    Status,
)
from .registry import TITLES

# ----- evidence ids (shared with strongroom.backends.compliance.linux) -----------------------

OS_RELEASE = "linux.os-release"
CONTAINER_FILES = {
    "linux.container.dockerenv": "/.dockerenv",
    "linux.container.containerenv": "/run/.containerenv",
    "linux.container.systemd": "/run/systemd/container",
}
FINDMNT_ROOT = "linux.findmnt-root"
LSBLK = "linux.lsblk"
ROOT_UEVENT = "linux.sysfs.root-uevent"
APT_HISTORY = "linux.apt-history"  # rotated logs: linux.apt-history.1, .2, … (newest first)
APT_SECURITY_SOURCES = "linux.apt-security-sources"
APT_UPGRADABLE = "linux.apt-upgradable"
RPM_INSTALLTIME = "linux.rpm-installtime"
DNF_SECURITY = "linux.dnf-security"
DATE_OFFSET = "linux.date-offset"
FIRST_SEEN = first_seen.EVIDENCE_ID
LOGIN_SESSION = "linux.loginctl-session"
UID = "linux.uid"
GS_IDLE = "linux.gsettings-idle-delay"
GS_SCREENSAVER = "linux.gsettings-screensaver"
GS_LOCKDOWN = "linux.gsettings-lockdown"
DCONF_USER = "linux.dconf-user"
KSCREENLOCKERRC = "linux.kscreenlockerrc"
SYSTEMD_UNITS = "linux.systemctl-units"
UFW_CONF = "linux.ufw-conf"
NFTABLES_CONF = "linux.nftables-conf"
GETENT_GUEST = "linux.getent-guest"
LIGHTDM_PREFIX = "linux.lightdm:"  # + the config file's path
LIGHTDM_GUEST_SCRIPT = "linux.lightdm-guest-account-script"
EFI_DIR = "linux.efi-dir"
EFIVARS_DIR = "linux.efivars-dir"
EFI_SECUREBOOT = "linux.efivar-secureboot"
APT_PERIODIC = "linux.apt-config-periodic"
DPKG_UNATTENDED = "linux.dpkg-unattended-upgrades"
DNF_AUTOMATIC_CONF = "linux.dnf-automatic-conf"
DNF5_AUTOMATIC_CONF = "linux.dnf5-automatic-conf"
TPM_CLASS = "linux.tpm-class"
TPM_VERSION = "linux.tpm0-version-major"

SECUREBOOT_VAR = "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
FIREWALL_UNITS = ("ufw.service", "firewalld.service", "nftables.service",
                  "netfilter-persistent.service")
UPDATE_UNITS = ("apt-daily.timer", "apt-daily-upgrade.timer", "dnf-automatic.timer",
                "dnf-automatic-install.timer", "dnf5-automatic.timer")
SYSTEMD_PROPERTIES = ("Id", "LoadState", "ActiveState", "UnitFileState")
LIGHTDM_DIRS = ("/usr/share/lightdm/lightdm.conf.d", "/etc/lightdm/lightdm.conf.d")
LIGHTDM_MAIN = "/etc/lightdm/lightdm.conf"

# Which evidence each check reads (prefixes end in "." or ":"); the collector gathers these.
EVIDENCE: dict[str, tuple[str, ...]] = {
    "disk-encryption": (FINDMNT_ROOT, LSBLK, ROOT_UEVENT, "linux.sysfs.", *CONTAINER_FILES),
    "patch-age": (OS_RELEASE, APT_HISTORY, APT_SECURITY_SOURCES, APT_UPGRADABLE, RPM_INSTALLTIME,
                  DNF_SECURITY, DATE_OFFSET, FIRST_SEEN),
    "screen-lock": (LOGIN_SESSION, UID, GS_IDLE, GS_SCREENSAVER, GS_LOCKDOWN, DCONF_USER,
                    KSCREENLOCKERRC),
    "firewall": (SYSTEMD_UNITS, UFW_CONF, NFTABLES_CONF),
    "guest-account": (GETENT_GUEST, LIGHTDM_PREFIX, LIGHTDM_GUEST_SCRIPT),
    "secure-boot": (EFI_DIR, EFIVARS_DIR, EFI_SECUREBOOT, FINDMNT_ROOT, *CONTAINER_FILES),
    "auto-updates": (OS_RELEASE, APT_PERIODIC, DPKG_UNATTENDED, SYSTEMD_UNITS, DNF_AUTOMATIC_CONF,
                     DNF5_AUTOMATIC_CONF),
    "tpm": (TPM_CLASS, TPM_VERSION, FINDMNT_ROOT, *CONTAINER_FILES),
}

NO_BLOCK_FS = {"overlay", "tmpfs", "ramfs", "rootfs", "aufs", "9p", "virtiofs", "nfs", "nfs4",
               "cifs", "smb3", "fuse", "squashfs"}
MAX_EXCERPT = 900


# ----- helpers ---------------------------------------------------------------------------------


def problem(item: Evidence | None, what: str = "") -> str | None:
    """Why ``item`` cannot be used (one phrase), or None when it is usable."""
    if item is None:
        return f"{what or 'the evidence'} was not collected"
    if isinstance(item, CommandEvidence):
        name = item.argv[0] if item.argv else "the command"
        if item.error == "missing":
            return f"{name} is not installed"
        if item.error == "timeout":
            return f"{name} timed out"
        if item.error == "permission" or _denied(item.stderr):
            return f"{name}: permission denied"
        if item.error:
            return f"{name} could not run ({item.error})"
        return None
    if isinstance(item, FileEvidence):
        if item.error == "missing":
            return f"{item.path} does not exist"
        if item.error == "permission":
            return f"{item.path}: permission denied"
        if item.error:
            return f"{item.path} could not be read ({item.error})"
        return None
    return f"unexpected {item.kind} evidence"


def failure(item: CommandEvidence | None, what: str = "") -> str | None:
    """Like :func:`problem`, and a command that exited non-zero gives its first stderr line."""
    why = problem(item, what)
    if why or item is None or item.exit_code == 0:
        return why
    first = (item.stderr.strip().splitlines() or [f"exit {item.exit_code}"])[0]
    name = item.argv[0] if item.argv else "the command"
    return f"{name}: {first[:100]}"


def _denied(text: str) -> bool:
    low = text.lower()
    return "permission denied" in low or "operation not permitted" in low or \
        "access denied" in low


def _cmd(bundle: EvidenceBundle, key: str) -> CommandEvidence | None:
    item = bundle.get(key)
    return item if isinstance(item, CommandEvidence) else None


def _file(bundle: EvidenceBundle, key: str) -> FileEvidence | None:
    item = bundle.get(key)
    return item if isinstance(item, FileEvidence) else None


def _text(item: FileEvidence | None) -> str | None:
    return None if item is None or item.error or item.content is None else item.content


def excerpt(item: Evidence | None, lines: Iterable[str] | None = None) -> str:
    """A short quote of the evidence that decided: the command or path, then the lines."""
    if item is None:
        return ""
    if isinstance(item, CommandEvidence):
        head = "$ " + " ".join(item.argv)
        if item.error:
            head += f"  [{item.error}]"
        elif item.exit_code:
            head += f"  [exit {item.exit_code}]"
        body = list(lines) if lines is not None else (
            item.stdout.splitlines()[:6] or item.stderr.splitlines()[:3])
    elif isinstance(item, FileEvidence):
        head = item.path + (f"  [{item.error}]" if item.error else "")
        body = list(lines) if lines is not None else (item.content or "").splitlines()[:6]
    else:
        head, body = f"{item.key}\\{item.name}", [str(item.value)]
    text = "\n".join([head, *("  " + ln.rstrip() for ln in body)])
    return text if len(text) <= MAX_EXCERPT else text[: MAX_EXCERPT - 1] + "…"


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _os_release(bundle: EvidenceBundle) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (_text(_file(bundle, OS_RELEASE)) or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip("\"'")
    return out


def family(bundle: EvidenceBundle) -> str:
    """"debian", "rhel" or "" from /etc/os-release's ID and ID_LIKE (os-release(5))."""
    info = _os_release(bundle)
    ids = {info.get("ID", "").lower(), *info.get("ID_LIKE", "").lower().split()}
    if ids & {"debian", "ubuntu"}:
        return "debian"
    if ids & {"rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn"}:
        return "rhel"
    return ""


def container(bundle: EvidenceBundle) -> str | None:
    """Why this looks like a container (Docker/Podman marker files, systemd's marker, an overlay
    root filesystem), or None."""
    for key, path in CONTAINER_FILES.items():
        item = _file(bundle, key)
        if item is not None and item.error is None:
            value = (item.content or "").strip()
            return f"{path} exists" + (f" ({value})" if value and len(value) < 40 else "")
    root = _findmnt_root(bundle)
    if root is not None and root["fstype"] in ("overlay", "aufs"):
        return f"the root filesystem is {root['fstype']}"
    return None


@dataclass
class _Result:
    """Builder for one CheckResult so each branch states only what differs."""

    check_id: str
    method: str
    remediation: str
    evidence: list[str] = field(default_factory=list)

    def make(self, status: Status, observed: str, reason: str,
             confidence: Confidence = Confidence.High, remediation: str | None = None,
             excerpts: Sequence[str] = ()) -> CheckResult:
        needs_fix = status in (Status.Fail, Status.Unknown)
        fix = self.remediation if remediation is None else remediation
        return CheckResult(
            check_id=self.check_id, title=TITLES[self.check_id], status=status,
            observed=observed, reason=reason, evidence_excerpt=_join(*excerpts),
            remediation=fix if needs_fix else "", confidence=confidence, method=self.method,
        )


def _max_duration(bundle: EvidenceBundle, check_id: str) -> float:
    keys = EVIDENCE[check_id]
    longest = 0.0
    for key, item in bundle.items.items():
        if isinstance(item, CommandEvidence) and any(
            key == k or (k.endswith((".", ":")) and key.startswith(k)) or key.startswith(k + ".")
            for k in keys
        ):
            longest = max(longest, item.duration)
    return longest


class LinuxCheck:
    """A Check (see model.Check): id, title, the evidence it reads, and the judgement."""

    def __init__(self, check_id: str,
                 fn: Callable[[EvidenceBundle, Policy, dt.datetime], CheckResult]) -> None:
        self.id = check_id
        self.title = TITLES[check_id]
        self.evidence = EVIDENCE[check_id]
        self.fn = fn

    def __call__(self, bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
        result = self.fn(bundle, policy, now)
        # The evidence was gathered in parallel: this check waited for its slowest command.
        return _with_duration(result, _max_duration(bundle, self.id))


def _with_duration(result: CheckResult, seconds: float) -> CheckResult:
    return replace(result, duration=result.duration + seconds)


def _days(delta: dt.timedelta) -> str:
    days = delta.total_seconds() / 86400
    if days < 1:
        hours = max(0, int(delta.total_seconds() // 3600))
        return f"{hours} h"
    return f"{int(days)} day" + ("" if int(days) == 1 else "s")


# ===== disk-encryption =========================================================================
# Method: the root filesystem's source from `findmnt -J -o SOURCE,TARGET,FSTYPE,MAJ:MIN /`
# (util-linux; JSON key "filesystems"). A source that is not a /dev block device (overlay, tmpfs,
# 9p, NFS …) means a container or a network root: UNKNOWN. Then two independent readings of the
# block-device chain under "/":
#  1. `lsblk -J -o NAME,KNAME,TYPE,FSTYPE,MAJ:MIN,MOUNTPOINTS` (util-linux ≥ 2.37 prints the list
#     key "mountpoints", older versions only "mountpoint": both are read). lsblk prints holders as
#     "children", so the path from a top-level disk down to the node mounted at "/" is the chain;
#     TYPE "crypt" (a dm-crypt mapping) or FSTYPE "crypto_LUKS" on any node means encrypted.
#  2. sysfs: /sys/dev/block/MAJ:MIN/uevent names the root device (DEVNAME); each device's
#     /sys/class/block/NAME/slaves/ lists what it is built on, and a device-mapper device's
#     dm/uuid starts with "CRYPT-" when cryptsetup created it (libcryptsetup names its mappings
#     CRYPT-<TYPE>-<uuid>-<name>, e.g. CRYPT-LUKS2-…, CRYPT-PLAIN-…; LVM uses LVM-…).
# Either reading finding dm-crypt → PASS; a complete chain without it → FAIL. Self-encrypting
# drives (OPAL) without a dm-crypt layer are not detected and say so in the remediation.


def _findmnt_root(bundle: EvidenceBundle) -> dict[str, str] | None:
    item = _cmd(bundle, FINDMNT_ROOT)
    if item is None or not item.ok:
        return None
    try:
        data = json.loads(item.stdout)
        fs = data["filesystems"][0]
    except (json.JSONDecodeError, KeyError, IndexError, TypeError):
        return None
    source = str(fs.get("source") or "")
    return {
        "source": re.sub(r"\[.*\]$", "", source),  # btrfs: /dev/mapper/x[/@root]
        "fstype": str(fs.get("fstype") or ""),
        "majmin": str(fs.get("maj:min") or ""),
    }


def _mountpoints(node: dict[str, Any]) -> list[str]:
    points = node.get("mountpoints")
    if isinstance(points, list):
        return [p for p in points if isinstance(p, str)]
    point = node.get("mountpoint")
    return [point] if isinstance(point, str) else []


def _lsblk_paths(stdout: str, root: dict[str, str] | None) -> list[list[dict[str, Any]]] | None:
    """Every path top-level disk → … → the device mounted at "/"; None if unparseable."""
    try:
        devices = json.loads(stdout)["blockdevices"]
    except (json.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(devices, list):
        return None
    found: list[list[dict[str, Any]]] = []
    by_name: list[list[dict[str, Any]]] = []
    source_name = root["source"].rsplit("/", 1)[-1] if root else ""

    def walk(node: Any, trail: list[dict[str, Any]]) -> None:
        if not isinstance(node, dict):
            return
        path = [*trail, node]
        if "/" in _mountpoints(node):
            found.append(path)
        elif source_name and source_name in (node.get("name"), node.get("kname")):
            by_name.append(path)
        for child in node.get("children") or []:
            walk(child, path)

    for dev in devices:
        walk(dev, [])
    return found or by_name


def _is_crypt(node: dict[str, Any]) -> bool:
    return str(node.get("type") or "").startswith("crypt") or node.get("fstype") == "crypto_LUKS"


def _sysfs_chain(bundle: EvidenceBundle) -> tuple[bool | None, list[str], list[str], str]:
    """(encrypted?, chain names, excerpt lines, problem) from the sysfs evidence."""
    uevent = _file(bundle, ROOT_UEVENT)
    text = _text(uevent)
    if text is None:
        return None, [], [], problem(uevent, "the root device's uevent") or "no uevent"
    match = re.search(r"^DEVNAME=(\S+)$", text, re.M)
    if not match:
        return None, [], [], f"{uevent.path if uevent else 'uevent'} has no DEVNAME"
    queue, seen, lines = [match.group(1)], [], [f"{uevent.path if uevent else ''}: "
                                                 f"DEVNAME={match.group(1)}"]
    encrypted = False
    while queue:
        name = queue.pop(0)
        if name in seen:
            continue
        seen.append(name)
        uuid_item = _file(bundle, f"linux.sysfs.{name}.dm-uuid")
        uuid = (_text(uuid_item) or "").strip()
        if uuid:
            lines.append(f"{name}/dm/uuid: {uuid}")
            if uuid.startswith("CRYPT-"):
                encrypted = True
        elif uuid_item is not None and uuid_item.error not in (None, "missing"):
            return None, seen, lines, problem(uuid_item) or ""
        slaves_item = _file(bundle, f"linux.sysfs.{name}.slaves")
        if slaves_item is None:
            return None, seen, lines, f"the sysfs chain below {name} was not collected"
        if slaves_item.error not in (None, "missing"):
            return None, seen, lines, problem(slaves_item) or ""
        slaves = (slaves_item.content or "").split()
        if slaves:
            lines.append(f"{name}/slaves: {' '.join(slaves)}")
        queue.extend(slaves)
    return encrypted, seen, lines, ""


def check_disk_encryption(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    r = _Result(
        "disk-encryption",
        "findmnt -J / for the root source; lsblk -J device tree (TYPE crypt / FSTYPE crypto_LUKS "
        "on the chain to /); /sys/class/block/*/slaves and dm/uuid (CRYPT- prefix)",
        "Encrypt the system volume with LUKS (reinstall with \"Encrypt the disk\", or convert "
        "in place with cryptsetup reencrypt --encrypt after a backup). Self-encrypting drives "
        "(OPAL) without dm-crypt are not detected.",
    )
    fm_item, lb_item = _cmd(bundle, FINDMNT_ROOT), _cmd(bundle, LSBLK)
    root = _findmnt_root(bundle)
    if root is not None:
        base = root["fstype"].split(".")[0]
        if base in NO_BLOCK_FS or not root["source"].startswith("/dev/"):
            if root["fstype"] == "zfs":
                return r.make(Status.Unknown, "root on ZFS",
                              "ZFS native encryption is not read by this check yet",
                              Confidence.Medium, excerpts=[excerpt(fm_item)])
            return r.make(
                Status.Unknown, f"root is {root['fstype'] or '?'} from {root['source'] or '?'}",
                "the root filesystem is not on a block device (a container or a network root): "
                "judge the host instead", Confidence.High,
                "Run the check on the host machine, not inside a container.",
                excerpts=[excerpt(fm_item)],
            )
    lsblk_verdict: bool | None = None
    lsblk_chain: list[str] = []
    lsblk_lines: list[str] = []
    lsblk_problem = problem(lb_item, "lsblk")
    if lb_item is not None and lsblk_problem is None:
        paths = _lsblk_paths(lb_item.stdout, root)
        if paths is None:
            lsblk_problem = "lsblk output not recognised"
        elif paths:
            lsblk_verdict = all(any(_is_crypt(n) for n in p) for p in paths)
            best = paths[0]
            lsblk_chain = [str(n.get("name")) for n in best]
            lsblk_lines = [
                f"{n.get('name')}  type={n.get('type')}  fstype={n.get('fstype')}  "
                f"mountpoints={','.join(_mountpoints(n)) or '-'}" for n in best
            ]
        else:
            lsblk_problem = "lsblk shows no device mounted at /"
    sys_verdict, sys_chain, sys_lines, sys_problem = _sysfs_chain(bundle)
    chain = " › ".join(lsblk_chain or list(reversed(sys_chain)))
    excerpts = [excerpt(fm_item) if fm_item else "",
                excerpt(lb_item, lsblk_lines) if lsblk_lines else excerpt(lb_item),
                "sysfs:\n" + "\n".join("  " + ln for ln in sys_lines) if sys_lines else ""]
    kind = "LUKS"
    if any("CRYPT-PLAIN" in ln for ln in sys_lines):
        kind = "plain dm-crypt"
    elif any("CRYPT-LUKS2" in ln for ln in sys_lines):
        kind = "LUKS2"
    elif any("CRYPT-LUKS1" in ln for ln in sys_lines):
        kind = "LUKS1"
    if lsblk_verdict or sys_verdict:
        return r.make(Status.Pass, f"{kind} under / ({chain})",
                      "the root filesystem sits on a dm-crypt mapping", Confidence.High,
                      excerpts=excerpts)
    if lsblk_verdict is False or sys_verdict is False:
        both = lsblk_verdict is False and sys_verdict is False
        return r.make(Status.Fail, f"no encryption under / ({chain})",
                      "no dm-crypt layer between the root filesystem and the disk",
                      Confidence.High if both or lsblk_verdict is False else Confidence.Medium,
                      excerpts=excerpts)
    why = "; ".join(p for p in (problem(fm_item, "findmnt") if root is None else "",
                                lsblk_problem or "", sys_problem) if p)
    return r.make(Status.Unknown, "block-device chain not readable",
                  f"cannot follow the root filesystem to its disk: {why}", Confidence.Low,
                  excerpts=excerpts)


# ===== patch-age ===============================================================================
# Method, Debian/Ubuntu: apt writes one block per run to /var/log/apt/history.log (rotated
# monthly to history.log.N.gz): "Start-Date: YYYY-MM-DD  HH:MM:SS" (strftime "%F  %T", local
# time, two spaces), Commandline/Requested-By/Install/Upgrade/Remove… lines, an "Error:" line
# when dpkg failed, and "End-Date:" (apt-pkg/deb/dpkgpm.cc, OpenLog/CloseLog). The newest block
# with an End-Date, no Error and an Upgrade line is the last successful upgrade (the machine's
# UTC offset from `date +%z` places it in time). Pending security updates: `apt list
# --upgradable` run against a sources list holding only the "-security" suites of the machine's
# own sources (so no network and no root: apt reads its local lists). RHEL/Fedora: the newest
# `rpm -qa --qf '%{INSTALLTIME} …'` and `dnf -C updateinfo list --security` (dnf4 "Sec."
# severity, dnf5 "security" type). Each pending update is remembered with the time it was first
# seen (first_seen.py); one pending longer than max_patch_age_days → FAIL.

_APT_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s+(\d{1,2}:\d{2}:\d{2})$")
_APT_LIST = re.compile(r"^(?P<name>[^/\s]+)/(?P<suites>\S+)\s+(?P<version>\S+)\s+(?P<arch>\S+)"
                       r"(?:\s+\[upgradable from: (?P<old>[^\]]+)\])?")
_DNF_ADVISORY = re.compile(r"^(?P<id>[A-Z][A-Za-z0-9]*-\d{4}[-:][\w:.-]+)\s+(?P<rest>.+)$")


@dataclass
class _AptRun:
    end: dt.datetime
    upgrade: bool
    lines: list[str]


def _tz(bundle: EvidenceBundle) -> tuple[dt.tzinfo, bool]:
    """The machine's UTC offset from `date +%z` (e.g. "+0100"); UTC when not known."""
    item = _cmd(bundle, DATE_OFFSET)
    if item is not None and item.ok:
        m = re.fullmatch(r"\s*([+-])(\d{2})(\d{2})\s*", item.stdout)
        if m:
            sign = 1 if m.group(1) == "+" else -1
            return dt.timezone(sign * dt.timedelta(hours=int(m.group(2)),
                                                   minutes=int(m.group(3)))), True
    return dt.UTC, False


def parse_apt_history(text: str, tz: dt.tzinfo) -> tuple[list[_AptRun], int, int]:
    """Successful runs, the number of failed runs and of blocks with unrecognised dates."""
    runs: list[_AptRun] = []
    failed = unrecognised = 0
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        lines = [ln for ln in block.splitlines() if ln.strip()]
        for line in lines:
            key, sep, value = line.partition(": ")
            if sep and key and " " not in key:
                fields[key] = value.strip()
        if "End-Date" not in fields:
            continue
        if "Error" in fields:
            failed += 1
            continue
        m = _APT_DATE.match(fields["End-Date"])
        if not m:
            unrecognised += 1
            continue
        try:
            end = dt.datetime.strptime(f"{m.group(1)} {m.group(2)}", "%Y-%m-%d %H:%M:%S")
        except ValueError:
            unrecognised += 1
            continue
        shown = [ln for ln in lines if ln.startswith(("Start-Date", "Commandline", "End-Date"))]
        runs.append(_AptRun(end.replace(tzinfo=tz), "Upgrade" in fields, shown))
    return runs, failed, unrecognised


def _apt_logs(bundle: EvidenceBundle) -> list[tuple[str, FileEvidence]]:
    def order(key: str) -> int:
        tail = key[len(APT_HISTORY):].lstrip(".")
        return int(tail) if tail.isdigit() else 0

    keys = sorted((k for k in bundle.items if k == APT_HISTORY or
                   (k.startswith(APT_HISTORY + ".") and k[len(APT_HISTORY) + 1:].isdigit())),
                  key=order)
    return [(k, item) for k in keys if isinstance(item := bundle.items[k], FileEvidence)]


def _last_apt_upgrade(bundle: EvidenceBundle) -> tuple[_AptRun | None, list[str], str]:
    """(newest successful run that upgraded — or any, if none upgraded; notes; excerpt)."""
    tz, _ = _tz(bundle)
    runs: list[_AptRun] = []
    notes: list[str] = []
    failed = unrecognised = 0
    logs = _apt_logs(bundle)
    for _key, item in logs:
        if item.error == "missing":
            continue
        if item.error:
            notes.append(problem(item) or "")
            continue
        found, f, u = parse_apt_history(item.content or "", tz)
        runs += found
        failed += f
        unrecognised += u
    if failed:
        notes.append(f"{failed} failed apt run(s) skipped")
    if unrecognised:
        notes.append(f"{unrecognised} apt run(s) with an unrecognised date")
    if not runs:
        return None, notes, excerpt(logs[0][1]) if logs else ""
    upgrades = [r for r in runs if r.upgrade]
    best = max(upgrades or runs, key=lambda r: r.end)
    if not upgrades:
        notes.append("no run upgraded packages; the newest install is used")
    source = next((it for _k, it in logs if it.content and best.lines[-1] in it.content), None)
    return best, notes, excerpt(source, best.lines) if source else "\n".join(best.lines)


def _apt_pending(bundle: EvidenceBundle) -> tuple[list[str] | None, str, str]:
    """(pending security updates as "name version", problem, excerpt)."""
    sources = _file(bundle, APT_SECURITY_SOURCES)
    item = _cmd(bundle, APT_UPGRADABLE)
    if sources is not None and sources.error is None and not (sources.content or "").strip():
        return None, "no -security suite in the apt sources", excerpt(sources)
    why = problem(item, "apt list --upgradable")
    if item is None or why:
        return None, why or "", excerpt(item)
    if item.exit_code != 0:
        return None, f"apt list exited with {item.exit_code}", excerpt(item)
    pending: list[str] = []
    shown: list[str] = []
    for line in item.stdout.splitlines():
        if not line.strip() or line.startswith(("Listing", "WARNING", "N: ", "W: ")):
            continue
        m = _APT_LIST.match(line)
        if not m:
            return None, f"unrecognised apt list line {line[:60]!r}", excerpt(item)
        if any(s.endswith("-security") or "-security" in s for s in m.group("suites").split(",")):
            pending.append(f"{m.group('name')} {m.group('version')}")
            shown.append(line)
    return pending, "", excerpt(item, shown[:8] + ([f"… {len(shown) - 8} more"]
                                                   if len(shown) > 8 else []))


def _rpm_last_install(bundle: EvidenceBundle) -> tuple[dt.datetime | None, str, str]:
    item = _cmd(bundle, RPM_INSTALLTIME)
    why = problem(item, "rpm")
    if item is None or why or item.exit_code != 0:
        return None, why or "rpm -qa failed", excerpt(item)
    newest = 0
    newest_line = ""
    for line in item.stdout.splitlines():
        stamp, _, _name = line.strip().partition(" ")
        if stamp.isdigit() and int(stamp) > newest:
            newest, newest_line = int(stamp), line
    if not newest:
        return None, "rpm output not recognised", excerpt(item)
    return dt.datetime.fromtimestamp(newest, dt.UTC), "", excerpt(item, [newest_line])


def _dnf_pending(bundle: EvidenceBundle) -> tuple[list[str] | None, str, str]:
    item = _cmd(bundle, DNF_SECURITY)
    why = problem(item, "dnf")
    if item is None or why:
        return None, why or "", excerpt(item)
    if item.exit_code != 0:
        msg = (item.stderr.strip().splitlines() or [f"exit {item.exit_code}"])[-1]
        return None, f"dnf updateinfo failed: {msg[:100]}", excerpt(item)
    pending: list[str] = []
    shown: list[str] = []
    for line in item.stdout.splitlines():
        m = _DNF_ADVISORY.match(line.strip())
        if not m:
            continue
        parts = m.group("rest").split()
        if not any(p.endswith("/Sec.") or p.lower() == "security" for p in parts):
            continue
        package = next((p for p in parts if re.search(r"\.(x86_64|aarch64|noarch|i686|ppc64le|"
                                                      r"s390x)$", p)), parts[-1])
        pending.append(f"{m.group('id')} {package}")
        shown.append(line)
    return pending, "", excerpt(item, shown[:8])


def pending_security_updates(bundle: EvidenceBundle) -> list[str] | None:
    """The pending security updates this bundle shows, or None when it cannot tell."""
    fam = family(bundle)
    if fam == "rhel" or (not fam and _cmd(bundle, DNF_SECURITY) is not None
                         and _cmd(bundle, APT_UPGRADABLE) is None):
        return _dnf_pending(bundle)[0]
    return _apt_pending(bundle)[0]


def _first_seen(bundle: EvidenceBundle) -> dict[str, str]:
    return first_seen.parse(_text(_file(bundle, FIRST_SEEN)))


def _parse_iso(text: str) -> dt.datetime | None:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def check_patch_age(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    fam = family(bundle) or ("rhel" if _cmd(bundle, RPM_INSTALLTIME) and not
                             _file(bundle, APT_HISTORY) else "debian")
    limit = dt.timedelta(days=policy.max_patch_age_days)
    if fam == "rhel":
        r = _Result("patch-age", "rpm -qa --qf %{INSTALLTIME} (newest install); dnf -C "
                    "updateinfo list --security (pending advisories, first-seen memory)",
                    "Install the pending security updates: sudo dnf upgrade --security")
        last, last_problem, last_ex = _rpm_last_install(bundle)
        pending, pend_problem, pend_ex = _dnf_pending(bundle)
        notes: list[str] = [last_problem] if last_problem else []
    else:
        r = _Result("patch-age", "/var/log/apt/history.log(.N.gz): newest successful End-Date "
                    "of an upgrade; apt list --upgradable over the -security suites only "
                    "(pending updates, first-seen memory)",
                    "Install the pending security updates: sudo apt update && sudo apt upgrade "
                    "(or let unattended-upgrades do it)")
        run, notes, last_ex = _last_apt_upgrade(bundle)
        last = run.end if run else None
        pending, pend_problem, pend_ex = _apt_pending(bundle)
    age = now - last if last else None
    last_text = f"last upgrade {_days(age)} ago" if age is not None else "last upgrade unknown"
    excerpts = [last_ex, pend_ex]
    note = ("; " + "; ".join(n for n in notes if n)) if any(notes) else ""
    if pending:
        memory = _first_seen(bundle)
        since = _parse_iso(memory.get(first_seen.SINCE_KEY, ""))
        firsts = {k: _parse_iso(memory[k]) if k in memory else None for k in pending}
        known = {k: t for k, t in firsts.items() if t is not None}
        overdue = sorted(k for k, t in known.items() if now - t > limit)
        memory_ex = (f"first seen (Strongroom's memory since "
                     f"{since.date().isoformat() if since else 'now'}): "
                     + ", ".join(f"{k} {firsts[k] or 'now'}" for k in sorted(pending)[:3]))
        excerpts.append(memory_ex)
        if overdue:
            oldest = min(known[k] for k in overdue)
            return r.make(
                Status.Fail, f"{len(overdue)} security update(s) pending > "
                f"{policy.max_patch_age_days} d",
                f"pending since {oldest.date().isoformat()} ({_days(now - oldest)}) or longer, "
                f"over the {policy.max_patch_age_days}-day limit; e.g. {overdue[0]}{note}",
                excerpts=excerpts)
        # Seen at the memory's first run (or never): pending at least that long, maybe longer.
        unseen = [k for k, t in firsts.items() if t is None or (since is not None and t <= since)]
        if unseen and age is not None and age > limit:
            return r.make(
                Status.Fail, f"{len(pending)} security update(s) pending; {last_text}",
                f"security updates are pending and nothing was upgraded for {_days(age)} "
                f"(limit {policy.max_patch_age_days} d); how long they have been pending is "
                f"not known yet{note}", Confidence.Medium, excerpts=excerpts)
        oldest_first = min(known.values(), default=now)
        return r.make(
            Status.Pass, f"{len(pending)} security update(s) pending, first seen "
            f"{_days(now - oldest_first)} ago",
            f"within the {policy.max_patch_age_days}-day limit; {last_text}{note}",
            Confidence.High if not unseen else Confidence.Medium, excerpts=excerpts)
    if pending == []:
        stale = age is not None and age > dt.timedelta(days=30)
        return r.make(
            Status.Pass, f"no pending security updates; {last_text}",
            "the package lists show no security update to install"
            + ("; nothing upgraded for over 30 days: make sure the lists are refreshed "
               "(apt update / dnf makecache)" if stale else "") + note,
            Confidence.Medium if stale or age is None else Confidence.High, excerpts=excerpts)
    if age is not None and age <= limit:
        return r.make(Status.Pass, last_text,
                      f"upgraded within {policy.max_patch_age_days} d; pending updates not "
                      f"known ({pend_problem}){note}", Confidence.Medium, excerpts=excerpts)
    if pend_problem == "no -security suite in the apt sources":
        return r.make(Status.Fail, f"no security updates source; {last_text}",
                      "the apt sources have no -security suite, so security updates never "
                      f"arrive{note}", Confidence.Medium,
                      "Add the distribution's security suite (e.g. bookworm-security) to the "
                      "apt sources, then apt update && apt upgrade.", excerpts=excerpts)
    return r.make(Status.Unknown, last_text,
                  f"cannot list pending security updates ({pend_problem or 'no data'})"
                  + (f" and the last upgrade is older than {policy.max_patch_age_days} d"
                     if age is not None else "") + note,
                  Confidence.Low, excerpts=excerpts)


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
    item = _cmd(bundle, LOGIN_SESSION)
    if item is None or not item.ok:
        return {}
    out = {}
    for line in item.stdout.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _ini_section(text: str, section: str) -> dict[str, str]:
    out: dict[str, str] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line
            continue
        if current == f"[{section}]":
            key, sep, value = line.partition("=")
            if sep:
                out[key.strip()] = value.strip()
    return out


def _bool(text: str | None, default: bool) -> bool | None:
    if text is None:
        return default
    low = text.strip().lower()
    if low in ("true", "1", "yes", "on"):
        return True
    if low in ("false", "0", "no", "off"):
        return False
    return None


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
    idle_item = _cmd(bundle, GS_IDLE)
    saver_item = _cmd(bundle, GS_SCREENSAVER)
    lockdown_item = _cmd(bundle, GS_LOCKDOWN)
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
    item = _file(bundle, KSCREENLOCKERRC)
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
    uid_item = _cmd(bundle, UID)
    as_root = bool(uid_item and uid_item.ok and uid_item.stdout.strip() == "0")
    note = "; read as root: these are root's settings, run as the desktop user" if as_root else ""
    base = Confidence.Low if as_root else Confidence.High
    kde_file = _file(bundle, KSCREENLOCKERRC)
    has_kde = kde_file is not None and kde_file.error is None
    dconf = _file(bundle, DCONF_USER)
    has_dconf = dconf is not None and dconf.error is None
    gs_ok = bool((item := _cmd(bundle, GS_IDLE)) and item.ok)
    if graphical and ("kde" in desktop or "plasma" in desktop):
        return _kde(bundle, r, policy, base, note)
    if graphical and desktop in GNOME_DESKTOPS:
        return _gnome(bundle, r, policy, base, note)
    if graphical and desktop:
        return r.make(Status.Unknown, f"desktop {session.get('Desktop')}",
                      f"the {session.get('Desktop')} desktop is not supported yet (GNOME and KDE "
                      "are)", Confidence.Medium, excerpts=[excerpt(_cmd(bundle, LOGIN_SESSION))])
    lower = Confidence.Low if as_root else Confidence.Medium
    seen = "" if graphical else "; no graphical session seen, judged from this user's settings"
    if has_kde:
        return _kde(bundle, r, policy, lower, seen + note)
    if has_dconf and gs_ok:
        return _gnome(bundle, r, policy, lower, seen + note)
    return r.make(
        Status.Unknown, "no desktop session found",
        "no graphical session, KDE config or GNOME settings database for this user"
        + (" (" + (failure(_cmd(bundle, LOGIN_SESSION), "loginctl") or
                   f"loginctl: session Type={session.get('Type', '?')}") + ")") + note,
        Confidence.Medium,
        "Run the check as the desktop user inside their session (a server without a desktop "
        "can list screen-lock as not required in the policy).",
        excerpts=[excerpt(_cmd(bundle, LOGIN_SESSION)), excerpt(dconf), excerpt(kde_file)],
    )


# ===== firewall ================================================================================
# Method: reading the live ruleset needs CAP_NET_ADMIN, so this judges the services that load one:
# `systemctl show -p Id,LoadState,ActiveState,UnitFileState ufw.service firewalld.service
# nftables.service netfilter-persistent.service` (blocks of Key=Value separated by blank lines;
# an absent unit has LoadState=not-found). ufw counts only with ENABLED=yes in /etc/ufw/ufw.conf
# (what `ufw enable` writes and the boot script reads: ufw.service stays active even when ufw is
# disabled). nftables.service loads /etc/nftables.conf: it counts when that file's input hook has
# "policy drop" or a drop/reject rule (Debian's default file accepts everything).


def parse_systemctl_show(text: str) -> dict[str, dict[str, str]]:
    units: dict[str, dict[str, str]] = {}
    for block in re.split(r"\n\s*\n", text.strip()):
        props: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                props[key.strip()] = value.strip()
        if props.get("Id"):
            units[props["Id"]] = props
    return units


def _units(bundle: EvidenceBundle) -> tuple[dict[str, dict[str, str]] | None, str, str]:
    item = _cmd(bundle, SYSTEMD_UNITS)
    why = problem(item, "systemctl")
    if item is None or why:
        return None, why or "", excerpt(item)
    if item.exit_code != 0 or not item.stdout.strip():
        msg = (item.stderr.strip().splitlines() or [f"exit {item.exit_code}"])[0]
        return None, f"systemd is not usable here ({msg[:90]})", excerpt(item)
    units = parse_systemctl_show(item.stdout)
    # systemctl show prints a block for every unit asked for, loaded or not-found.
    if not any(u in units for u in (*FIREWALL_UNITS, *UPDATE_UNITS)):
        return None, "systemctl output not recognised", excerpt(item)
    return units, "", ""


def _unit_lines(units: dict[str, dict[str, str]], names: Iterable[str]) -> list[str]:
    return [f"{n}: {units[n].get('LoadState', '?')}, {units[n].get('ActiveState', '?')}, "
            f"{units[n].get('UnitFileState') or '-'}" for n in names if n in units]


def _nft_restrictive(text: str) -> bool:
    """An input-hook chain with policy drop, or a drop/reject rule in such a chain."""
    for chain in re.finditer(r"chain\s+\S+\s*\{(?P<body>[^{}]*)\}", text):
        body = re.sub(r"#[^\n]*", "", chain.group("body"))
        if re.search(r"hook\s+input", body) and (
            re.search(r"policy\s+drop", body) or re.search(r"\b(drop|reject)\b", body)
        ):
            return True
    return False


def check_firewall(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    r = _Result(
        "firewall",
        "systemctl show ufw/firewalld/nftables/netfilter-persistent (ActiveState); "
        "/etc/ufw/ufw.conf ENABLED; /etc/nftables.conf input policy",
        "Turn on a host firewall: sudo ufw enable (Debian/Ubuntu) or sudo systemctl enable "
        "--now firewalld (Fedora/RHEL).",
    )
    units, units_problem, units_ex = _units(bundle)
    ufw_item = _file(bundle, UFW_CONF)
    ufw_conf = _ini_section("[x]\n" + (_text(ufw_item) or ""), "x")
    ufw_enabled = None if _text(ufw_item) is None else ufw_conf.get("ENABLED", "").lower() == "yes"
    nft_item = _file(bundle, NFTABLES_CONF)
    nft_text = _text(nft_item)
    ufw_ex = excerpt(ufw_item, [ln for ln in (_text(ufw_item) or "").splitlines()
                                if ln.startswith("ENABLED")]) if ufw_item else ""
    if units is None:
        if ufw_enabled:
            return r.make(Status.Pass, "ufw enabled (service state unknown)",
                          f"ENABLED=yes in ufw.conf; {units_problem}", Confidence.Low,
                          excerpts=[ufw_ex, units_ex])
        return r.make(Status.Unknown, "firewall state unknown",
                      f"cannot see which firewall service runs: {units_problem}", Confidence.Low,
                      excerpts=[units_ex, ufw_ex])
    active = [u for u in FIREWALL_UNITS if units.get(u, {}).get("ActiveState") == "active"]
    item = _cmd(bundle, SYSTEMD_UNITS)
    ex = excerpt(item, _unit_lines(units, FIREWALL_UNITS))
    if "firewalld.service" in active:
        return r.make(Status.Pass, "firewalld running", "firewalld.service is active",
                      excerpts=[ex])
    if "ufw.service" in active and ufw_enabled:
        return r.make(Status.Pass, "ufw enabled", "ufw.service is active and ENABLED=yes",
                      excerpts=[ex, ufw_ex])
    if "nftables.service" in active:
        nft_ex = excerpt(nft_item)
        if nft_text is not None and _nft_restrictive(nft_text):
            return r.make(Status.Pass, "nftables ruleset loaded",
                          "nftables.service is active and /etc/nftables.conf filters input",
                          Confidence.Medium, excerpts=[ex, nft_ex])
        if nft_text is not None:
            return r.make(Status.Fail, "nftables accepts all input",
                          "nftables.service is active but /etc/nftables.conf drops nothing on "
                          "input", Confidence.Medium, excerpts=[ex, nft_ex])
    if "netfilter-persistent.service" in active:
        return r.make(Status.Pass, "iptables rules restored at boot",
                      "netfilter-persistent.service is active (rules not readable without root)",
                      Confidence.Medium, excerpts=[ex])
    if ufw_enabled:
        return r.make(Status.Fail, "ufw enabled but not running",
                      "ENABLED=yes in ufw.conf but ufw.service is not active", Confidence.Medium,
                      excerpts=[ex, ufw_ex])
    return r.make(Status.Fail, "no firewall active",
                  "none of ufw, firewalld, nftables or netfilter-persistent is active"
                  + (" (ufw.conf has ENABLED=no)" if ufw_enabled is False else ""),
                  excerpts=[ex, ufw_ex])


# ===== guest-account ===========================================================================
# Method: a "guest" account from `getent passwd guest` (NSS, so LDAP/SSSD too; exit 2 = no such
# entry) with a login shell; and LightDM's guest session: allow-guest in [Seat:*] (or the older
# [SeatDefaults]) read in LightDM's order — /usr/share/lightdm/lightdm.conf.d/*.conf, then
# /etc/lightdm/lightdm.conf.d/*.conf, then /etc/lightdm/lightdm.conf, the last value winning —
# where allow-guest defaults to true but needs the guest-account script
# (/usr/sbin/guest-account) to work. GDM has no guest session.

_NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "")


def check_guest_account(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    r = _Result(
        "guest-account",
        "getent passwd guest; LightDM allow-guest in /usr/share/lightdm/lightdm.conf.d, "
        "/etc/lightdm/lightdm.conf.d and /etc/lightdm/lightdm.conf",
        "Disable guest logins: set allow-guest=false under [Seat:*] in "
        "/etc/lightdm/lightdm.conf.d/50-no-guest.conf, and lock or remove the guest account "
        "(sudo usermod -s /usr/sbin/nologin -L guest).",
    )
    getent = _cmd(bundle, GETENT_GUEST)
    excerpts = [excerpt(getent)]
    if getent is not None and getent.ok and getent.stdout.strip():
        fields = getent.stdout.strip().splitlines()[0].split(":")
        shell = fields[6] if len(fields) >= 7 else ""
        if shell not in _NOLOGIN:
            return r.make(Status.Fail, f"guest account with shell {shell}",
                          "an account named guest exists and can log in", excerpts=excerpts)
    elif getent is None or problem(getent) or getent.exit_code not in (0, 2):
        return r.make(Status.Unknown, "accounts not readable",
                      problem(getent, "getent") or
                      f"getent exited {getent.exit_code if getent else '?'}",
                      Confidence.Low, excerpts=excerpts)
    conf_items = sorted(
        ((k[len(LIGHTDM_PREFIX):], it) for k, it in bundle.items.items()
         if k.startswith(LIGHTDM_PREFIX) and isinstance(it, FileEvidence)),
        key=lambda kv: (
            0 if kv[0].startswith(LIGHTDM_DIRS[0]) else 1 if kv[0].startswith(LIGHTDM_DIRS[1])
            else 2, kv[0]),
    )
    present = [(p, it) for p, it in conf_items if it.error is None]
    if not present:
        return r.make(Status.Pass, "no guest account or guest session",
                      "no login-capable guest account; LightDM is not configured here",
                      excerpts=excerpts)
    allow: bool | None = True
    deciding = "allow-guest (LightDM default true)"
    for path, item in present:
        for section in ("SeatDefaults", "Seat:*"):
            value = _ini_section(item.content or "", section).get("allow-guest")
            if value is not None:
                allow = _bool(value, True)
                deciding = f"{path}: [{section}] allow-guest={value}"
    script = _file(bundle, LIGHTDM_GUEST_SCRIPT)
    has_script = script is not None and script.error is None
    excerpts.append(deciding)
    if allow and has_script:
        return r.make(Status.Fail, "LightDM guest session enabled",
                      f"{deciding}, and the guest-account script is installed", Confidence.High,
                      excerpts=excerpts)
    if allow is None:
        return r.make(Status.Unknown, "LightDM setting not recognised", deciding, Confidence.Low,
                      excerpts=excerpts)
    return r.make(Status.Pass, "guest session off",
                  f"{deciding}" + ("" if allow is False else
                                    "; no guest-account script, so no guest session"),
                  excerpts=excerpts)


# ===== secure-boot =============================================================================
# Method: the UEFI variable SecureBoot (EFI global variable GUID 8be4df61-93ca-11d2-aa0d-
# 00e098032b8c) read from efivarfs, /sys/firmware/efi/efivars/SecureBoot-<GUID>: 4 bytes of
# attributes (little-endian) then the 1-byte value, 1 = Secure Boot enforcing, 0 = off (UEFI
# spec §3.3 Globally Defined Variables; the kernel's efivarfs documentation). No
# /sys/firmware/efi at all means the machine booted in legacy BIOS mode (the kernel creates it
# only on EFI boots), where Secure Boot cannot be on — except in a container, where /sys is not
# the host's view: UNKNOWN there.


def _no_host_view(bundle: EvidenceBundle) -> str | None:
    return container(bundle)


def check_secure_boot(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    r = _Result(
        "secure-boot",
        f"/sys/firmware/efi (UEFI boot); efivarfs {SECUREBOOT_VAR} (5th byte: 1 = on)",
        "Turn on Secure Boot in the firmware setup (UEFI mode; enroll the distribution's keys "
        "or use shim); a legacy-BIOS install must be converted to UEFI first.",
    )
    var = _file(bundle, EFI_SECUREBOOT)
    efi = _file(bundle, EFI_DIR)
    efivars = _file(bundle, EFIVARS_DIR)
    excerpts = [excerpt(var), excerpt(efi)]
    if var is not None and var.error is None and var.content is not None:
        try:
            data = bytes.fromhex(var.content.strip())
        except ValueError:
            data = b""
        if len(data) == 5 and data[4] in (0, 1):
            if data[4] == 1:
                return r.make(Status.Pass, "Secure Boot on", "SecureBoot variable is 1",
                              excerpts=[f"{var.path}: {var.content.strip()} (value byte 01)"])
            return r.make(Status.Fail, "Secure Boot off", "SecureBoot variable is 0 (UEFI boot "
                          "with Secure Boot disabled)",
                          excerpts=[f"{var.path}: {var.content.strip()} (value byte 00)"])
        return r.make(Status.Unknown, "SecureBoot variable not recognised",
                      f"expected 5 bytes (attributes + value), got {var.content.strip()[:40]!r}",
                      Confidence.Low, excerpts=excerpts)
    boxed = _no_host_view(bundle)
    if var is not None and var.error not in (None, "missing"):
        return r.make(Status.Unknown, "SecureBoot variable not readable", problem(var) or "",
                      Confidence.Low, excerpts=excerpts)
    if efi is not None and efi.error == "missing":
        if boxed:
            return r.make(Status.Unknown, "no firmware view",
                          f"this looks like a container ({boxed}): /sys/firmware is not the "
                          "host's", Confidence.Medium, "Run the check on the host.",
                          excerpts=excerpts)
        return r.make(Status.Fail, "legacy BIOS boot",
                      "no /sys/firmware/efi: the machine booted without UEFI, so Secure Boot "
                      "is off", Confidence.Medium, excerpts=excerpts)
    if efi is not None and efi.error is None:
        vars_listing = _text(efivars)
        if vars_listing is not None and not vars_listing.strip():
            return r.make(Status.Unknown, "efivarfs not mounted",
                          "UEFI boot, but /sys/firmware/efi/efivars is empty (not mounted)",
                          Confidence.Low, excerpts=excerpts)
        if var is not None and var.error == "missing" and vars_listing:
            return r.make(Status.Fail, "no Secure Boot support",
                          "UEFI boot without a SecureBoot variable: the firmware does not "
                          "support Secure Boot", Confidence.Medium, excerpts=excerpts)
    return r.make(Status.Unknown, "firmware state unknown",
                  problem(efi, "/sys/firmware/efi") or problem(var) or "no usable evidence",
                  Confidence.Low, excerpts=excerpts)


# ===== auto-updates ============================================================================
# Method, Debian/Ubuntu: unattended-upgrades installed (`dpkg-query -W -f='${Status}'
# unattended-upgrades` = "install ok installed"), APT::Periodic::Unattended-Upgrade non-zero
# (`apt-config shell`, the merged apt.conf.d; apt's apt.systemd.daily reads the same key, a
# number of days, 0 = off) and apt-daily-upgrade.timer not disabled/masked (it runs
# apt.systemd.daily). RHEL/Fedora: dnf-automatic-install.timer enabled, or dnf-automatic.timer
# (dnf5-automatic.timer) enabled with apply_updates = yes in /etc/dnf/automatic.conf
# (/etc/dnf/dnf5-plugins/automatic.conf for dnf5) — dnf-automatic(8).


def _apt_config(stdout: str) -> dict[str, str]:
    out = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\w+)='(.*)'$", line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


def check_auto_updates(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    fam = family(bundle)
    units, units_problem, units_ex = _units(bundle)
    sysd = _cmd(bundle, SYSTEMD_UNITS)
    if fam == "rhel":
        r = _Result("auto-updates", "systemctl show dnf-automatic*.timer (UnitFileState); "
                    "/etc/dnf/automatic.conf apply_updates",
                    "Install dnf-automatic, set apply_updates = yes in /etc/dnf/automatic.conf "
                    "and run: sudo systemctl enable --now dnf-automatic.timer")
        if units is None:
            return r.make(Status.Unknown, "timers unknown", units_problem, Confidence.Low,
                          excerpts=[units_ex])
        enabled = [u for u in UPDATE_UNITS[2:]
                   if units.get(u, {}).get("UnitFileState") in ("enabled", "static")]
        ex = excerpt(sysd, _unit_lines(units, UPDATE_UNITS[2:]))
        if "dnf-automatic-install.timer" in enabled:
            return r.make(Status.Pass, "dnf-automatic-install.timer enabled",
                          "updates are downloaded and installed on a timer", excerpts=[ex])
        for timer, key in (("dnf-automatic.timer", DNF_AUTOMATIC_CONF),
                           ("dnf5-automatic.timer", DNF5_AUTOMATIC_CONF)):
            if timer in enabled:
                conf_item = _file(bundle, key)
                conf = _ini_section(_text(conf_item) or "", "commands")
                apply = _bool(conf.get("apply_updates"), False)
                shown = conf.get("apply_updates", "(unset)")
                cex = excerpt(conf_item, [f"apply_updates = {shown}"])
                if apply:
                    return r.make(Status.Pass, f"{timer} enabled, apply_updates = yes",
                                  "updates are installed on a timer", excerpts=[ex, cex])
                return r.make(Status.Fail, f"{timer} enabled, downloads only",
                              "apply_updates is not yes, so updates are not installed",
                              excerpts=[ex, cex])
        return r.make(Status.Fail, "no dnf-automatic timer enabled",
                      "no automatic update timer is enabled", excerpts=[ex])
    r = _Result("auto-updates", "dpkg-query unattended-upgrades; apt-config shell "
                "APT::Periodic::Unattended-Upgrade / Update-Package-Lists; systemctl show "
                "apt-daily(-upgrade).timer",
                "sudo apt install unattended-upgrades && sudo dpkg-reconfigure -plow "
                "unattended-upgrades (writes APT::Periodic::Unattended-Upgrade \"1\" to "
                "/etc/apt/apt.conf.d/20auto-upgrades)")
    if fam != "debian":
        return r.make(Status.Unknown, "distribution not recognised",
                      "neither a Debian nor a Red Hat family system (/etc/os-release)",
                      Confidence.Low, "", excerpts=[excerpt(_file(bundle, OS_RELEASE))])
    dpkg = _cmd(bundle, DPKG_UNATTENDED)
    why = problem(dpkg, "dpkg-query")
    if dpkg is None or why:
        return r.make(Status.Unknown, "packages not readable", why or "", Confidence.Low,
                      excerpts=[excerpt(dpkg)])
    installed = dpkg.exit_code == 0 and dpkg.stdout.strip() == "install ok installed"
    if not installed:
        if dpkg.exit_code not in (0, 1):
            return r.make(Status.Unknown, "dpkg-query failed", f"exit {dpkg.exit_code}",
                          Confidence.Low, excerpts=[excerpt(dpkg)])
        return r.make(Status.Fail, "unattended-upgrades not installed",
                      "no automatic installation of updates", excerpts=[excerpt(dpkg)])
    apt = _cmd(bundle, APT_PERIODIC)
    why = problem(apt, "apt-config")
    if apt is None or why or apt.exit_code != 0:
        return r.make(Status.Unknown, "apt configuration not readable",
                      why or f"apt-config exited {apt.exit_code if apt else '?'}",
                      Confidence.Low, excerpts=[excerpt(apt)])
    conf = _apt_config(apt.stdout)
    uu, upl = conf.get("UU", "0"), conf.get("UPL", "0")
    exs = [excerpt(dpkg), excerpt(apt)]
    if uu in ("", "0") or upl in ("", "0"):
        return r.make(Status.Fail, f"unattended-upgrades installed but off (Unattended-Upgrade="
                      f"{uu or 'unset'}, Update-Package-Lists={upl or 'unset'})",
                      "APT::Periodic does not run it", excerpts=exs)
    if units is not None:
        upgrade_timer = units.get("apt-daily-upgrade.timer", {})
        exs.append(excerpt(sysd, _unit_lines(units, UPDATE_UNITS[:2])))
        if upgrade_timer.get("UnitFileState") in ("disabled", "masked") or \
                upgrade_timer.get("LoadState") in ("masked", "not-found"):
            return r.make(Status.Fail, "apt-daily-upgrade.timer off",
                          f"the timer that runs unattended-upgrades is "
                          f"{upgrade_timer.get('UnitFileState') or upgrade_timer.get('LoadState')}",
                          excerpts=exs)
        return r.make(Status.Pass, f"unattended-upgrades on (every {uu} day(s))",
                      "installed, enabled in APT::Periodic, timer enabled", excerpts=exs)
    return r.make(Status.Pass, f"unattended-upgrades on (every {uu} day(s))",
                  f"installed and enabled in APT::Periodic; timer state unknown ({units_problem})",
                  Confidence.Medium, excerpts=exs)


# ===== tpm =====================================================================================
# Method: the kernel's TPM class, /sys/class/tpm/ (tpm0, …; the driver registers a device for
# every TPM it finds, firmware or discrete), and /sys/class/tpm/tpm0/tpm_version_major (kernel
# ≥ 5.6: "1" or "2"). No class directory: no TPM driver bound (absent, disabled in firmware, or
# a container's /sys).


def check_tpm(bundle: EvidenceBundle, policy: Policy, now: dt.datetime) -> CheckResult:
    r = _Result("tpm", "/sys/class/tpm/ (tpmN devices); tpm0/tpm_version_major",
                "Enable the TPM (fTPM / PTT / Security Chip) in the firmware setup; machines "
                "without one need a hardware change.")
    listing = _file(bundle, TPM_CLASS)
    version_item = _file(bundle, TPM_VERSION)
    excerpts = [excerpt(listing), excerpt(version_item)]
    if listing is not None and listing.error is None:
        devices = [n for n in (listing.content or "").split() if re.fullmatch(r"tpm\d+", n)]
        if devices:
            version = (_text(version_item) or "").strip()
            label = {"2": "TPM 2.0", "1": "TPM 1.2"}.get(version, "TPM (version unknown)")
            return r.make(Status.Pass, f"{label} ({', '.join(devices)})",
                          "the kernel exposes a TPM device", excerpts=excerpts)
        return r.make(Status.Fail, "no TPM", "/sys/class/tpm has no tpm device",
                      excerpts=excerpts)
    if listing is not None and listing.error == "missing":
        boxed = _no_host_view(bundle)
        if boxed:
            return r.make(Status.Unknown, "no device view",
                          f"this looks like a container ({boxed}): its /sys is not the host's",
                          Confidence.Medium, "Run the check on the host.", excerpts=excerpts)
        return r.make(Status.Fail, "no TPM",
                      "no /sys/class/tpm: no TPM found (absent, disabled in firmware or no "
                      "driver)", Confidence.Medium, excerpts=excerpts)
    return r.make(Status.Unknown, "TPM state unknown", problem(listing, "/sys/class/tpm") or "",
                  Confidence.Low, excerpts=excerpts)


CHECKS: dict[str, LinuxCheck] = {
    "disk-encryption": LinuxCheck("disk-encryption", check_disk_encryption),
    "patch-age": LinuxCheck("patch-age", check_patch_age),
    "screen-lock": LinuxCheck("screen-lock", check_screen_lock),
    "firewall": LinuxCheck("firewall", check_firewall),
    "guest-account": LinuxCheck("guest-account", check_guest_account),
    "secure-boot": LinuxCheck("secure-boot", check_secure_boot),
    "auto-updates": LinuxCheck("auto-updates", check_auto_updates),
    "tpm": LinuxCheck("tpm", check_tpm),
}
