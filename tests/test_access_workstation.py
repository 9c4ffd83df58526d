"""This workstation's privileged access: the parsers on recorded output, the revoking commands
exactly (and run for real where they can be: sed on a copy of an authorized_keys file), the
collector on this Linux machine and with recorded macOS and Windows answers.

The keys in tests/fixtures/workstation/authorized_keys were made once with ssh-keygen (the
security-key ones built from real ed25519/P-256 points in the sk wire format, then checked with
ssh-keygen); authorized_keys*.ssh-keygen-lf is what ``ssh-keygen -lf`` printed for them.
"""

from __future__ import annotations

import base64
import dataclasses
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.app.access import workstation as ws
from strongroom.app.access.workstation import (
    AccessKind,
    AccessListingError,
    PrivilegedAccess,
    collect,
    parse_authorized_keys,
    parse_dscl_group_membership,
    parse_etc_group,
    parse_localgroup_json,
    parse_net_localgroup,
)
from strongroom.app.compliance.model import CommandEvidence
from strongroom.app.errors import StrongroomError

F = Path(__file__).parent / "fixtures" / "workstation"
FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
HOSTILE = "a'b; rm -rf ~"
QUOTED_HOSTILE = "'a'\"'\"'b; rm -rf ~'"


def fixture(name: str) -> str:
    return (F / name).read_bytes().decode("utf-8")  # keep the recorded CRLFs


def one_sentence(error: StrongroomError) -> str:
    text = str(error)
    assert text and "\n" not in text and len(text) < 600, text
    return text


def by_id(items: list[PrivilegedAccess]) -> dict[str, PrivilegedAccess]:
    ids = [i.item_id for i in items]
    assert len(ids) == len(set(ids)), ids
    return {i.item_id: i for i in items}


# ----- Linux: /etc/group and /etc/passwd --------------------------------------------------------


def test_etc_group_lists_members_then_primary_groups_and_skips_malformed_lines() -> None:
    items = parse_etc_group(fixture("etc_group"), passwd_text=fixture("etc_passwd"))
    assert [(i.item_id, i.source) for i in items] == [
        ("group:sudo:alice", "/etc/group: sudo"),
        ("group:sudo:bob", "/etc/group: sudo"),
        ("group:sudo:carol", "/etc/group: sudo"),
        (f"group:wheel:{HOSTILE}", "/etc/group: wheel"),
        ("group:admin:dave", "/etc/group: admin"),
        ("group-primary:sudo:carol", "/etc/passwd: primary group sudo"),
        ("group-primary:wheel:erin", "/etc/passwd: primary group wheel"),
        (f"group-primary:admin:{HOSTILE}", "/etc/passwd: primary group admin"),
    ]
    assert all(i.kind is AccessKind.AdminGroup and i.kind == "admin-group" for i in items)
    assert items[0].detail == {"os": "linux", "group": "sudo", "gid": 27, "via": "member"}
    assert items[5].detail == {"os": "linux", "group": "sudo", "gid": 27, "via": "primary",
                               "new_primary_group": "carol", "create_group": True}


def test_etc_group_remediations_are_exact_and_quote_a_hostile_name() -> None:
    items = by_id(parse_etc_group(fixture("etc_group"), passwd_text=fixture("etc_passwd")))
    assert items["group:sudo:alice"].remediation == "sudo gpasswd -d alice sudo"
    assert items["group:admin:dave"].remediation == "sudo gpasswd -d dave admin"
    hostile = items[f"group:wheel:{HOSTILE}"].remediation
    assert hostile == f"sudo gpasswd -d {QUOTED_HOSTILE} wheel"
    assert shlex.split(hostile) == ["sudo", "gpasswd", "-d", HOSTILE, "wheel"]
    assert items["group-primary:wheel:erin"].remediation == (
        "sudo groupadd erin && sudo usermod -g erin erin")
    assert items[f"group-primary:admin:{HOSTILE}"].remediation == (
        f"sudo groupadd {QUOTED_HOSTILE} && sudo usermod -g {QUOTED_HOSTILE} {QUOTED_HOSTILE}")


def test_a_primary_group_move_uses_an_existing_own_group_without_creating_it() -> None:
    group = "sudo:x:27:\nalice:x:1000:\nusers:x:100:\n"
    passwd = ("alice:x:1000:27:Alice:/home/alice:/bin/bash\n"
              "sudo:x:1001:27:a user named like the group:/home/sudo:/bin/sh\n")
    items = parse_etc_group(group, passwd_text=passwd)
    assert [i.remediation for i in items] == ["sudo usermod -g alice alice",
                                              "sudo usermod -g users sudo"]


def test_etc_group_only_the_groups_asked_for_and_no_passwd_means_no_primaries() -> None:
    items = parse_etc_group(fixture("etc_group"), groups=("adm",))
    assert [i.item_id for i in items] == ["group:adm:syslog", "group:adm:alice"]
    assert parse_etc_group("", passwd_text="") == []


# ----- macOS: dscl --------------------------------------------------------------------------


def test_dscl_one_line_wrapped_and_full_record() -> None:
    assert [i.principal for i in parse_dscl_group_membership(fixture("dscl_admin"))] == [
        "root", "alice", "bob"]
    wrapped = parse_dscl_group_membership(fixture("dscl_admin_wrapped"))
    assert [i.principal for i in wrapped] == [
        "root", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
        "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor",
        "walter"]
    full = parse_dscl_group_membership(fixture("dscl_admin_full"))
    assert [(i.item_id, i.source) for i in full] == [("group:admin:root", "dscl: /Groups/admin"),
                                                     ("group:admin:alice", "dscl: /Groups/admin")]
    assert full[1].detail == {"os": "macos", "group": "admin", "attribute": "GroupMembership",
                              "gid": 80}
    assert full[1].remediation == "sudo dseditgroup -o edit -d alice -t user admin"


def test_dscl_no_such_key_is_no_members_and_a_dscl_error_is_refused() -> None:
    assert parse_dscl_group_membership(fixture("dscl_no_such_key")) == []
    assert [i.principal for i in parse_dscl_group_membership("GroupMembership: root al root")] == [
        "root", "al"]
    with pytest.raises(AccessListingError) as info:
        parse_dscl_group_membership(fixture("dscl_record_not_found"))
    assert one_sentence(info.value) == (
        "dscl's answer for /Groups/admin has no GroupMembership: "
        "<dscl_cmd> DS Error: -14136 (eDSRecordNotFound)")
    assert info.value.source == "dscl: /Groups/admin"


def test_dscl_remediation_quotes_for_the_shell() -> None:
    (item,) = parse_dscl_group_membership("GroupMembership: o'brien;reboot\n")
    assert item.remediation == "sudo dseditgroup -o edit -d 'o'\"'\"'brien;reboot' -t user admin"
    assert shlex.split(item.remediation)[5] == "o'brien;reboot"


# ----- Windows: net localgroup and Get-LocalGroupMember ---------------------------------------


def test_net_localgroup_members_with_domains_and_spaces() -> None:
    items = parse_net_localgroup(fixture("net_localgroup_administrators"))
    assert [(i.principal, i.remediation) for i in items] == [
        ("Administrator", "net localgroup Administrators Administrator /delete"),
        ("CONTOSO\\Domain Admins",
         'net localgroup Administrators "CONTOSO\\Domain Admins" /delete'),
        ("CONTOSO\\jdoe", "net localgroup Administrators CONTOSO\\jdoe /delete"),
        ("AzureAD\\Jane Q. Public",
         'net localgroup Administrators "AzureAD\\Jane Q. Public" /delete'),
        ("Some User", 'net localgroup Administrators "Some User" /delete'),
        ("S-1-12-1-1234567890-1234567890-1234567890-1234567890",
         "net localgroup Administrators S-1-12-1-1234567890-1234567890-1234567890-1234567890"
         " /delete"),
    ]
    assert items[1].item_id == "group:Administrators:CONTOSO\\Domain Admins"
    assert items[1].source == "net localgroup Administrators"
    assert items[1].detail == {"os": "windows", "group": "Administrators",
                               "tool": "net localgroup"}


def test_net_localgroup_in_german_takes_the_group_name_from_the_header() -> None:
    items = parse_net_localgroup(fixture("net_localgroup_administratoren_de"))
    assert [(i.item_id, i.remediation) for i in items] == [
        ("group:Administratoren:Administrator",
         "net localgroup Administratoren Administrator /delete"),
        ("group:Administratoren:lokaler Admin",
         'net localgroup Administratoren "lokaler Admin" /delete'),
    ]


def test_net_localgroup_error_output_is_refused() -> None:
    with pytest.raises(AccessListingError) as info:
        parse_net_localgroup(fixture("net_localgroup_error"))
    assert one_sentence(info.value) == (
        "net localgroup's answer has no member list: System error 1376 has occurred. The "
        "specified local group does not exist.")


def test_localgroup_json_list_as_windows_powershell_writes_it() -> None:
    items = parse_localgroup_json(fixture("localgroup_list.json"), computer="ws-042")
    assert [(i.principal, i.detail["principal_source"], i.detail["sid"]) for i in items] == [
        ("Administrator", "Local", "S-1-5-21-1004336348-1177238915-682003330-500"),
        ("CONTOSO\\Domain Admins", "ActiveDirectory",
         "S-1-5-21-3623811015-3361044348-30300820-512"),
        ("AzureAD\\Jane Q. Public", "AzureAD",
         "S-1-12-1-1234567890-1234567890-1234567890-1234567890"),
        ("Some User", "Local", "S-1-5-21-1004336348-1177238915-682003330-1002"),
        ("no principal source or class", None, None),
    ]
    assert items[1].detail == {
        "os": "windows", "group": "Administrators", "tool": "Get-LocalGroupMember",
        "name": "CONTOSO\\Domain Admins", "object_class": "Group",
        "principal_source": "ActiveDirectory",
        "sid": "S-1-5-21-3623811015-3361044348-30300820-512"}
    assert items[3].remediation == 'net localgroup Administrators "Some User" /delete'
    # the same members get the same ids from either tool
    net = {i.item_id for i in parse_net_localgroup(fixture("net_localgroup_administrators"))}
    assert {i.item_id for i in items[:4]} <= net
    # without the computer's name, a local account keeps its prefix
    assert parse_localgroup_json(fixture("localgroup_list.json"))[0].principal == (
        "WS-042\\Administrator")


def test_localgroup_json_single_object_with_bom_empty_and_failures() -> None:
    (alice,) = parse_localgroup_json(fixture("localgroup_single.json"), computer="WS-042")
    assert (alice.item_id, alice.detail["sid"], alice.remediation) == (
        "group:Administrators:alice", "S-1-5-21-1004336348-1177238915-682003330-1001",
        "net localgroup Administrators alice /delete")
    assert parse_localgroup_json("") == parse_localgroup_json("\ufeff\r\n") == []
    twice = '[{"Name": "WS-042\\\\a"}, {"Name": "a"}]'  # one member, named both ways
    assert len(parse_localgroup_json(twice, "G", "ws-042")) == 1
    for text, says in [
        (fixture("localgroup_error.json"),
         "Get-LocalGroupMember Administrators failed: Failed to compare two elements in the "
         "array."),
        ("Get-LocalGroupMember : Group Administrators was not found.",
         "Get-LocalGroupMember Administrators: the answer is not JSON"),
        ('["x", 1]', "Get-LocalGroupMember Administrators: the answer is not a list of members"),
    ]:
        with pytest.raises(AccessListingError) as info:
            parse_localgroup_json(text)
        assert one_sentence(info.value) == says


def test_windows_names_cmd_cannot_carry_get_a_powershell_command() -> None:
    text = ('[{"Name": "WS\\\\50%off"}, {"Name": "it\'s\\nme"}, {"Name": "tab\\there & co"}, '
            '{"Name": "O\u2019Neil 100%"}]')
    assert [i.remediation for i in parse_localgroup_json(text)] == [
        "Remove-LocalGroupMember -Group 'Administrators' -Member 'WS\\50%off'",
        "Remove-LocalGroupMember -Group 'Administrators' -Member 'it''s\nme'",
        "Remove-LocalGroupMember -Group 'Administrators' -Member 'tab\there & co'",
        "Remove-LocalGroupMember -Group 'Administrators' -Member 'O\u2019\u2019Neil 100%'",
    ]
    (amp,) = parse_localgroup_json('{"Name": "R&D (admins)"}')
    assert amp.remediation == 'net localgroup Administrators "R&D (admins)" /delete'


# ----- authorized_keys ------------------------------------------------------------------------


def recorded_fingerprints(name: str) -> list[str]:
    # split on "\n" only: ssh-keygen keeps a CRLF file's "\r" in the comment it prints
    return [line.split()[1] for line in fixture(name).split("\n") if line]


def keys_in_line_order(items: list[PrivilegedAccess]) -> list[str]:
    pairs = [(n, i.detail["fingerprint"]) for i in items if "malformed" not in i.detail
             for n in i.detail["lines"]]
    return [fp for _n, fp in sorted(pairs)]


def test_authorized_keys_fingerprints_match_ssh_keygen() -> None:
    items = parse_authorized_keys(fixture("authorized_keys"))
    assert keys_in_line_order(items) == recorded_fingerprints("authorized_keys.ssh-keygen-lf")
    two = parse_authorized_keys(fixture("authorized_keys2"), "~/.ssh/authorized_keys2")
    assert keys_in_line_order(two) == recorded_fingerprints("authorized_keys2.ssh-keygen-lf")
    assert two[0].principal == "old-laptop" and two[0].detail["options"] == 'from="192.0.2.*"'
    assert two[0].item_id == (
        "ssh:authorized_keys2:SHA256:i9A5y9uf9rvx0F0K1PDKS4IfTGCBQH0tlwXKA+XgCE8")


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen is not installed")
def test_the_recorded_fingerprints_are_what_this_ssh_keygen_prints() -> None:
    for name in ("authorized_keys", "authorized_keys2"):
        proc = subprocess.run(["ssh-keygen", "-lf", str(F / name)], capture_output=True,
                              check=True)
        printed = proc.stdout.decode().split("\n")
        assert [line.split()[1] for line in printed if line] == (
            recorded_fingerprints(f"{name}.ssh-keygen-lf"))


def test_authorized_keys_types_options_comments_and_lines() -> None:
    items = parse_authorized_keys(fixture("authorized_keys"))
    keys = [(i.source, i.principal, i.detail["type"], i.detail["options"]) for i in items
            if "malformed" not in i.detail]
    fp384 = "SHA256:4tW5vNw3xBSe/5L5/xklTkh3fBC6MgN1rNDsuq3I29k"
    assert keys == [
        ("~/.ssh/authorized_keys lines 3, 12", "alice@laptop", "ssh-ed25519", ""),
        ("~/.ssh/authorized_keys line 4", "ops backup key", "ssh-rsa",
         'command="echo hi, there",no-pty,from="10.0.0.0/8"'),
        ("~/.ssh/authorized_keys line 5", "rsync@backup", "ecdsa-sha2-nistp256",
         'restrict,command="/usr/bin/rsync --server \\"quoted\\" ."'),
        ("~/.ssh/authorized_keys line 6", fp384, "ecdsa-sha2-nistp384", ""),
        ("~/.ssh/authorized_keys line 7", "indented-521", "ecdsa-sha2-nistp521", ""),
        ("~/.ssh/authorized_keys line 8", "yubikey-5c", "sk-ssh-ed25519@openssh.com",
         "no-touch-required"),
        ("~/.ssh/authorized_keys line 9", "fixture-sk-ecdsa",
         "sk-ecdsa-sha2-nistp256@openssh.com", 'verify-required,expiry-time="20301231"'),
        ("~/.ssh/authorized_keys line 10", "legacy dsa key", "ssh-dss", ""),
        ("~/.ssh/authorized_keys line 19", "escaped-quote", "ssh-ed25519",
         'command="echo \\"hi there",no-pty'),
    ]
    assert all(i.kind is AccessKind.SshKey for i in items)
    ed = items[0]
    assert ed.item_id == "ssh:authorized_keys:SHA256:nhBr+jZkmwAETxwMpeYxXoI84vVBF8PvLGbVdfo4lqo"
    assert ed.detail["line"] == 3 and ed.detail["lines"] == [3, 12]
    assert ed.detail["repeats"] == [
        {"line": 12, "options": "", "comment": "alice again\twith tabs"}]
    assert ed.detail["key"] == fixture("authorized_keys").splitlines()[2].split()[1]


def test_authorized_keys_malformed_lines_are_reported_not_dropped() -> None:
    items = parse_authorized_keys(fixture("authorized_keys"))
    bad = [(i.detail["line"], i.principal, i.detail["malformed"]) for i in items
           if "malformed" in i.detail]
    assert bad == [
        (13, "broken-base64", "the key is not valid base64"),
        (14, "mislabelled-ed25519",
         "the key data is a 'ssh-ed25519' key but the line says ssh-rsa"),
        (15, "authorized_keys line 15", "no known key type on the line"),
        (16, "truncated", "the key data is truncated"),
        (17, "authorized_keys line 17", "a quoted string in the options is never closed"),
        (18, "authorized_keys line 18", "no key after the key type"),
    ]
    line17 = next(i for i in items if i.detail.get("line") == 17)
    assert line17.item_id.startswith("ssh:authorized_keys:malformed:")
    assert line17.detail["text"].startswith('command="never closed ssh-ed25519 AAAA')
    assert line17.remediation == "sed -i.bak 17d ~/.ssh/authorized_keys"


def test_authorized_keys_remediation_is_exact() -> None:
    items = by_id(parse_authorized_keys(fixture("authorized_keys")))
    rsa = items["ssh:authorized_keys:SHA256:0WrCCMigWskGt8anZUODnUUqrsmgJrRBiReu4wHrLAY"]
    blob = rsa.detail["key"]
    assert "/" in blob and "+" in blob
    assert rsa.remediation == f"sed -i.bak '\\|{blob}|d' ~/.ssh/authorized_keys"
    odd = parse_authorized_keys(fixture("authorized_keys2"), f"/home/{HOSTILE}/.ssh/ak")[0]
    assert odd.remediation == (
        f"sed -i.bak '\\|{odd.detail['key']}|d' '/home/a'\"'\"'b; rm -rf ~/.ssh/ak'")
    win = parse_authorized_keys(fixture("authorized_keys2"),
                                "C:\\Users\\O'Neil\\.ssh\\authorized_keys", "windows")[0]
    assert win.remediation == (
        "(Get-Content -LiteralPath 'C:\\Users\\O''Neil\\.ssh\\authorized_keys') | Where-Object "
        f"{{ $_ -notlike '*{win.detail['key']}*' }} | Set-Content -LiteralPath "
        "'C:\\Users\\O''Neil\\.ssh\\authorized_keys'")
    bad = parse_authorized_keys("junk\njunk\n", "C:\\k", "windows")[0]
    assert bad.remediation == ("(Get-Content -LiteralPath 'C:\\k') | Where-Object "
                               "{ $_.ReadCount -notin 1,2 } | Set-Content -LiteralPath 'C:\\k'")
    assert parse_authorized_keys("junk\njunk\n")[0].remediation == (
        "sed -i.bak '1d;2d' ~/.ssh/authorized_keys")


@pytest.mark.skipif(shutil.which("sed") is None or shutil.which("sh") is None,
                    reason="needs sed and sh")
def test_the_sed_remediation_removes_exactly_that_key_when_run(tmp_path: Path) -> None:
    """Run the printed command in a real shell on a copy, with HOME pointing at the copy."""
    (tmp_path / ".ssh").mkdir()
    target = tmp_path / ".ssh" / "authorized_keys"
    shutil.copy(F / "authorized_keys", target)
    before = by_id(parse_authorized_keys(target.read_text()))
    rsa_id = "ssh:authorized_keys:SHA256:0WrCCMigWskGt8anZUODnUUqrsmgJrRBiReu4wHrLAY"
    env = {**os.environ, "HOME": str(tmp_path)}
    subprocess.run(["sh", "-c", before[rsa_id].remediation], env=env, check=True)
    after = by_id(parse_authorized_keys(target.read_text()))
    assert set(before) - set(after) == {rsa_id} and set(after) <= set(before)
    assert (tmp_path / ".ssh" / "authorized_keys.bak").read_text() == fixture("authorized_keys")
    # a key on two lines goes from both; a malformed line goes by its number
    ed_id = "ssh:authorized_keys:SHA256:nhBr+jZkmwAETxwMpeYxXoI84vVBF8PvLGbVdfo4lqo"
    subprocess.run(["sh", "-c", after[ed_id].remediation], env=env, check=True)
    assert ed_id not in by_id(parse_authorized_keys(target.read_text()))
    assert "AAAAC3NzaC1lZDI1NTE5AAAAIOhv+kZgIZmm4YYXNesgxhkD7Y9b4C9vzGibzwaGrlSc" not in (
        target.read_text())
    lines = target.read_text().split("\n")
    truncated = next(i for i in parse_authorized_keys(target.read_text())
                     if i.detail.get("malformed") == "the key data is truncated")
    subprocess.run(["sh", "-c", truncated.remediation], env=env, check=True)
    del lines[truncated.detail["line"] - 1]
    assert target.read_text().split("\n") == lines


def test_a_blob_that_only_looks_like_base64_or_carries_another_type() -> None:
    blob = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + b"\x00" * 36).decode()
    (ok,) = parse_authorized_keys(f"ssh-ed25519 {blob}")
    assert ok.principal == ok.detail["fingerprint"] and "malformed" not in ok.detail
    (cert,) = parse_authorized_keys(f"ssh-ed25519-cert-v01@openssh.com {blob} c")
    assert cert.detail["malformed"] == (
        "the key data is a 'ssh-ed25519' key but the line says ssh-ed25519-cert-v01@openssh.com")
    (unpadded,) = parse_authorized_keys(f"ssh-ed25519 {blob.rstrip('=')}A c")
    assert unpadded.detail["malformed"] == "the key is not valid base64"
    (nonascii,) = parse_authorized_keys("ssh-ed25519 AAAAé c")
    assert nonascii.detail["malformed"] == "the key is not valid base64"


def test_privileged_access_is_frozen_and_hashable() -> None:
    (item,) = parse_dscl_group_membership("GroupMembership: root")
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.principal = "someone else"  # type: ignore[misc]
    assert {item, item} == {item}


# ----- the collector ---------------------------------------------------------------------------


def test_collect_on_this_linux_machine_matches_the_system_group_database(
        tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads this Linux machine's /etc/group")
    items = collect("linux", home=tmp_path)  # an empty home: no keys
    members = {(g.gr_name, m) for g in grp.getgrall() if g.gr_name in ws.ADMIN_GROUPS
               for m in g.gr_mem}
    gids = {g.gr_gid: g.gr_name for g in grp.getgrall() if g.gr_name in ws.ADMIN_GROUPS}
    primaries = {(gids[p.pw_gid], p.pw_name) for p in pwd.getpwall() if p.pw_gid in gids}
    assert {(i.detail["group"], i.principal) for i in items
            if i.detail["via"] == "member"} == members
    assert {(i.detail["group"], i.principal) for i in items
            if i.detail["via"] == "primary"} == primaries
    assert all(i.kind is AccessKind.AdminGroup for i in items)
    assert collect(home=tmp_path) == items  # this machine is Linux


def test_collect_reads_both_authorized_keys_files_from_home(tmp_path: Path) -> None:
    (tmp_path / ".ssh").mkdir()
    shutil.copy(F / "authorized_keys", tmp_path / ".ssh" / "authorized_keys")
    shutil.copy(F / "authorized_keys2", tmp_path / ".ssh" / "authorized_keys2")
    keys = [i for i in collect("linux", home=tmp_path) if i.kind is AccessKind.SshKey]
    path = tmp_path / ".ssh" / "authorized_keys"
    assert keys[0].source == f"{path} lines 3, 12"
    assert keys[0].remediation == (
        f"sed -i.bak '\\|{keys[0].detail['key']}|d' {shlex.quote(str(path))}")
    assert keys[-1].item_id == (
        "ssh:authorized_keys2:SHA256:i9A5y9uf9rvx0F0K1PDKS4IfTGCBQH0tlwXKA+XgCE8")
    assert len(keys) == 9 + 6 + 1


class Recorded:
    """A runner that answers with recorded output and notes what it was asked."""

    def __init__(self, *answers: CommandEvidence) -> None:
        self.answers = list(answers)
        self.asked: list[tuple[list[str], float]] = []

    def __call__(self, argv: list[str], timeout: float) -> CommandEvidence:
        self.asked.append((argv, timeout))
        return self.answers.pop(0)


def answer(stdout: str = "", code: int | None = 0, error: str | None = None,
           stderr: str = "") -> CommandEvidence:
    return CommandEvidence(("recorded",), code, stdout, stderr, error)


def test_collect_macos_with_recorded_dscl(tmp_path: Path) -> None:
    run = Recorded(answer(fixture("dscl_admin")))
    items = collect("darwin", runner=run, home=tmp_path)
    assert [i.remediation for i in items] == [
        f"sudo dseditgroup -o edit -d {name} -t user admin" for name in ("root", "alice", "bob")]
    assert run.asked == [(["/usr/bin/dscl", ".", "-read", "/Groups/admin", "GroupMembership"],
                          ws.TIMEOUT)]
    # "No such key" on stderr with a non-zero exit is still "no members"
    assert collect("macos", Recorded(answer("", 56, stderr=fixture("dscl_no_such_key"))),
                   tmp_path) == []
    for failed, says in [(answer(error="missing", code=None), "not found"),
                         (answer(error="timeout", code=None), "timed out"),
                         (answer(stderr=fixture("dscl_record_not_found"), code=56),
                          "exit code 56, <dscl_cmd> DS Error: -14136 (eDSRecordNotFound)")]:
        with pytest.raises(AccessListingError) as info:
            collect("macos", Recorded(failed), tmp_path)
        assert one_sentence(info.value) == f"dscl cannot read /Groups/admin: {says}"


def test_collect_macos_keys_are_removed_with_sed(tmp_path: Path) -> None:
    (tmp_path / ".ssh").mkdir()
    shutil.copy(F / "authorized_keys2", tmp_path / ".ssh" / "authorized_keys2")
    items = collect("macos", Recorded(answer(fixture("dscl_no_such_key"))), tmp_path)
    assert [i.remediation.split()[0] for i in items] == ["sed"]


def test_collect_windows_powershell_first_then_net_localgroup(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYSTEMROOT", "C:\\Windows")
    monkeypatch.delenv("PROCESSOR_ARCHITEW6432", raising=False)
    monkeypatch.setenv("COMPUTERNAME", "WS-042")
    run = Recorded(answer(fixture("localgroup_single.json")))
    (alice,) = collect("win32", runner=run, home=tmp_path)
    assert alice.remediation == "net localgroup Administrators alice /delete"
    (argv, timeout), = run.asked
    assert argv[:6] == ["C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                        "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command"]
    assert "Get-LocalGroupMember -SID 'S-1-5-32-544'" in argv[6] and '"' not in argv[6]
    assert timeout == ws.TIMEOUT
    # PowerShell fails on an orphaned member: net localgroup answers instead
    run = Recorded(answer(fixture("localgroup_error.json"), 1),
                   answer(fixture("net_localgroup_administrators")))
    items = collect("windows", runner=run, home=tmp_path)
    assert len(items) == 6 and items[0].detail["tool"] == "net localgroup"
    assert run.asked[1][0] == ["C:\\Windows\\System32\\net.exe", "localgroup", "Administrators"]
    # both fail: one sentence naming both reasons
    run = Recorded(answer(fixture("localgroup_error.json"), 1),
                   answer("", 2, stderr=fixture("net_localgroup_error")))
    with pytest.raises(AccessListingError) as info:
        collect("windows", runner=run, home=tmp_path)
    assert one_sentence(info.value) == (
        "the Administrators group cannot be read (Get-LocalGroupMember: exit code 1, Failed to "
        "compare two elements in the array.; net localgroup: exit code 2, System error 1376 has "
        "occurred. The specified local group does not exist.)")


def test_collect_refuses_an_unknown_platform() -> None:
    with pytest.raises(AccessListingError) as info:
        collect("freebsd14")
    assert one_sentence(info.value) == "listing privileged access is not supported on freebsd14"


# ----- bounded reads and the default runner, for real -------------------------------------


def test_a_file_over_one_mib_is_refused_and_one_mib_is_read(tmp_path: Path) -> None:
    big = tmp_path / "authorized_keys"
    big.write_bytes(b"#" * ws.MAX_FILE_BYTES)
    assert ws.read_bounded(big) == "#" * ws.MAX_FILE_BYTES
    big.write_bytes(b"#" * (ws.MAX_FILE_BYTES + 1))
    with pytest.raises(AccessListingError) as info:
        ws.read_bounded(big)
    assert one_sentence(info.value) == (
        f"{big} is larger than 1024 KiB, so it was not read; review it by hand")
    (tmp_path / ".ssh").mkdir()
    big.rename(tmp_path / ".ssh" / "authorized_keys2")
    with pytest.raises(AccessListingError):
        collect("linux", home=tmp_path)
    assert ws.read_bounded(tmp_path / "nothing") is None


def test_a_fifo_or_a_directory_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "authorized_keys"
    os.mkfifo(fifo)  # opening it blocking would hang with no writer
    with pytest.raises(AccessListingError) as info:
        ws.read_bounded(fifo)
    assert one_sentence(info.value) == f"{fifo} is not a regular file, so it was not read"
    with pytest.raises(AccessListingError):
        ws.read_bounded(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "authorized_keys"
    locked.write_text("ssh-ed25519 AAAA")
    locked.chmod(0)
    with pytest.raises(AccessListingError) as info:
        ws.read_bounded(locked)
    assert one_sentence(info.value) == f"{locked} cannot be read: permission denied"


def test_the_default_runner_runs_without_a_shell_and_reports_failures() -> None:
    echo, sleep = shutil.which("echo"), shutil.which("sleep")
    assert echo and sleep
    done = ws.run_command([echo, "$HOME;", "x"], 5)
    assert (done.ok, done.stdout) == (True, "$HOME; x\n")
    assert ws.run_command(["/nonexistent/tool"], 5).error == "missing"
    slow = ws.run_command([sleep, "5"], 0.2)
    assert (slow.error, slow.exit_code) == ("timeout", None)


# ----- every parser, on arbitrary text: a list, or the documented error -------------------------

FRAGMENTS = st.sampled_from([
    "sudo:x:27:", "wheel:x:10:", "admin:x:80:", ":", ",", "\n", "\r\n", " ", "\t", "#", "+",
    "GroupMembership:", "No such key: GroupMembership", "PrimaryGroupID: 80", "-" * 20,
    "Alias name     Administrators", "The command completed successfully.", "\\", '"',
    "command=\"", "ssh-ed25519", "ssh-rsa", "sk-ssh-ed25519@openssh.com", "AAAA", "AAAAC3NzaC1l",
    "AAAAC3NzaC1lZDI1NTE5AAAAIOhv+kZgIZmm4YYXNesgxhkD7Y9b4C9vzGibzwaGrlSc", "=", "{", "[",
    '{"Name":', '"x"', "}", "]", '"PrincipalSource": 1', "null", "\ufeff", "'", "%", "9" * 12,
])
TEXT = st.one_of(st.text(), st.lists(st.one_of(FRAGMENTS, st.text(max_size=4))).map("".join))


def documented_or_list(parse: object, text: str) -> None:
    try:
        items = parse(text)  # type: ignore[operator]
    except AccessListingError as e:
        one_sentence(e)
        return
    assert isinstance(items, list)
    by_id(items)  # a campaign keys its decisions by id: never two items with one id
    for item in items:
        assert isinstance(item, PrivilegedAccess) and isinstance(item.remediation, str)


@FUZZ
@given(TEXT, TEXT)
def test_fuzz_etc_group(group: str, passwd: str) -> None:
    documented_or_list(lambda t: parse_etc_group(t, passwd_text=passwd), group)


@FUZZ
@given(TEXT)
def test_fuzz_dscl(text: str) -> None:
    documented_or_list(parse_dscl_group_membership, text)


@FUZZ
@given(TEXT)
def test_fuzz_net_localgroup(text: str) -> None:
    documented_or_list(parse_net_localgroup, text)


@FUZZ
@given(st.one_of(TEXT, st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["Name", "SID", "Value", "PrincipalSource", "ObjectClass", "value",
                         "Count", "error", "message"]), inner, max_size=5),
    max_leaves=12).map(json.dumps)))
def test_fuzz_localgroup_json(text: str) -> None:
    documented_or_list(parse_localgroup_json, text)


@FUZZ
@given(TEXT, st.sampled_from(["linux", "macos", "windows"]))
def test_fuzz_authorized_keys(text: str, platform: str) -> None:
    documented_or_list(lambda t: parse_authorized_keys(t, platform=platform), text)


NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=",:\n\r"),
                min_size=1).map(str.strip).filter(bool)


@FUZZ
@given(NAMES)
def test_fuzz_any_member_name_survives_the_shell_quoting(name: str) -> None:
    (item,) = parse_etc_group(f"wheel:x:10:{name}\n")
    assert shlex.split(item.remediation) == ["sudo", "gpasswd", "-d", name, "wheel"]


@FUZZ
@given(NAMES.filter(lambda n: "\\" not in n))
def test_fuzz_any_windows_name_reads_back_from_its_command(name: str) -> None:
    (item,) = parse_localgroup_json(json.dumps({"Name": name}))
    rem = item.remediation
    net = re.fullmatch(r'net localgroup Administrators (.+) /delete', rem, re.DOTALL)
    if net:
        word = net.group(1)
        assert word == name or (word == f'"{name}"' and not re.search(r'["%!\x00-\x1f]', name))
    else:
        prefix = "Remove-LocalGroupMember -Group 'Administrators' -Member '"
        assert rem.startswith(prefix) and rem.endswith("'")
        literal = rem[len(prefix):-1]
        assert re.sub(r"(['\u2018\u2019\u201a\u201b])\1", r"\1", literal) == name
