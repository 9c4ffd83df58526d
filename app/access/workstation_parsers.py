"""Parsers of this workstation's privileged access: admin-group members and SSH authorized keys.

Pure: each takes a file's text or a tool's output and returns what it grants; nothing here runs
a command or reads a file (``workstation.py`` does). A line that is not what it should be is
skipped, except in authorized_keys, where a line sshd would refuse is reported as malformed so a
reviewer sees it. Output that is not the tool's answer at all is ``AccessListingError``.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from ..compliance.parsing import as_list, load_json, powershell_error, shorten
from ..errors import StrongroomError

ADMIN_GROUPS = ("sudo", "wheel", "admin")

_BASE_KEY_TYPES = (
    "ssh-ed25519", "ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
)
KEY_TYPES = frozenset(
    _BASE_KEY_TYPES
    + tuple(t.split("@")[0] + "-cert-v01@openssh.com" for t in _BASE_KEY_TYPES)
)
# Microsoft.PowerShell.Commands.PrincipalSource, which ConvertTo-Json writes as a number
_PRINCIPAL_SOURCES = {0: "Unknown", 1: "Local", 2: "ActiveDirectory", 3: "AzureAD",
                      4: "MicrosoftAccount"}


class AccessListingError(StrongroomError):
    """This workstation's privileged access cannot be listed honestly: a tool's answer is not
    what it should be, a command failed, or a file cannot be read; ``source`` says which."""

    def __init__(self, message: str, source: str) -> None:
        super().__init__(message)
        self.source = source


class AccessKind(enum.StrEnum):
    AdminGroup = "admin-group"
    SshKey = "ssh-key"


@dataclass(frozen=True)
class PrivilegedAccess:
    """One grant of administrator power or of SSH login on this workstation, with its evidence.

    ``detail["os"]`` ("linux", "macos", "windows") decides the revoking command's form.
    """

    kind: AccessKind
    principal: str
    source: str
    detail: dict[str, Any] = field(hash=False)
    item_id: str

    @property
    def remediation(self) -> str:
        """The exact command a person runs to revoke this; Strongroom never runs it."""
        d = self.detail
        if self.kind is AccessKind.SshKey:
            return _remove_key_lines(d)
        group, who = str(d["group"]), self.principal
        if d["os"] == "windows":
            return _windows_remove(group, who)
        q = shlex.quote
        if d["os"] == "macos":
            return f"sudo dseditgroup -o edit -d {q(who)} -t user {q(group)}"
        if d.get("via") == "primary":
            to = q(str(d["new_primary_group"]))
            move = f"sudo usermod -g {to} {q(who)}"
            return f"sudo groupadd {to} && {move}" if d.get("create_group") else move
        return f"sudo gpasswd -d {q(who)} {q(group)}"


# ----- Linux: /etc/group and /etc/passwd -------------------------------------------------------

def _number(text: str) -> int | None:
    return int(text) if re.fullmatch(r"[0-9]{1,10}", text) else None


def parse_etc_group(text: str, groups: tuple[str, ...] = ADMIN_GROUPS,
                    passwd_text: str | None = None) -> list[PrivilegedAccess]:
    """Members of ``groups`` listed in /etc/group, then (from /etc/passwd) the users whose
    primary group is one of them; NIS ("+"/"-") and malformed lines are skipped."""
    wanted: dict[int, str] = {}  # gid -> admin group name
    every_group: set[str] = set()
    found: dict[str, PrivilegedAccess] = {}
    for line in text.split("\n"):
        fields = line.rstrip("\r").split(":")
        gid = _number(fields[2]) if len(fields) == 4 else None
        if gid is None or not fields[0] or fields[0][0] in "+-#":
            continue
        name = fields[0]
        every_group.add(name)
        if name not in groups:
            continue
        wanted.setdefault(gid, name)
        for member in (m.strip() for m in fields[3].split(",")):
            item_id = f"group:{name}:{member}"
            if member and item_id not in found:
                found[item_id] = PrivilegedAccess(
                    AccessKind.AdminGroup, member, f"/etc/group: {name}",
                    {"os": "linux", "group": name, "gid": gid, "via": "member"}, item_id)
    for line in (passwd_text or "").split("\n"):
        fields = line.rstrip("\r").split(":")
        gid = _number(fields[3]) if len(fields) == 7 else None
        if gid is None or gid not in wanted or not fields[0] or fields[0][0] in "+-#":
            continue
        user, name = fields[0], wanted[gid]
        # Revoking a primary group means giving the user another one: their own, made if needed.
        target = "users" if user in groups else user
        item_id = f"group-primary:{name}:{user}"
        found.setdefault(item_id, PrivilegedAccess(
            AccessKind.AdminGroup, user, f"/etc/passwd: primary group {name}",
            {"os": "linux", "group": name, "gid": gid, "via": "primary",
             "new_primary_group": target, "create_group": target not in every_group},
            item_id))
    return list(found.values())


# ----- macOS: dscl -------------------------------------------------------------------------------

def parse_dscl_group_membership(text: str, group: str = "admin") -> list[PrivilegedAccess]:
    """Users named in ``dscl . -read /Groups/<group> GroupMembership`` (values may wrap onto
    lines that start with a space); "No such key: GroupMembership" means no members."""
    members: list[str] | None = None
    gid: int | None = None
    key = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(" "):
            if key == "GroupMembership" and members is not None:
                members += line.split()
            continue
        key, colon, rest = line.partition(":")
        if not colon:
            key = ""
        elif key == "GroupMembership":
            members = (members or []) + rest.split()
        elif key == "PrimaryGroupID":
            gid = _number(rest.strip())
    source = f"dscl: /Groups/{group}"
    if members is None:
        if "No such key: GroupMembership" in text:
            return []
        raise AccessListingError(
            f"dscl's answer for /Groups/{group} has no GroupMembership: "
            f"{shorten(text, 80) or 'nothing'}", source)
    detail: dict[str, Any] = {"os": "macos", "group": group, "attribute": "GroupMembership"}
    if gid is not None:
        detail["gid"] = gid
    return [PrivilegedAccess(AccessKind.AdminGroup, m, source, dict(detail), f"group:{group}:{m}")
            for m in dict.fromkeys(members)]


# ----- Windows: net localgroup and Get-LocalGroupMember ----------------------------------------

def _windows_item(group: str, member: str, source: str, **extra: Any) -> PrivilegedAccess:
    return PrivilegedAccess(AccessKind.AdminGroup, member, source,
                            {"os": "windows", "group": group, **extra},
                            f"group:{group}:{member}")


def parse_net_localgroup(text: str, group: str = "Administrators") -> list[PrivilegedAccess]:
    """Members listed by ``net localgroup <group>``: the lines between the row of dashes and the
    closing "The command completed successfully." (or its translation, a sentence ending in a
    full stop); the group's own name is taken from the header when there is one."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    dashes = next((i for i, line in enumerate(lines) if re.fullmatch(r"-{10,}", line)), None)
    if dashes is None:
        raise AccessListingError(
            f"net localgroup's answer has no member list: "
            f"{shorten(text, 80) or 'nothing'}", f"net localgroup {group}")
    header = next((line for line in lines[:dashes] if line), "")
    label_and_name = re.split(r"\s{2,}", header, maxsplit=1)
    if len(label_and_name) == 2:  # "Alias name     Administrators"
        group = label_and_name[1]
    members = [line for line in lines[dashes + 1:] if line]
    if members and (members[-1].lower().endswith(("completed successfully.", ".", "。"))):
        members.pop()
    source = f"net localgroup {group}"
    return [_windows_item(group, m, source, tool="net localgroup")
            for m in dict.fromkeys(members)]


def parse_localgroup_json(text: str, group: str = "Administrators",
                          computer: str | None = None) -> list[PrivilegedAccess]:
    """Members in ``Get-LocalGroupMember -Group <group> | ConvertTo-Json`` (one object, a list,
    or nothing for no members). A local account's "COMPUTER\\name" becomes "name", as net
    localgroup shows it, when ``computer`` names this machine."""
    source = f"Get-LocalGroupMember {group}"
    payload = load_json(text)
    if payload is None:
        if not text.strip().lstrip("\ufeff").strip():
            return []
        raise AccessListingError(f"{source}: the answer is not JSON", source)
    failed = powershell_error(payload)
    if failed is not None:
        raise AccessListingError(f"{source} failed: {shorten(failed)}", source)
    entries = as_list(payload)
    if not all(isinstance(e, dict) for e in entries):
        raise AccessListingError(f"{source}: the answer is not a list of members", source)
    found: dict[str, PrivilegedAccess] = {}
    for entry in entries:
        name = entry.get("Name")
        if not isinstance(name, str) or not name.strip():
            continue
        origin = entry.get("PrincipalSource")
        if isinstance(origin, int) and not isinstance(origin, bool):
            origin = _PRINCIPAL_SOURCES.get(origin, str(origin))
        sid = entry.get("SID")
        if isinstance(sid, dict):
            sid = sid.get("Value")
        domain, backslash, short = name.strip().partition("\\")
        member = short if backslash and computer and domain.lower() == computer.lower() else name
        extra = {"name": name, "object_class": entry.get("ObjectClass"),
                 "principal_source": origin if isinstance(origin, str) else None,
                 "sid": sid if isinstance(sid, str) else None}
        item = _windows_item(group, member, source, tool="Get-LocalGroupMember", **extra)
        found.setdefault(item.item_id, item)
    return list(found.values())


# ----- OpenSSH authorized_keys -----------------------------------------------------------------

def fingerprint(blob: bytes) -> str:
    """The key's fingerprint as ``ssh-keygen -lf`` prints it (SHA256, unpadded base64)."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _past_options(line: str) -> int | None:
    """Where the options end (sshd's rule: a space or tab outside double quotes; \\" is
    escaped), or None if a quote is never closed."""
    quoted, i = False, 0
    while i < len(line) and (quoted or line[i] not in " \t"):
        if line[i] == "\\" and line[i + 1:i + 2] == '"':
            i += 1
        elif line[i] == '"':
            quoted = not quoted
        i += 1
    return None if quoted else i


def _words(text: str) -> tuple[str, str, str]:
    """Key type, base64 key and comment of the part of a line after the options."""
    parts = re.split(r"[ \t]+", text.strip(" \t"), maxsplit=2)
    parts += [""] * (3 - len(parts))
    return parts[0], parts[1], parts[2].rstrip()


def _check_blob(key_type: str, key: str) -> tuple[bytes | None, str | None]:
    """The decoded key, or why sshd would refuse it."""
    if not key:
        return None, "no key after the key type"
    try:
        blob = base64.b64decode(key, validate=True)
    except ValueError:
        return None, "the key is not valid base64"
    length = int.from_bytes(blob[:4], "big")
    if len(blob) < 4 or len(blob) < 4 + length:
        return None, "the key data is truncated"
    inner = blob[4:4 + length].decode("utf-8", "replace")
    if inner != key_type:
        return None, f"the key data is a {shorten(inner, 40)!r} key but the line says {key_type}"
    return blob, None


def parse_authorized_keys(text: str, path: str = "~/.ssh/authorized_keys",
                          platform: str = "linux") -> list[PrivilegedAccess]:
    """The keys in an OpenSSH authorized_keys file, one item per key (a key on several lines is
    one item naming them all); a line sshd would refuse is an item with ``detail["malformed"]``.
    ``platform`` "windows" makes the revoking command PowerShell instead of sed."""
    file_name = re.split(r"[\\/]", path)[-1]
    found: dict[str, PrivilegedAccess] = {}
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r").lstrip(" \t")
        if not line or line.startswith("#"):
            continue
        options, rest, why = "", line, None
        if _words(line)[0] not in KEY_TYPES:
            end = _past_options(line)
            if end is None:
                why = "a quoted string in the options is never closed"
            else:
                options, rest = line[:end], line[end:]
                if _words(rest)[0] not in KEY_TYPES:
                    why = "no known key type on the line"
        key_type, key, comment = _words(rest) if why is None else ("", "", "")
        blob = None
        if why is None:
            blob, why = _check_blob(key_type, key)
        detail: dict[str, Any] = {"os": platform, "path": path, "line": number,
                                  "lines": [number]}
        if blob is None:
            digest = hashlib.sha256(line.encode("utf-8", "replace")).hexdigest()[:16]
            item_id = f"ssh:{file_name}:malformed:{digest}"
            detail.update(malformed=why, text=shorten(line, 200))
            principal = comment or f"{file_name} line {number}"
        else:
            fp = fingerprint(blob)
            item_id = f"ssh:{file_name}:{fp}"
            detail.update(type=key_type, fingerprint=fp, key=key, comment=comment,
                          options=options)
            principal = comment or fp
        if item_id in found:  # the same key (or the same bad line) again: one item, both lines
            earlier = found[item_id]
            earlier.detail["lines"].append(number)
            earlier.detail.setdefault("repeats", []).append(
                {"line": number, "options": options, "comment": comment})
            lines = ", ".join(str(n) for n in earlier.detail["lines"])
            found[item_id] = PrivilegedAccess(earlier.kind, earlier.principal,
                                              f"{path} lines {lines}", earlier.detail, item_id)
            continue
        found[item_id] = PrivilegedAccess(AccessKind.SshKey, principal, f"{path} line {number}",
                                          detail, item_id)
    return list(found.values())


# ----- revoking commands -------------------------------------------------------------------------

def _posix_path(path: str) -> str:
    """A path quoted for a POSIX shell, leaving a leading ~/ for the shell to expand."""
    return "~/" + shlex.quote(path[2:]) if path.startswith("~/") else shlex.quote(path)


def _ps_quote(text: str) -> str:
    """A PowerShell single-quoted literal (it also takes the typographic quotes as quotes)."""
    for quote in "'\u2018\u2019\u201a\u201b":
        text = text.replace(quote, quote * 2)
    return f"'{text}'"


def _remove_key_lines(d: dict[str, Any]) -> str:
    """A sed (or PowerShell) command that deletes the key's lines: by the key itself, which is
    base64 and so has no '|' to clash with the delimiter, or for a malformed line by its number
    as listed (so run it before other edits to the file)."""
    path, lines, windows = str(d["path"]), [int(n) for n in d["lines"]], d["os"] == "windows"
    if windows:
        literal = _ps_quote(path)
        keep = (f"$_.ReadCount -notin {','.join(map(str, lines))}" if "malformed" in d
                else f"$_ -notlike {_ps_quote('*' + str(d['key']) + '*')}")
        return (f"(Get-Content -LiteralPath {literal}) | Where-Object {{ {keep} }} | "
                f"Set-Content -LiteralPath {literal}")
    script = (";".join(f"{n}d" for n in lines) if "malformed" in d
              else f"\\|{d['key']}|d")
    return f"sed -i.bak {shlex.quote(script)} {_posix_path(path)}"


_CMD_PLAIN = re.compile(r"[A-Za-z0-9_.@$\\-]+")
_CMD_CANNOT = re.compile(r'["%!\x00-\x1f]')  # cmd expands % and ! even inside double quotes


def _windows_remove(group: str, member: str) -> str:
    """``net localgroup <group> <member> /delete`` quoted for cmd; PowerShell when a name holds
    something cmd cannot carry literally."""
    if _CMD_CANNOT.search(group + member):
        return f"Remove-LocalGroupMember -Group {_ps_quote(group)} -Member {_ps_quote(member)}"

    def cmd(word: str) -> str:
        return word if _CMD_PLAIN.fullmatch(word) else f'"{word}"'

    return f"net localgroup {cmd(group)} {cmd(member)} /delete"
