"""Linux disk-encryption check: is the root filesystem on a dm-crypt mapping?"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from ..model import CheckResult, Confidence, EvidenceBundle, Policy, Status
from ..parsing import command, file
from .common import LinuxCheck, _Result, _text, excerpt, problem
from .evidence_ids import FINDMNT_ROOT, LSBLK, ROOT_UEVENT

NO_BLOCK_FS = {"overlay", "tmpfs", "ramfs", "rootfs", "aufs", "9p", "virtiofs", "nfs", "nfs4",
               "cifs", "smb3", "fuse", "squashfs"}


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
    item = command(bundle, FINDMNT_ROOT)
    if item is None or not item.ok:
        return None
    try:
        data = json.loads(item.stdout)
        fs = data["filesystems"][0]
    except (ValueError, RecursionError, KeyError, IndexError, TypeError):
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
    except (ValueError, RecursionError, KeyError, TypeError):
        return None
    if not isinstance(devices, list):
        return None
    found: list[list[dict[str, Any]]] = []
    by_name: list[list[dict[str, Any]]] = []
    source_name = root["source"].rsplit("/", 1)[-1] if root else ""

    # Depth first, in lsblk's order, without recursion (the tree comes from a file).
    stack: list[tuple[Any, list[dict[str, Any]]]] = [(dev, []) for dev in reversed(devices)]
    while stack:
        node, trail = stack.pop()
        if not isinstance(node, dict):
            continue
        path = [*trail, node]
        if "/" in _mountpoints(node):
            found.append(path)
        elif source_name and source_name in (node.get("name"), node.get("kname")):
            by_name.append(path)
        children = node.get("children")
        if isinstance(children, list):
            stack.extend((child, path) for child in reversed(children))
    return found or by_name


def _is_crypt(node: dict[str, Any]) -> bool:
    return str(node.get("type") or "").startswith("crypt") or node.get("fstype") == "crypto_LUKS"


def _sysfs_chain(bundle: EvidenceBundle) -> tuple[bool | None, list[str], list[str], str]:
    """(encrypted?, chain names, excerpt lines, problem) from the sysfs evidence."""
    uevent = file(bundle, ROOT_UEVENT)
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
        uuid_item = file(bundle, f"linux.sysfs.{name}.dm-uuid")
        uuid = (_text(uuid_item) or "").strip()
        if uuid:
            lines.append(f"{name}/dm/uuid: {uuid}")
            if uuid.startswith("CRYPT-"):
                encrypted = True
        elif uuid_item is not None and uuid_item.error not in (None, "missing"):
            return None, seen, lines, problem(uuid_item) or ""
        slaves_item = file(bundle, f"linux.sysfs.{name}.slaves")
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
    fm_item, lb_item = command(bundle, FINDMNT_ROOT), command(bundle, LSBLK)
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


DISK_ENCRYPTION_CHECK = LinuxCheck("disk-encryption", check_disk_encryption)
