"""The Linux evidence collector: commands, files and sysfs reads run in parallel, no root needed.

It gathers exactly the evidence ids ``strongroom.app.compliance.linux`` reads (the method
of each check is documented there) and judges nothing. Every command runs through
``runner.run_command`` (LC_ALL=C, a timeout, no shell); a missing tool, a denied read or a timeout
becomes evidence with ``error`` set. One collection of all eight checks takes well under half a
second on a Debian machine (tests/bench/bench_compliance.py).
"""

from __future__ import annotations

import datetime as dt
import errno
import glob
import gzip
import logging
import os
import re
import shutil
import socket
import tempfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

from strongroom.app.compliance.linux import CHECKS
from strongroom.app.compliance.linux import evidence_ids as ids
from strongroom.app.compliance.model import (
    OS,
    CommandEvidence,
    Evidence,
    EvidenceBundle,
    FileEvidence,
)
from strongroom.app.plugins import Availability

from .runner import MAX_OUTPUT, gather_parallel, read_file, run_command

log = logging.getLogger("strongroom.compliance.linux")

Items = dict[str, Evidence]
MAX_SYSFS_DEPTH = 8


# ----- small readers ---------------------------------------------------------------------------


def _error_word(e: OSError) -> str:
    if isinstance(e, FileNotFoundError | NotADirectoryError):
        return "missing"
    if isinstance(e, PermissionError):
        return "permission"
    return errno.errorcode.get(e.errno or 0, "oserror")


def list_dir(path: str) -> FileEvidence:
    """A directory listing as file evidence: path ends in "/", names sorted, one per line."""
    shown = path.rstrip("/") + "/"
    try:
        names = sorted(os.listdir(path))
    except OSError as e:
        return FileEvidence(shown, None, _error_word(e))
    return FileEvidence(shown, "\n".join(names))


def read_log(path: str) -> FileEvidence:
    """A log's text (``.gz`` decompressed), keeping its end when it is over the size limit."""
    try:
        data = Path(path).read_bytes()
        if path.endswith(".gz"):
            data = gzip.decompress(data)
    except OSError as e:
        return FileEvidence(path, None, _error_word(e))
    except (EOFError, zlib.error, gzip.BadGzipFile):
        return FileEvidence(path, None, "corrupt")
    if len(data) > MAX_OUTPUT:
        data = data[-MAX_OUTPUT:]
        data = data[data.find(b"\n") + 1:]
    return FileEvidence(path, data.decode("utf-8", "replace"))


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def _config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or _home() / ".config")


# ----- tasks: each returns the evidence items it gathered --------------------------------------


def t_os_release() -> Items:
    item = read_file("/etc/os-release")
    if item.error == "missing":
        item = read_file("/usr/lib/os-release")
    return {ids.OS_RELEASE: item}


def t_container() -> Items:
    return {key: read_file(path, max_bytes=256) for key, path in ids.CONTAINER_FILES.items()}


def t_block_devices() -> Items:
    """findmnt for /, then the sysfs chain from the root's block device down to the disks."""
    findmnt = run_command(["findmnt", "-J", "-o", "SOURCE,TARGET,FSTYPE,MAJ:MIN", "/"])
    out: Items = {ids.FINDMNT_ROOT: findmnt}
    source = _findmnt_source(findmnt)
    if not source.startswith("/dev/"):
        return out
    try:
        rdev = os.stat(source).st_rdev
    except OSError as e:
        out[ids.ROOT_UEVENT] = FileEvidence(source, None, _error_word(e))
        return out
    uevent = read_file(f"/sys/dev/block/{os.major(rdev)}:{os.minor(rdev)}/uevent", 4096)
    out[ids.ROOT_UEVENT] = uevent
    match = re.search(r"^DEVNAME=(\S+)$", uevent.content or "", re.M)
    queue = [match.group(1)] if match else []
    seen: set[str] = set()
    while queue and len(seen) < 64:
        name = queue.pop(0)
        if name in seen or "/" in name:
            continue
        seen.add(name)
        base = f"/sys/class/block/{name}"
        out[f"linux.sysfs.{name}.dm-uuid"] = read_file(f"{base}/dm/uuid", 512)
        slaves = list_dir(f"{base}/slaves")
        out[f"linux.sysfs.{name}.slaves"] = slaves
        queue.extend((slaves.content or "").split())
    return out


def _findmnt_source(item: CommandEvidence) -> str:
    m = re.search(r'"source"\s*:\s*"([^"]*)"', item.stdout) if item.ok else None
    return re.sub(r"\[.*\]$", "", m.group(1)) if m else ""


def t_lsblk() -> Items:
    cols = "NAME,KNAME,TYPE,FSTYPE,MAJ:MIN"
    item = run_command(["lsblk", "-J", "-o", cols + ",MOUNTPOINTS"])
    if item.exit_code not in (0, None) and "unknown column" in item.stderr.lower():
        item = run_command(["lsblk", "-J", "-o", cols + ",MOUNTPOINT"])  # util-linux < 2.37
    return {ids.LSBLK: item}


def t_apt_history() -> Items:
    out: Items = {ids.APT_HISTORY: read_log("/var/log/apt/history.log")}

    def number(path: str) -> int:
        m = re.search(r"\.log\.(\d+)(?:\.gz)?$", path)
        return int(m.group(1)) if m else 0

    for path in sorted(glob.glob("/var/log/apt/history.log.*"), key=number):
        n = number(path)
        if n:
            out[f"{ids.APT_HISTORY}.{n}"] = read_log(path)
    return out


def security_sources(list_text: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """(one-line .list, deb822 .sources) keeping only the machine's "-security" suites."""
    one_line: list[str] = []
    deb822: list[str] = []
    for path, text in list_text:
        if path.endswith(".list"):
            for line in text.splitlines():
                stripped = line.strip()
                if not stripped.startswith("deb") or stripped.startswith("deb-src"):
                    continue
                words = re.sub(r"\[[^\]]*\]", "", stripped).split()
                if len(words) >= 3 and ("-security" in words[2] or words[2].endswith("/updates")):
                    one_line.append(stripped)
        elif path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                lines = [ln for ln in stanza.splitlines() if not ln.lstrip().startswith("#")]
                fields = {ln.split(":", 1)[0].strip().lower(): ln for ln in lines
                          if ":" in ln and not ln.startswith((" ", "\t"))}
                if "suites" not in fields or "types" not in fields:
                    continue
                if "deb" not in fields["types"].split(":", 1)[1].split():
                    continue
                enabled = fields.get("enabled", "Enabled: yes").split(":", 1)[1].strip().lower()
                if enabled == "no":
                    continue
                suites = [s for s in fields["suites"].split(":", 1)[1].split()
                          if "-security" in s or s.endswith("/updates")]
                if not suites:
                    continue
                kept = ["Types: deb" if ln is fields["types"] else
                        ("Suites: " + " ".join(suites)) if ln is fields["suites"] else ln
                        for ln in lines]
                deb822.append("\n".join(kept))
    return "\n".join(one_line), "\n\n".join(deb822)


def t_apt_pending() -> Items:
    """apt list --upgradable over a throwaway sources list of the -security suites only."""
    texts = []
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list")),
                 *sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))]:
        item = read_file(path)
        if item.content is not None:
            texts.append((path if path.endswith((".list", ".sources")) else path + ".list",
                          item.content))
    one_line, deb822 = security_sources(texts)
    shown = "\n".join(x for x in (one_line, deb822) if x)
    out: Items = {}
    if not shown:
        out[ids.APT_SECURITY_SOURCES] = FileEvidence("(security suites of /etc/apt/sources.list*)",
                                                    "")
        return out
    if shutil.which("apt") is None:
        out[ids.APT_UPGRADABLE] = CommandEvidence(("apt", "list", "--upgradable"), None,
                                                  error="missing")
        return out
    with tempfile.TemporaryDirectory(prefix="strongroom-apt-") as tmp:
        if one_line:
            Path(tmp, "security.list").write_text(one_line + "\n", encoding="utf-8")
        if deb822:
            Path(tmp, "security.sources").write_text(deb822 + "\n", encoding="utf-8")
        out[ids.APT_SECURITY_SOURCES] = FileEvidence(f"{tmp}/ (from /etc/apt/sources.list*)",
                                                    shown)
        out[ids.APT_UPGRADABLE] = run_command(
            ["apt", "list", "--upgradable", "-o", "Dir::Etc::SourceList=/dev/null",
             "-o", f"Dir::Etc::SourceParts={tmp}"], timeout=20,
        )
    return out


def t_rpm() -> Items:
    return {ids.RPM_INSTALLTIME: run_command(
        ["rpm", "-qa", "--qf", "%{INSTALLTIME} %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n"])}


def t_dnf() -> Items:
    return {ids.DNF_SECURITY: run_command(
        ["dnf", "-C", "-q", "updateinfo", "list", "--security"], timeout=30)}


def t_date() -> Items:
    return {ids.DATE_OFFSET: run_command(["date", "+%z"])}


def t_session() -> Items:
    return {
        ids.LOGIN_SESSION: run_command(["loginctl", "show-session", "auto", "-p", "Type",
                                        "-p", "Desktop", "-p", "Class", "-p", "Active"]),
        ids.UID: run_command(["id", "-u"]),
        ids.DCONF_USER: read_file(str(_config_home() / "dconf" / "user"), 16, binary_hex=True),
        ids.KSCREENLOCKERRC: read_file(str(_config_home() / "kscreenlockerrc")),
    }


def t_gsettings_idle() -> Items:
    return {ids.GS_IDLE: run_command(["gsettings", "get", "org.gnome.desktop.session",
                                      "idle-delay"])}


def t_gsettings_screensaver() -> Items:
    return {ids.GS_SCREENSAVER: run_command(["gsettings", "list-recursively",
                                             "org.gnome.desktop.screensaver"])}


def t_gsettings_lockdown() -> Items:
    return {ids.GS_LOCKDOWN: run_command(["gsettings", "get", "org.gnome.desktop.lockdown",
                                          "disable-lock-screen"])}


def t_systemd_units() -> Items:
    return {ids.SYSTEMD_UNITS: run_command(
        ["systemctl", "show", "--property=" + ",".join(ids.SYSTEMD_PROPERTIES),
         *ids.FIREWALL_UNITS, *ids.UPDATE_UNITS])}


def t_firewall_files() -> Items:
    return {ids.UFW_CONF: read_file("/etc/ufw/ufw.conf"),
            ids.NFTABLES_CONF: read_file("/etc/nftables.conf")}


def t_guest() -> Items:
    out: Items = {ids.GETENT_GUEST: run_command(["getent", "passwd", "guest"])}
    paths = [ids.LIGHTDM_MAIN]
    for folder in ids.LIGHTDM_DIRS:
        paths += sorted(glob.glob(f"{folder}/*.conf"))
    for path in paths:
        out[ids.LIGHTDM_PREFIX + path] = read_file(path)
    out[ids.LIGHTDM_GUEST_SCRIPT] = read_file("/usr/sbin/guest-account", 64)
    return out


def t_efi() -> Items:
    return {
        ids.EFI_DIR: list_dir("/sys/firmware/efi"),
        ids.EFIVARS_DIR: list_dir("/sys/firmware/efi/efivars"),
        ids.EFI_SECUREBOOT: read_file(f"/sys/firmware/efi/efivars/{ids.SECUREBOOT_VAR}", 64,
                                      binary_hex=True),
    }


def t_apt_config() -> Items:
    return {
        ids.APT_PERIODIC: run_command(["apt-config", "shell",
                                       "UU", "APT::Periodic::Unattended-Upgrade",
                                       "UPL", "APT::Periodic::Update-Package-Lists"]),
        ids.DPKG_UNATTENDED: run_command(["dpkg-query", "-W", "-f=${Status}",
                                          "unattended-upgrades"]),
    }


def t_dnf_automatic() -> Items:
    return {ids.DNF_AUTOMATIC_CONF: read_file("/etc/dnf/automatic.conf"),
            ids.DNF5_AUTOMATIC_CONF: read_file("/etc/dnf/dnf5-plugins/automatic.conf")}


def t_tpm() -> Items:
    return {ids.TPM_CLASS: list_dir("/sys/class/tpm"),
            ids.TPM_VERSION: read_file("/sys/class/tpm/tpm0/tpm_version_major", 16)}


Task = Callable[[], Items]
COMMON: tuple[Task, ...] = (t_os_release,)
DEBIAN_PATCH = (t_apt_history, t_apt_pending)
RHEL_PATCH = (t_rpm, t_dnf)
TASKS: dict[str, tuple[Task, ...]] = {
    "disk-encryption": (t_block_devices, t_lsblk, t_container),
    "patch-age": (t_date,),  # + the family's package tasks, chosen in collect()
    "screen-lock": (t_session, t_gsettings_idle, t_gsettings_screensaver, t_gsettings_lockdown),
    "firewall": (t_systemd_units, t_firewall_files),
    "guest-account": (t_guest,),
    "secure-boot": (t_efi, t_block_devices, t_container),
    "auto-updates": (t_systemd_units, t_apt_config, t_dnf_automatic),
    "tpm": (t_tpm, t_block_devices, t_container),
}


def _family_from(item: Evidence) -> str:
    text = item.content if isinstance(item, FileEvidence) and item.content else ""
    values = " ".join(v for line in text.splitlines()
                      for k, _, v in [line.partition("=")] if k in ("ID", "ID_LIKE")).lower()
    if re.search(r"\b(debian|ubuntu)\b", values):
        return "debian"
    if re.search(r"\b(rhel|fedora|centos|rocky|almalinux|ol|amzn)\b", values):
        return "rhel"
    return ""


class LinuxCollector:
    """Gathers the Linux checks' evidence; ``only`` is a set of check ids (None = all)."""

    os = OS.Linux

    def __init__(self, workers: int = 8) -> None:
        self.workers = workers

    @staticmethod
    def available() -> Availability:
        import sys

        if not sys.platform.startswith("linux"):
            return Availability(False, "Linux required")
        return Availability(True)

    def collect(self, only: set[str] | None = None) -> EvidenceBundle:
        collected = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        checks = [c for c in CHECKS if only is None or c in only]
        items: Items = dict(t_os_release())
        tasks: list[Task] = []
        for check_id in checks:
            for task in TASKS[check_id]:
                if task not in tasks:
                    tasks.append(task)
        if "patch-age" in checks:
            fam = _family_from(items[ids.OS_RELEASE])
            extra = DEBIAN_PATCH if fam == "debian" else RHEL_PATCH if fam == "rhel" else (
                *DEBIAN_PATCH, *RHEL_PATCH)
            # The slowest tasks first, so they start before the quick reads fill the pool.
            tasks = [*extra, *tasks]
        items.update(gather_parallel([(t.__name__, t) for t in tasks], self.workers))
        return EvidenceBundle(os=OS.Linux, collected=collected, items=items,
                              host=socket.gethostname())
