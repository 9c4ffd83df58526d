"""Operators, grants enforced by keys, the two-person rule: through the app layer, and by opening
the vault files with a non-holder's keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from strongroom.app import database, schemas
from strongroom.app.access import access_changes, approvals, custody, operator_admin, policy
from strongroom.app.access.grants import Scope
from strongroom.app.access.wrapping import WrappedDek, dek_wrap_aad, unwrap_with
from strongroom.app.crypto import DecryptionFailed, unseal
from strongroom.app.errors import (
    AccessDenied,
    AuthenticationFailed,
    NotFound,
    Refused,
    WrongPassphrase,
)
from strongroom.app.keyslots import (
    PassphraseUnlocker,
    normalize_passphrase,
    unwrap_master_key,
    unwrap_operator_key,
)
from strongroom.app.model import Classification
from strongroom.app.unlock_methods import HardwareUnlocker
from strongroom.app.vault import NewSecret, Vault
from strongroom.backends.fido2 import Fido2Source

from conftest import PASSPHRASE, make_vault
from helpers.soft_ctap2 import SoftAuthenticator

BOB, CAROL, DAVE = "bob pass phrase 1", "carol pass phrase 2", "dave pass phrase 3"


def add(vault: Vault, name: str, passphrase: str, *roles: str, **kw: object) -> None:
    operator_admin.add_operator(vault, name, passphrase.encode(), roles=list(roles),
                                kdf_time_ms=10, **kw)  # type: ignore[arg-type]


def as_(path: Path, passphrase: str, operator: str | None = None) -> Vault:
    v = Vault.open(path)
    v.unlock(PassphraseUnlocker.from_text(passphrase), operator=operator)
    return v


@pytest.fixture
def team(tmp_path: Path) -> Path:
    """alice (creator: every role, every level), bob (Custodian, read on High only), and one
    secret at each of Critical, High and Moderate."""
    path = tmp_path / "team"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        v.add_secret(NewSecret("crit", b"critical value", Classification.Critical))
        v.add_secret(NewSecret("hi", b"high value", Classification.High, tags=("ops",)))
        v.add_secret(NewSecret("mod", b"moderate value", Classification.Moderate))
        add(v, "bob", BOB, "Custodian")
        access_changes.add_grant(v, "bob", Scope.parse("level:high"), "read",
                                 justification="on call")
    return path


def denials(v: Vault) -> list[dict[str, object]]:
    return [e.details for e in v.audit_events(action="access.denied")]


# ----- one operator: as before --------------------------------------------------------------------


def test_a_new_vault_has_one_operator_who_can_do_everything_without_prompts(vault: Vault
                                                                            ) -> None:
    [ref] = vault.header.operators
    [slot] = vault.header.slots
    assert slot.operator == ref.id and slot.wrapped_operator is not None
    assert vault.actor == ref.name
    vault.add_secret(NewSecret("c", b"v", Classification.Critical))
    assert vault.get_secret("c") == b"v"  # Critical, no second operator: no approval asked
    vault.delete_secret("c")
    event = vault.audit_events(action="secret.read")[0]
    assert event.actor == ref.name
    assert event.details["two_person"] == "no other operator may approve"
    # The master key wraps no data key: the deks rows hold no wrap of their own.
    rows = vault._conn.execute("SELECT nonce, wrapped FROM deks").fetchall()
    assert rows and all(bytes(n) == b"" and bytes(w) == b"" for n, w in rows)


# ----- grants enforced by checks and by keys ------------------------------------------------------


def test_an_operator_reads_only_what_their_grants_cover_and_each_refusal_is_audited(team: Path
                                                                                   ) -> None:
    with as_(team, BOB, "bob") as bob:
        assert bob.actor == "bob"
        assert bob.get_secret("hi") == b"high value"
        assert [s.name for s in bob.list_secrets()] == ["hi"]
        assert bob.count_secrets() == 1
        with pytest.raises(AccessDenied, match="no read grant on secret 'crit'") as e:
            bob.get_secret("crit")
        assert e.value.exit_code == 6
        with pytest.raises(AccessDenied, match="manage"):
            bob.update_secret("hi", b"changed")
        with pytest.raises(AccessDenied, match="manage"):
            bob.add_secret(NewSecret("new", b"x", Classification.High))
        with pytest.raises(AccessDenied, match="audit log"):
            bob.audit_events()
    with as_(team, PASSPHRASE) as alice:
        refused = [e for e in alice.audit_events(action="access.denied")]
        assert {e.actor for e in refused} == {"bob"}
        assert [e.target for e in refused][::-1] == ["crit", "hi", "new", "read the audit log"]
        assert alice.get_secret("hi") == b"high value"  # nothing was changed or added
        assert [s.name for s in alice.list_secrets()] == ["crit", "hi", "mod"]


def test_a_secret_grant_and_a_tag_grant_reach_only_their_secrets(team: Path) -> None:
    with as_(team, PASSPHRASE) as alice:
        alice.add_secret(NewSecret("hi2", b"other high", Classification.High))
        add(alice, "carol", CAROL, "Custodian")
        access_changes.add_grant(alice, "carol", Scope.parse("tag:ops"), "read",
                                 justification="ops rota")
    with as_(team, CAROL, "carol") as carol:
        assert carol.get_secret("hi") == b"high value"
        assert [s.name for s in carol.list_secrets()] == ["hi"]
        # Holding the High key (for "hi") does not open the other High secret: the check does.
        with pytest.raises(AccessDenied):
            carol.get_secret("hi2")


def test_without_a_grant_on_critical_the_vault_files_do_not_open_its_values(team: Path) -> None:
    """bob's own factor gives the database key and his operator key; with them and the files
    (no Strongroom checks), no Critical value decrypts."""
    from strongroom.app.header import Header
    from strongroom.app.vault import DB_FILE, HEADER_FILE

    header = Header.load(team / HEADER_FILE)
    ref = header.operator_named("bob")
    assert ref is not None
    [slot] = [s for s in header.slots if s.operator == ref.id]
    kek = PassphraseUnlocker.from_text(BOB).derive_kek(slot)
    master = unwrap_master_key(kek, slot, header.vault_id)
    bob_key = unwrap_operator_key(kek, slot, header.vault_id)
    assert master is not None and bob_key is not None
    conn = database.connect(team / DB_FILE, master)
    try:
        wraps = conn.execute("SELECT level, generation, operator_id, ephemeral, nonce, wrapped "
                             "FROM dek_wraps").fetchall()
        assert {r[0] for r in wraps if r[2] == ref.id} == {"high"}
        critical = [r for r in wraps if r[0] == "critical"]
        assert critical
        for level, generation, operator_id, eph, nonce, wrapped in critical:
            for as_operator in (operator_id, ref.id):  # even claiming to be the holder
                with pytest.raises(DecryptionFailed):
                    unwrap_with(bob_key, WrappedDek(bytes(eph), bytes(nonce), bytes(wrapped)),
                                dek_wrap_aad(header.vault_id, level, generation, as_operator))
        [(nonce, wrapped)] = conn.execute(
            "SELECT nonce, wrapped FROM deks WHERE level = 'critical'").fetchall()
        assert bytes(wrapped) == b""  # and no copy under the database key
    finally:
        conn.close()


def test_revoking_a_level_grant_drops_the_wrap_and_rotates_the_level_key(team: Path) -> None:
    with as_(team, BOB, "bob") as bob:
        bob.get_secret("hi")
        old_key = bob._unlocked_keys.deks[("high", 1)]  # what bob could have kept
    with as_(team, PASSPHRASE) as alice:
        [grant] = [g for g, name in access_changes.list_grants(alice, operator="bob")]
        changed = access_changes.revoke_grant(alice, grant.id, reason="left the rota")
        assert changed["levels_dropped"] == ["high"] and changed["levels_rotated"] == ["high"]
        assert alice.get_secret("hi") == b"high value"
        gen = alice._deks.current_generation("high")
        assert gen == 2
        rows = alice._conn.execute(
            "SELECT operator_id FROM dek_wraps WHERE level = 'high'").fetchall()
        assert len(rows) == 1  # alice only, and only the new generation
        from strongroom.app.vault.datakeys import secret_aad

        sid, version, nonce, ct = alice._conn.execute(
            "SELECT v.secret_id, v.version, v.nonce, v.ciphertext FROM versions v "
            "JOIN secrets s ON s.id = v.secret_id WHERE s.name = 'hi'").fetchone()
        with pytest.raises(DecryptionFailed):
            unseal(old_key, bytes(nonce), bytes(ct), secret_aad(sid, version))
        event = alice.audit_events(action="grant.revoke")[0]
        assert event.details["levels_rotated"] == ["high"]
    with as_(team, BOB, "bob") as bob, pytest.raises(AccessDenied):
        bob.get_secret("hi")


def test_a_grantor_who_does_not_hold_a_level_cannot_grant_it(team: Path) -> None:
    with as_(team, PASSPHRASE) as alice:
        add(alice, "carol", CAROL, "Administrator")
    with as_(team, CAROL, "carol") as carol:
        ok = approvals.approve(carol, "access.change", "grant:bob:level:critical", "alice",
                               PassphraseUnlocker.from_text(PASSPHRASE))
        with pytest.raises(AccessDenied, match="no data key for level critical"):
            access_changes.add_grant(carol, "bob", Scope.parse("level:critical"), "read",
                                     justification="x", approval=ok)
        assert [str(g.scope) for g, _ in access_changes.list_grants(carol, operator="bob")] == [
            "level:high"]



@pytest.mark.parametrize("operator, scope, error", [
    ("nobody", "level:high", NotFound),
    ("bob", "secret:missing", NotFound),
    ("bob", "tag:nothing", NotFound),
])
def test_a_bad_grant_is_refused_and_writes_nothing_but_the_refusal(
        team: Path, operator: str, scope: str, error: type[Exception]) -> None:
    with as_(team, PASSPHRASE) as alice:
        before = len(access_changes.list_grants(alice, include_revoked=True))
        with pytest.raises(error):
            access_changes.add_grant(alice, operator, Scope.parse(scope), "read",
                                     justification="x")
        assert len(access_changes.list_grants(alice, include_revoked=True)) == before


# ----- operators: suspend, remove, adoption -------------------------------------------------------


def test_a_suspended_operator_cannot_unlock_and_a_removed_one_loses_slots_and_keys(team: Path
                                                                                  ) -> None:
    with as_(team, PASSPHRASE) as alice:
        operator_admin.set_status(alice, "bob", "suspended")
    with pytest.raises(AuthenticationFailed, match="suspended"):
        as_(team, BOB, "bob")
    with as_(team, PASSPHRASE) as alice:
        assert alice.audit_events(action="vault.unlock", outcome="denied")[0].actor == "bob"
        changed = operator_admin.remove_operator(alice, "bob")
        assert changed["levels_rotated"] == ["high"]
        assert not [s for s in alice.header.slots if s.label.startswith("bob")]
        assert alice.header.operator_named("bob") is None
        with pytest.raises(Refused, match="cannot suspend themselves"):
            operator_admin.set_status(alice, "alice", "suspended")
        with pytest.raises(Refused, match="last active Administrator"):
            operator_admin.set_roles(alice, "alice", ["Custodian"])
    with pytest.raises(NotFound):
        as_(team, BOB, "bob")


def test_an_operator_cannot_remove_the_last_slot_of_another_without_removing_them(team: Path
                                                                                 ) -> None:
    with as_(team, PASSPHRASE) as alice:
        [slot] = [s for s in alice.header.slots if s.label.startswith("bob")]
        with pytest.raises(Refused, match="operator's only keyslot"):
            alice.remove_slot(slot.id)


def test_a_vault_from_before_operators_is_adopted_and_a_second_operator_waits_for_its_slots(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from keyrings.alt.file import PlaintextKeyring

    from strongroom.backends.keyring import KeyringSource

    ring = PlaintextKeyring()
    ring.file_path = str(tmp_path / "keyring" / "keyring_pass.cfg")
    path = tmp_path / "old"
    with monkeypatch.context() as m:
        m.setattr(database, "SCHEMA_VERSION", 3)
        # today's secrets code writes the kind column (schema 6): give the old vault that one
        m.setattr(database, "SCHEMA", database.SCHEMA + schemas.KIND_SCHEMA)
        with make_vault(path) as v:
            v.add_secret(NewSecret("crit", b"old value", Classification.Critical))
            v.add_hardware_slot(KeyringSource(ring), label="keyring")
    with as_(path, PASSPHRASE) as v:
        assert v.get_secret("crit") == b"old value"
        assert len(v.header.operators) == 1
        assert all(s.operator == v.header.operators[0].id for s in v.header.slots)
        with pytest.raises(Refused, match="not been used since the upgrade"):
            add(v, "bob", BOB, "Custodian")
    v = Vault.open(path)
    v.unlock(HardwareUnlocker(KeyringSource(ring), v.vault_id))
    with v:
        assert v.get_secret("crit") == b"old value"
        assert all(s.wrapped_operator is not None for s in v.header.slots)
        add(v, "bob", BOB, "Custodian")


# ----- the two-person rule ------------------------------------------------------------------------


@pytest.fixture
def admins(team: Path) -> Path:
    """team plus carol and dave, Administrators (approvers) with the Critical level."""
    with as_(team, PASSPHRASE) as alice:
        add(alice, "carol", CAROL, "Administrator", "Custodian")
        ok = approvals.approve(alice, "access.change", "operator:dave", "carol",
                               PassphraseUnlocker.from_text(CAROL))
        add(alice, "dave", DAVE, "Administrator", approval=ok)  # carol's approval needed now
    return team


def test_adding_the_second_administrator_made_access_changes_two_person(team: Path) -> None:
    with as_(team, PASSPHRASE) as alice:
        add(alice, "carol", CAROL, "Administrator")
        with pytest.raises(AccessDenied, match=r"two-person operation.*carol"):
            add(alice, "dave", DAVE, "Custodian")
        assert alice.header.operator_named("dave") is None
        ok = approvals.approve(alice, "access.change", "operator:dave", "carol",
                               PassphraseUnlocker.from_text(CAROL))
        add(alice, "dave", DAVE, "Custodian", approval=ok)
        event = alice.audit_events(action="operator.add")[0]
        assert event.details["approval"]["approver"] == "carol"


def test_a_critical_reveal_needs_another_operator_and_an_approval_is_good_once(admins: Path
                                                                               ) -> None:
    with as_(admins, PASSPHRASE) as alice:
        with pytest.raises(AccessDenied, match="Revealing this secret is a two-person"):
            alice.get_secret("crit")
        assert alice.get_secret("hi") == b"high value"  # High is not critical by default
        ok = approvals.approve(alice, "secret.reveal", "crit", "carol",
                               PassphraseUnlocker.from_text(CAROL))
        assert alice.get_secret("crit", approval=ok) == b"critical value"
        with pytest.raises(AccessDenied, match="already used"):
            alice.get_secret("crit", approval=ok)
        other = approvals.approve(alice, "secret.reveal", "crit", "carol",
                                  PassphraseUnlocker.from_text(CAROL))
        alice.add_secret(NewSecret("crit2", b"v2", Classification.Critical))
        with pytest.raises(AccessDenied, match="different operation"):
            alice.get_secret("crit2", approval=other)
        mine = approvals.approve(alice, "secret.reveal", "crit", "alice",
                                 PassphraseUnlocker.from_text(PASSPHRASE))
        with pytest.raises(AccessDenied, match="their own operation"):
            alice.get_secret("crit", approval=mine)
        with pytest.raises(WrongPassphrase):
            approvals.approve(alice, "secret.reveal", "crit", "carol",
                              PassphraseUnlocker.from_text(DAVE))
        [read] = alice.audit_events(action="secret.read", target="crit")
        assert read.details["approval"]["approver"] == "carol"
        refusals = alice.audit_events(action="access.denied", target="crit")
        assert refusals and {e.details["operation"] for e in refusals} == {"secret.reveal"}
        assert read.details["approval"]["digest"] == ok.digest
        whys = [d.get("why") for d in denials(alice)]
        assert {"missing", "replayed", "other-operation", "self-approval"} <= set(whys)


def test_an_approval_by_an_operator_suspended_since_is_refused(admins: Path) -> None:
    with as_(admins, PASSPHRASE) as alice:
        early = approvals.approve(alice, "secret.reveal", "crit", "carol",
                                  PassphraseUnlocker.from_text(CAROL))
        by_dave = approvals.approve(alice, "access.change", "operator:carol", "dave",
                                    PassphraseUnlocker.from_text(DAVE))
        operator_admin.set_status(alice, "carol", "suspended", approval=by_dave)
        with pytest.raises(AccessDenied, match="not an active operator"):
            alice.get_secret("crit", approval=early)


def test_a_security_key_approves_as_its_operator(admins: Path) -> None:
    key = SoftAuthenticator()
    source = Fido2Source(lambda: [key])
    with as_(admins, CAROL, "carol") as carol:
        carol.add_hardware_slot(source, label="carol's key")
    with as_(admins, PASSPHRASE) as alice:
        ok = approvals.approve(alice, "secret.reveal", "crit", "carol",
                               HardwareUnlocker(source, alice.vault_id))
        assert ok.method == "fido2"
        assert alice.get_secret("crit", approval=ok) == b"critical value"
        with pytest.raises(AuthenticationFailed):  # dave has no security key
            approvals.approve(alice, "secret.reveal", "crit", "dave",
                              HardwareUnlocker(source, alice.vault_id))


def test_the_policy_is_data_and_changing_it_is_two_person(admins: Path) -> None:
    with as_(admins, PASSPHRASE) as alice:
        relaxed = policy.Policy(reveal_levels=())
        with pytest.raises(AccessDenied, match="access policy is a two-person"):
            access_changes.set_policy(alice, relaxed)
        ok = approvals.approve(alice, "policy.change", "policy", "dave",
                               PassphraseUnlocker.from_text(DAVE))
        access_changes.set_policy(alice, relaxed, approval=ok)
        assert alice.get_secret("crit") == b"critical value"
        assert alice.audit_events(action="policy.change")[0].details["fields"] == [
            "reveal_levels"]


def test_the_critical_level_key_goes_to_a_second_holder_by_grant(admins: Path) -> None:
    with as_(admins, PASSPHRASE) as alice:
        ok = approvals.approve(alice, "access.change", "grant:carol:level:critical", "dave",
                               PassphraseUnlocker.from_text(DAVE))
        access_changes.add_grant(alice, "carol", Scope.parse("level:critical"), "read",
                                 justification="second custodian", approval=ok)
        assert custody.holds(alice._conn, alice.header.operator_named("carol").id, "critical")
    with as_(admins, BOB, "bob") as bob:  # bob (Custodian) approving an access change: no
        ok = approvals.approve(bob, "access.change", "operator:dave", "carol",
                               PassphraseUnlocker.from_text(CAROL))
    with as_(admins, PASSPHRASE) as alice:
        ok = approvals.approve(alice, "access.change", "operator:dave", "bob",
                               PassphraseUnlocker.from_text(BOB))
        with pytest.raises(AccessDenied, match="may not approve"):
            operator_admin.set_roles(alice, "dave", ["Administrator", "Auditor"], approval=ok)


# ----- dual control: the Critical key split 2-of-N between its holders ----------------------------


@pytest.fixture
def dual(admins: Path) -> Path:
    """admins, with carol a second holder of Critical: its key is now split (default policy)."""
    with as_(admins, PASSPHRASE) as alice:
        ok = approvals.approve(alice, "access.change", "grant:carol:level:critical", "dave",
                               PassphraseUnlocker.from_text(DAVE))
        access_changes.add_grant(alice, "carol", Scope.parse("level:critical"), "read",
                                 justification="second custodian", approval=ok)
    return admins


def test_under_dual_control_a_critical_value_needs_both_holders(dual: Path) -> None:
    with as_(dual, PASSPHRASE) as alice:
        by_dave = approvals.approve(alice, "secret.reveal", "crit", "dave",
                                    PassphraseUnlocker.from_text(DAVE))
        with pytest.raises(AccessDenied, match=r"dual control.*holders: alice, carol"):
            alice.get_secret("crit", approval=by_dave)  # a valid approver, but no share
        by_carol = approvals.approve(alice, "secret.reveal", "crit", "carol",
                                     PassphraseUnlocker.from_text(CAROL))
        assert alice.get_secret("crit", approval=by_carol) == b"critical value"
        assert not alice._unlocked_keys.co_shares  # carol's share served that read only
        assert ("critical", 1) not in alice._unlocked_keys.deks  # and the key is not kept
        with pytest.raises(AccessDenied, match="dual control"):  # writing needs both too
            alice.add_secret(NewSecret("crit3", b"x", Classification.Critical))
        write = approvals.approve(alice, "secret.write", "crit3", "carol",
                                  PassphraseUnlocker.from_text(CAROL))
        alice.add_secret(NewSecret("crit3", b"x", Classification.Critical), approval=write)
    with as_(dual, CAROL, "carol") as carol:
        ok = approvals.approve(carol, "secret.reveal", "crit3", "alice",
                               PassphraseUnlocker.from_text(PASSPHRASE))
        assert carol.get_secret("crit3", approval=ok) == b"x"


def test_one_holders_share_opens_nothing_in_the_vault_files(dual: Path) -> None:
    """alice's own wrap of the Critical key holds a SLIP-39 share that alone combines to
    nothing: the key needs a second share."""
    import shamir_mnemonic

    with as_(dual, PASSPHRASE) as alice:
        keys = alice._unlocked_keys
        payload = custody.unwrap(alice._conn, alice.vault_id, "critical", 1, keys.operator_id,
                                 keys.operator_key)
        share = custody.open_wrap(payload, "critical", 1)
        assert isinstance(share, custody.Share)
        with pytest.raises(shamir_mnemonic.MnemonicError):
            shamir_mnemonic.combine_mnemonics([share.mnemonic])
        n = alice._conn.execute("SELECT count(*) FROM dek_wraps WHERE level = 'critical'"
                                ).fetchone()[0]
        assert n == 2


def test_revoking_a_dual_holder_rotates_the_key_to_the_one_left_whole(dual: Path) -> None:
    with as_(dual, PASSPHRASE) as alice:
        [grant] = [g for g, _ in access_changes.list_grants(alice, operator="carol")
                   if str(g.scope) == "level:critical"]
        ok = approvals.approve(alice, "access.change", "grant:carol:level:critical", "carol",
                               PassphraseUnlocker.from_text(CAROL))
        changed = access_changes.revoke_grant(alice, grant.id, reason="rotation", approval=ok)
        assert changed["levels_rotated"] == ["critical"]
        assert alice._deks.current_generation("critical") == 2
        reveal = approvals.approve(alice, "secret.reveal", "crit", "dave",
                                   PassphraseUnlocker.from_text(DAVE))
        assert alice.get_secret("crit", approval=reveal) == b"critical value"  # whole again


def test_an_expired_grant_is_revoked_at_the_next_unlock_and_its_level_key_rotated(team: Path
                                                                                 ) -> None:
    import datetime as dt

    from strongroom.app.model import iso

    class Later:
        def now(self) -> dt.datetime:
            return dt.datetime.now(dt.UTC) + dt.timedelta(days=3)

    with as_(team, PASSPHRASE) as alice:
        access_changes.add_grant(alice, "bob", Scope.parse("secret:mod"), "read",
                                 justification="one-off",
                                 expires=iso(dt.datetime.now(dt.UTC) + dt.timedelta(days=1)))
    with as_(team, BOB, "bob") as bob:
        assert bob.get_secret("mod") == b"moderate value"
    later = Vault.open(team, clock=Later())
    later.unlock(PassphraseUnlocker.from_text(PASSPHRASE))
    with later:
        [event] = later.audit_events(action="grant.expire")
        assert event.target == "bob" and event.details["levels_rotated"] == ["moderate"]
        bob_id = later.header.operator_named("bob").id
        assert not custody.holds(later._conn, bob_id, "moderate")
        assert custody.holds(later._conn, bob_id, "high")  # his live grant is untouched


def test_restoring_a_backup_is_two_person_and_a_refusal_leaves_nothing(admins: Path,
                                                                       tmp_path: Path) -> None:
    from strongroom.app.vault.backup import create_backup
    from strongroom.app.vault.restore import restore_backup

    with as_(admins, PASSPHRASE) as alice:
        create_backup(alice, tmp_path / "b.srbk")
    dest = tmp_path / "restored"
    with pytest.raises(AccessDenied, match="Restoring a backup is a two-person"):
        restore_backup(tmp_path / "b.srbk", PassphraseUnlocker.from_text(PASSPHRASE), dest)
    assert not dest.exists()

    def by_carol(v: Vault) -> approvals.Approval:
        return approvals.approve(v, "backup.restore", "b.srbk", "carol",
                                 PassphraseUnlocker.from_text(CAROL))

    restore_backup(tmp_path / "b.srbk", PassphraseUnlocker.from_text(PASSPHRASE), dest,
                   approve=by_carol)
    with as_(dest, PASSPHRASE) as copy:
        [event] = copy.audit_events(action="backup.restore")
        assert event.details["approval"]["approver"] == "carol"


def test_removing_an_unlock_method_leaves_every_other_operators_methods(team: Path,
                                                                        tmp_path: Path) -> None:
    from keyrings.alt.file import PlaintextKeyring

    from strongroom.backends.keyring import KeyringSource

    ring = PlaintextKeyring()
    ring.file_path = str(tmp_path / "ring" / "keyring_pass.cfg")
    with as_(team, PASSPHRASE) as alice:
        slot = alice.add_hardware_slot(KeyringSource(ring), label="alice's keyring")
        before = {s.id for s in alice.header.slots}
        alice.remove_slot(slot.id, rekey=False)
        assert {s.id for s in alice.header.slots} == before - {slot.id}
    with as_(team, BOB, "bob") as bob:  # bob still opens with his own passphrase
        assert bob.get_secret("hi") == b"high value"
