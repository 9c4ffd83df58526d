"""Durability: acknowledged writes survive kill -9, and so does an interrupted master-key rotation.

SIGKILL ends the process but not the kernel, so these tests prove the ordering (a write is
committed before it is acknowledged; every crash point leaves a state the next unlock accepts or
repairs), not the fsyncs that a power cut would need.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strongroom.app import database as store
from strongroom.app.audit import AnchorStatus, AuditLog
from strongroom.app.errors import VaultTampered
from strongroom.app.header import Header
from strongroom.app.keyslots import unwrap_master_key
from strongroom.app.model import Classification
from strongroom.app.vault import NewSecret, Vault
from strongroom.app.vault.backup import verify_backup

from conftest import PASSPHRASE, make_vault, unlocker
from helpers.crash_child import KnownKek, value_for

CHILD = Path(__file__).parent / "helpers" / "crash_child.py"
ROUNDS = 4


def _child(mode: str, path: Path, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), mode, str(path), *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(PASSPHRASE.encode() + b"\n")
    proc.stdin.close()
    return proc


def _keys_from_header(path: Path) -> tuple[Header, KnownKek, bytes, bytes | None]:
    """The header as the crash left it (it must parse), its KEK, current and pending master key."""
    header = Header.load(path / "header.json")
    (slot,) = header.slots
    kek = unlocker().derive_kek(slot)
    master = unwrap_master_key(kek, slot, header.vault_id)
    assert master is not None, "the header no longer opens with the passphrase"
    assert header.mac_ok(master), "the header's MAC does not verify after the crash"
    pending = None
    if slot.wrapped_next is not None:
        pending = unwrap_master_key(kek, slot, header.vault_id, slot.wrapped_next)
        assert pending is not None
    return header, KnownKek(kek), master, pending


def test_acknowledged_adds_survive_kill_9(tmp_path: Path) -> None:
    seed = random.randrange(2**32)  # noqa: S311 - chooses kill points, not keys
    rng = random.Random(seed)  # noqa: S311
    path = tmp_path / "vault"
    make_vault(path).lock()
    acked: list[str] = []
    for round_no in range(ROUNDS):
        kill_after = rng.randint(5, 40)
        proc = _child("add-loop", path, f"r{round_no}")
        assert proc.stdout is not None
        this_round: list[str] = []
        while len(this_round) < kill_after:
            line = proc.stdout.readline()
            assert line.endswith(b"\n"), f"child ended early: {proc.stderr.read()!r}"  # type: ignore[union-attr]
            this_round.append(line.decode().strip())
        # Kill at once (mid-way through the next add, usually) or a little later.
        time.sleep(rng.choice((0.0, rng.uniform(0, 0.01))))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        # Lines the child completed before it died are acknowledgements too.
        this_round += [ln.decode().strip() for ln in proc.stdout.read().splitlines(keepends=True)
                       if ln.endswith(b"\n")]
        proc.stdout.close()
        proc.stderr.close()  # type: ignore[union-attr]
        acked += this_round
        context = f"seed {seed}, round {round_no}, killed after {kill_after} acks"

        # The state the crash left: header parses and opens, the audit chain is intact and at
        # or ahead of the header's anchor (an interrupted write between commit and header).
        header, kek, master, pending = _keys_from_header(path)
        assert pending is None, context
        conn = store.connect(path / "vault.db", master)
        try:
            report = AuditLog(conn, header.vault_id).verify(header.anchor)
        finally:
            conn.close()
        assert report.ok, f"{context}: {report.reason}"
        assert report.anchor in (AnchorStatus.Match, AnchorStatus.ChainAhead), context

        # Through the public API: every acknowledged secret is there, with its exact value.
        with Vault.open(path) as vault:
            vault.unlock(kek)
            assert vault.integrity_check() == [], context
            names = {s.name for s in vault.list_secrets()}
            missing = sorted(set(acked) - names)
            assert not missing, f"{context}: acknowledged but lost: {missing}"
            for name in this_round:
                assert vault.get_secret(name) == value_for(name), f"{context}: {name}"
            after = vault.audit_verify()
            assert after.ok and after.anchor is AnchorStatus.Match, f"{context}: {after.reason}"


SECRETS = {
    "crit": (b"critical value \x00\x01", Classification.Critical),
    "mod": (b"moderate value\n", Classification.Moderate),
    "pub": (b"public value", Classification.Public),
}


@pytest.mark.parametrize(
    ("mode", "db_key"),
    [
        ("kill-before-rekey", "old"),
        ("kill-after-rekey", "new"),
        ("kill-before-header", "new"),
    ],
)
def test_crash_during_master_key_rotation_leaves_an_openable_vault(
    tmp_path: Path, mode: str, db_key: str
) -> None:
    path = tmp_path / "vault"
    with make_vault(path) as vault:
        for name, (value, level) in SECRETS.items():
            vault.add_secret(NewSecret(name=name, value=value, classification=level))
    wrapped_before = json.loads((path / "header.json").read_text())["slots"][0]["wrapped"]

    proc = _child(mode, path)
    assert proc.stdout is not None and proc.stderr is not None
    proc.wait(timeout=60)
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"the child did not crash: {err!r}"

    # The crash left the header holding both keys, and the database under the one expected.
    header, kek, old, new = _keys_from_header(path)
    assert new is not None, "the header does not record the rotation in flight"
    assert header.slots[0].wrapped.ciphertext != b"" and new != old
    opens, refuses = (old, new) if db_key == "old" else (new, old)
    store.connect(path / "vault.db", opens).close()
    with pytest.raises(VaultTampered):
        store.connect(path / "vault.db", refuses)
    autos = sorted((path / "backups").glob("auto-*-rekey.srbk"))
    assert len(autos) == 1, "no automatic backup was taken before the rekey"

    # The next unlock completes (database already rekeyed) or abandons (not yet) the rotation.
    with Vault.open(path) as vault:
        vault.unlock(kek)
        for name, (value, _) in SECRETS.items():
            assert vault.get_secret(name) == value
        assert vault.integrity_check() == []
        report = vault.audit_verify()
        assert report.ok and report.anchor is AnchorStatus.Match, report.reason
        rekeys = [e.details for e in vault.audit_events(action="vault.rekey")]
    final = json.loads((path / "header.json").read_text())["slots"][0]
    assert "next_wrapped" not in final
    if db_key == "old":
        assert rekeys == [{"abandoned": True}]
        assert final["wrapped"] == wrapped_before
    else:
        # Newest first: the recovery's event, then (if it committed) the interrupted one's.
        expected = [{"recovered": True}]
        if mode == "kill-before-header":
            expected.append({"recovered": False})
        assert rekeys == expected
        assert final["wrapped"] != wrapped_before

    # Recovery left a consistent vault: it opens again, and the pre-rotation backup is sound.
    with Vault.open(path) as vault:
        vault.unlock(kek)
        assert vault.get_secret("crit") == SECRETS["crit"][0]
    assert verify_backup(autos[0], kek).counts["secrets"] == len(SECRETS)
    assert not [p for p in path.iterdir() if p.name.startswith(".backup-")]
    assert os.listdir(path / "backups") == [autos[0].name]


@pytest.mark.parametrize("mode, revoked", [("kill-during-revoke", False),
                                           ("kill-after-revoke", True)])
def test_a_crash_in_the_middle_of_a_revocation_leaves_the_old_state_or_the_new(
        tmp_path: Path, mode: str, revoked: bool) -> None:
    """Revoking bob's High grant re-encrypts the High values under a new key in the same
    transaction: killed half-way, nothing changed; killed after the commit, it is all done (and
    unlock accepts the header's anchor one write behind)."""
    from strongroom.app.access import access_changes, custody, operator_admin
    from strongroom.app.access.grants import Scope

    path = tmp_path / "vault"
    with make_vault(path) as vault:
        for name, (value, level) in SECRETS.items():
            vault.add_secret(NewSecret(name=name, value=value, classification=level))
        for i in range(3):
            vault.add_secret(NewSecret(name=f"hi-{i}", value=b"high %d" % i,
                                       classification=Classification.High))
        operator_admin.add_operator(vault, "bob", b"bob passphrase 123", roles=["Custodian"],
                                    kdf_time_ms=10)
        grant = access_changes.add_grant(vault, "bob", Scope.parse("level:high"), "read",
                                         justification="crash test")
    proc = _child(mode, path, str(grant.id))
    assert proc.stdout is not None and proc.stderr is not None
    proc.wait(timeout=60)
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, f"the child did not crash: {err!r}"

    with Vault.open(path) as vault:
        vault.unlock(unlocker())
        bob = vault.header.operator_named("bob")
        assert bob is not None
        assert vault._deks.current_generation("high") == (2 if revoked else 1)
        assert custody.holds(vault._conn, bob.id, "high") is not revoked
        live = [g.id for g, _ in access_changes.list_grants(vault, operator="bob")]
        assert (grant.id in live) is not revoked
        for name, (value, level) in SECRETS.items():
            if level is not Classification.Critical:  # (a Critical reveal needs bob's approval)
                assert vault.get_secret(name) == value
        for i in range(3):
            assert vault.get_secret(f"hi-{i}") == b"high %d" % i
        assert vault.audit_verify().ok
