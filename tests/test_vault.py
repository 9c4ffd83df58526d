"""The vault on real SQLCipher: secrets, versions, levels, keys, fail-closed audit, locking."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
import sqlcipher3

from strongroom.app import database as store
from strongroom.app.errors import (
    AlreadyExists,
    BackingOff,
    NotFound,
    Refused,
    StrongroomError,
    UsageError,
    VaultLocked,
    VaultTampered,
    WrongPassphrase,
)
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.model import Classification
from strongroom.app.vault import BACKUP_DIR, NewSecret, Vault

from conftest import OTHER_PASSPHRASE, PASSPHRASE, make_vault, unlocker

VALUE = b"s3cr3t-\x00-value-\xff"


def add(vault: Vault, name: str, value: bytes = VALUE, **kw) -> None:
    vault.add_secret(NewSecret(name=name, value=value, **kw))


def raw_versions(vault: Vault) -> dict[tuple[str, int], bytes]:
    rows = vault._conn.execute(
        "SELECT s.name, v.version, v.ciphertext FROM versions v "
        "JOIN secrets s ON s.id = v.secret_id"
    ).fetchall()
    return {(n, v): bytes(c) for n, v, c in rows}


def test_add_get_round_trip_exact_bytes(vault: Vault) -> None:
    add(vault, "db/prod", classification=Classification.High, tags=("db", "prod"), note="n")
    assert vault.get_secret("db/prod") == VALUE
    info = vault.secret_info("db/prod")
    assert info.classification is Classification.High
    assert info.tags == ("db", "prod") and info.version == 1 and info.owner == vault.actor


def test_values_are_encrypted_at_field_level(vault: Vault) -> None:
    add(vault, "a", b"field-level-plaintext")
    ciphertext = raw_versions(vault)[("a", 1)]
    assert b"field-level-plaintext" not in ciphertext
    assert len(ciphertext) == len(b"field-level-plaintext") + 16  # GCM tag


def test_database_file_holds_no_plaintext(vault: Vault) -> None:
    add(vault, "name-in-metadata", b"VALUE-MARKER-123", note="NOTE-MARKER")
    vault.lock()
    for f in vault.path.iterdir():
        if f.is_file():
            data = f.read_bytes()
            for marker in (b"VALUE-MARKER-123", b"NOTE-MARKER", b"name-in-metadata"):
                if f.name != "header.json":
                    assert marker not in data, f"{marker!r} in {f.name}"
            assert b"VALUE-MARKER-123" not in data


def test_duplicate_names_are_refused_and_nothing_changes(vault: Vault) -> None:
    add(vault, "x")
    events = len(vault.audit_events())
    with pytest.raises(AlreadyExists):
        add(vault, "x", b"other")
    assert vault.get_secret("x") == VALUE
    assert len(vault.audit_events()) == events + 1  # only the read above


@pytest.mark.parametrize(
    "name", ["", " leading", "trailing ", "ctl\x07char", "x" * 300]
)
def test_bad_names_are_usage_errors(vault: Vault, name: str) -> None:
    with pytest.raises(UsageError):
        add(vault, name)


def test_versions_and_history(vault: Vault) -> None:
    add(vault, "k", b"v1", classification=Classification.Low)
    vault.update_secret("k", b"v2", note="rotated")
    vault.update_secret("k", b"v3", classification=Classification.Critical)
    assert vault.get_secret("k") == b"v3"
    assert [vault.get_secret("k", v) for v in (1, 2, 3)] == [b"v1", b"v2", b"v3"]
    history = vault.history("k")
    assert [h.version for h in history] == [1, 2, 3]
    assert [h.classification for h in history] == [
        Classification.Low, Classification.Low, Classification.Critical
    ]
    assert history[1].meta["note"] == "rotated"
    with pytest.raises(NotFound):
        vault.get_secret("k", 4)


def test_metadata_only_update_keeps_version(vault: Vault) -> None:
    add(vault, "k", tags=("a",))
    info = vault.update_secret("k", tags=["b", "a"], expires=dt.date(2030, 1, 2))
    assert info.version == 1 and info.tags == ("a", "b") and info.expires == "2030-01-02"
    info = vault.update_secret("k", clear_expires=True)
    assert info.expires is None
    assert vault.list_secrets(tag="b")[0].name == "k"


def test_classification_change_reencrypts_under_the_new_level(vault: Vault) -> None:
    add(vault, "k", classification=Classification.Low)
    info = vault.update_secret("k", classification=Classification.Critical)
    assert info.version == 2
    row = vault._conn.execute(
        "SELECT classification FROM versions WHERE version = 2"
    ).fetchone()
    assert row[0] == "critical"
    assert vault.get_secret("k") == VALUE


def test_delete_removes_all_versions(vault: Vault) -> None:
    add(vault, "k")
    vault.update_secret("k", b"two")
    vault.delete_secret("k")
    with pytest.raises(NotFound):
        vault.get_secret("k")
    assert vault._conn.execute("SELECT count(*) FROM versions").fetchone()[0] == 0
    assert vault.audit_events(action="secret.delete")[0].details == {"versions": 2}


def test_search_uses_metadata_only(vault: Vault) -> None:
    add(vault, "prod/postgres", tags=("database",), note="primary cluster")
    add(vault, "staging/redis", owner="alice")
    add(vault, "VALUE-is-not-searched", b"postgres-in-the-value")
    names = lambda **kw: [s.name for s in vault.list_secrets(**kw)]  # noqa: E731
    assert names(search="postgres") == ["prod/postgres"]
    assert names(search="POSTGRES") == ["prod/postgres"]
    assert names(search="datab") == ["prod/postgres"]
    assert names(search="cluster") == ["prod/postgres"]
    assert names(search="alice") == ["staging/redis"]
    assert names(search="re") == ["prod/postgres", "staging/redis"]  # short term: name scan
    assert names(search='"') == []
    assert names(classification=Classification.Moderate) == sorted(
        ["prod/postgres", "staging/redis", "VALUE-is-not-searched"]
    )
    vault.update_secret("prod/postgres", note="retired")
    assert names(search="cluster") == []
    vault.delete_secret("staging/redis")
    assert names(search="alice") == []


def test_search_plan_uses_the_trigram_index(vault: Vault) -> None:
    plan = vault._conn.execute(
        "EXPLAIN QUERY PLAN SELECT rowid FROM secrets_fts WHERE secrets_fts MATCH ?", ('"abc"',)
    ).fetchall()
    assert any("VIRTUAL TABLE INDEX" in str(r[-1]) for r in plan)


def test_every_read_and_change_is_audited_without_values(vault: Vault) -> None:
    add(vault, "k", b"AUDIT-MARKER")
    vault.get_secret("k", purpose="copy")
    vault.get_secret("k", purpose="reveal")
    vault.update_secret("k", b"AUDIT-MARKER-2")
    vault.delete_secret("k")
    actions = [e.action for e in reversed(vault.audit_events())]
    assert actions[-5:] == [
        "secret.create", "secret.copy", "secret.reveal", "secret.update", "secret.delete"
    ]
    dump = vault._conn.execute("SELECT * FROM audit").fetchall()
    assert "AUDIT-MARKER" not in repr(dump)
    assert vault.audit_verify().ok


def test_audit_failure_fails_the_operation_closed(vault: Vault) -> None:
    add(vault, "k")
    vault._conn.execute(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    with pytest.raises(StrongroomError):
        add(vault, "new")
    with pytest.raises(StrongroomError):
        vault.get_secret("k")  # a read whose event cannot be written returns nothing
    with pytest.raises(StrongroomError):
        vault.delete_secret("k")
    vault._conn.execute("DROP TRIGGER no_audit")
    assert [s.name for s in vault.list_secrets()] == ["k"]


def test_record_many_is_one_transaction_all_or_none(vault: Vault) -> None:
    before = vault._log.head().seq
    vault.record_many("test.batch", [(f"file-{i}", {"i": i}) for i in range(5)])
    events = vault.audit_events(action="test.batch")
    assert sorted(e.target for e in events) == [f"file-{i}" for i in range(5)]
    assert vault._fresh_header().anchor == vault._log.head()
    assert vault._log.head().seq == before + 5 and vault.audit_verify().ok
    # A refusal at the third event leaves none of the batch behind.
    vault._conn.execute(
        "CREATE TRIGGER third BEFORE INSERT ON audit WHEN NEW.target = 'bad-2' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    with pytest.raises(StrongroomError):
        vault.record_many("test.bad", [(f"bad-{i}", {}) for i in range(4)])
    vault._conn.execute("DROP TRIGGER third")
    assert vault.audit_events(action="test.bad") == []
    assert vault._log.head().seq == before + 5 and vault.audit_verify().ok


def test_header_anchor_tracks_the_chain_head(vault: Vault) -> None:
    add(vault, "k")
    head = vault._log.head()
    on_disk = vault._fresh_header()
    assert on_disk.anchor == head
    report = vault.audit_verify()
    assert report.ok and report.anchor.value == "match"


def test_rolling_back_the_audit_table_is_detected(vault: Vault) -> None:
    add(vault, "k")
    add(vault, "l")
    n = vault._log.head().seq
    vault._conn.execute("DELETE FROM audit WHERE seq = ?", (n,))
    report = vault.audit_verify()
    assert not report.ok and report.anchor.value == "rolled-back" and report.first_bad_seq == n


def test_lock_drops_keys(vault: Vault) -> None:
    add(vault, "k")
    vault.lock()
    assert not vault.unlocked
    for op in (lambda: vault.get_secret("k"), lambda: vault.list_secrets(),
               lambda: add(vault, "x")):
        with pytest.raises(VaultLocked):
            op()
    vault.unlock(unlocker())
    assert vault.get_secret("k") == VALUE


def test_reopen_and_wrong_passphrase(tmp_path: Path) -> None:
    v = make_vault(tmp_path / "v")
    add(v, "k")
    v.lock()
    again = Vault.open(tmp_path / "v")
    with pytest.raises(WrongPassphrase):
        again.unlock(unlocker(OTHER_PASSPHRASE))
    assert not again.unlocked
    again.unlock(unlocker())
    assert again.get_secret("k") == VALUE
    failed = again.audit_events(action="vault.unlock", outcome="failed")
    assert failed and failed[0].details["failures"] == 1
    assert not (tmp_path / "v" / "unlock-backoff.json").exists()


class FakeClock:
    def __init__(self) -> None:
        self.t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self.t


def test_backoff_grows_and_expires(vault_dir: Path) -> None:
    clock = FakeClock()
    v = Vault.open(vault_dir, clock=clock)
    for _ in range(3):
        with pytest.raises(WrongPassphrase):
            v.unlock(unlocker(OTHER_PASSPHRASE))
    with pytest.raises(BackingOff) as e:
        v.unlock(unlocker())  # even the right passphrase waits
    assert e.value.retry_after == pytest.approx(2.0) and "wait 2 s" in str(e.value)
    clock.t += dt.timedelta(seconds=2.5)
    with pytest.raises(WrongPassphrase, match="wait 4 s"):
        v.unlock(unlocker(OTHER_PASSPHRASE))
    clock.t += dt.timedelta(seconds=3)
    with pytest.raises(BackingOff):
        v.unlock(unlocker())
    clock.t += dt.timedelta(seconds=1.5)
    v.unlock(unlocker())
    assert v.unlocked


def test_change_passphrase(vault_dir: Path) -> None:
    v = Vault.open(vault_dir)
    v.unlock(unlocker())
    with pytest.raises(WrongPassphrase):
        v.change_passphrase(b"not it", b"new")
    v.change_passphrase(normalize_passphrase(PASSPHRASE), normalize_passphrase(OTHER_PASSPHRASE))
    v.lock()
    with pytest.raises(WrongPassphrase):
        Vault.open(vault_dir).unlock(unlocker(PASSPHRASE))
    v2 = Vault.open(vault_dir)
    v2.unlock(unlocker(OTHER_PASSPHRASE))
    assert v2.audit_events(action="passphrase.change")
    assert v2.audit_verify().ok


def test_rotate_one_level_touches_only_that_level(vault: Vault) -> None:
    add(vault, "crit", b"c", classification=Classification.Critical)
    add(vault, "low", b"l", classification=Classification.Low)
    vault.update_secret("crit", b"c2")
    before = raw_versions(vault)
    n = vault.rotate_dek(Classification.Critical)
    after = raw_versions(vault)
    assert n == 2
    assert after[("low", 1)] == before[("low", 1)]
    assert after[("crit", 1)] != before[("crit", 1)] and after[("crit", 2)] != before[("crit", 2)]
    gens = dict(vault._conn.execute(
        "SELECT level, max(generation) FROM deks GROUP BY level").fetchall())
    assert gens["critical"] == 2 and gens["low"] == 1
    assert vault._conn.execute(
        "SELECT count(*) FROM deks WHERE level = 'critical'").fetchone()[0] == 1
    assert [vault.get_secret("crit", 1), vault.get_secret("crit"), vault.get_secret("low")] == [
        b"c", b"c2", b"l"
    ]
    assert list((vault.path / BACKUP_DIR).glob("auto-*dek-critical.srbk"))


def test_rotate_master_key_rekeys_the_database(vault: Vault) -> None:
    add(vault, "k")
    old_master = vault._keys.master
    vault.rotate_master_key()
    new_master = vault._keys.master
    assert new_master != old_master
    assert vault.get_secret("k") == VALUE
    vault.lock()
    with pytest.raises(VaultTampered):
        store.connect(vault.db_path, old_master)
    store.connect(vault.db_path, new_master).close()
    again = Vault.open(vault.path)
    again.unlock(unlocker())
    assert again.get_secret("k") == VALUE
    assert again.header.slots[0].wrapped_next is None
    assert again.audit_verify().ok
    assert list((vault.path / BACKUP_DIR).glob("auto-*-rekey.srbk"))


def test_rotate_all_and_auto_backups_are_pruned(vault: Vault) -> None:
    add(vault, "k")
    for _ in range(3):
        vault.rotate_all()
    assert vault.get_secret("k") == VALUE
    assert len(list((vault.path / BACKUP_DIR).glob("auto-*.srbk"))) == 3
    for level in Classification:
        vault.rotate_dek(level)
    assert len(list((vault.path / BACKUP_DIR).glob("auto-*.srbk"))) == 5


def test_rotating_master_refuses_when_other_slots_cannot_be_rewrapped(vault: Vault) -> None:
    import dataclasses

    header = vault._fresh_header()
    extra = dataclasses.replace(header.slots[0], id="ffffffff", label="Second key")
    vault._save_header(dataclasses.replace(header, slots=(*header.slots, extra)))
    with pytest.raises(Refused, match="Second key"):
        vault.rotate_master_key()


def test_header_edited_outside_strongroom_is_detected(vault_dir: Path) -> None:
    import json

    path = vault_dir / "header.json"
    obj = json.loads(path.read_text())
    obj["slots"][0]["label"] = "edited"
    path.write_text(json.dumps(obj))
    with pytest.raises(VaultTampered):
        Vault.open(vault_dir).unlock(unlocker())


def test_a_foreign_header_is_detected(tmp_path: Path) -> None:
    a = make_vault(tmp_path / "a")
    a.lock()
    b = make_vault(tmp_path / "b")
    b.lock()
    (tmp_path / "a" / "header.json").write_bytes((tmp_path / "b" / "header.json").read_bytes())
    with pytest.raises(VaultTampered, match="another vault"):
        Vault.open(tmp_path / "a").unlock(unlocker())


def test_create_refuses_existing_vault_and_bad_times(tmp_path: Path, vault_dir: Path) -> None:
    with pytest.raises(AlreadyExists):
        make_vault(vault_dir)
    with pytest.raises(UsageError):
        Vault.create(tmp_path / "n", b"x", kdf_time_ms=0)
    with pytest.raises(NotFound):
        Vault.open(tmp_path / "missing")


def test_db_and_header_are_private(vault_dir: Path) -> None:
    for name in ("vault.db", "header.json"):
        assert (vault_dir / name).stat().st_mode & 0o077 == 0


def test_durability_pragmas(vault: Vault) -> None:
    conn = vault._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA cipher_version").fetchone()[0].startswith("4.")


def test_raw_key_is_required(vault: Vault) -> None:
    vault.lock()
    conn = sqlcipher3.connect(str(vault.db_path))
    conn.execute("PRAGMA cipher_log_level = NONE")
    conn.execute(f"PRAGMA key = '{PASSPHRASE}'")
    with pytest.raises(sqlcipher3.DatabaseError):
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()


def test_no_value_reaches_python_logging(vault: Vault, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    add(vault, "k", b"LOG-MARKER")
    vault.get_secret("k")
    vault.update_secret("k", b"LOG-MARKER-2")
    assert "LOG-MARKER" not in caplog.text


def test_an_older_schema_is_migrated_after_an_automatic_backup(
    vault_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def add_table(conn) -> None:
        conn.execute("CREATE TABLE migrated_marker (x INTEGER)")

    # One step past the schema this Strongroom writes, whatever that is now.
    current = store.SCHEMA_VERSION
    monkeypatch.setattr(store, "SCHEMA_VERSION", current + 1)
    monkeypatch.setattr(store, "MIGRATIONS", {**store.MIGRATIONS, current: add_table})
    v = Vault.open(vault_dir)
    v.unlock(unlocker())
    backups = list((vault_dir / BACKUP_DIR).glob(f"auto-*-migrate-{current}.srbk"))
    assert len(backups) == 1
    meta = v._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert meta[0] == str(current + 1)
    v._conn.execute("SELECT count(*) FROM migrated_marker").fetchone()
    assert v.audit_events(action="vault.migrate")[0].details == {"from": current, "to": current + 1}
    assert v.audit_verify().ok
    v.lock()
    # The backup holds the schema as it was before the migration.
    from strongroom.app.vault.backup import verify_backup

    monkeypatch.setattr(store, "SCHEMA_VERSION", current)
    assert verify_backup(backups[0], unlocker()).counts["secrets"] == 0


def test_a_schema_1_vault_gains_the_compliance_and_device_key_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real migrations from 1: a schema-1 vault opens with the later tables, and
    its user becomes its first operator."""
    from conftest import make_vault

    with monkeypatch.context() as m:
        m.setattr(store, "SCHEMA_VERSION", 1)
        make_vault(tmp_path / "old").lock()
    v = Vault.open(tmp_path / "old")
    v.unlock(unlocker())
    try:
        assert list((tmp_path / "old" / BACKUP_DIR).glob("auto-*-migrate-1.srbk"))
        rows = v._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        tables = {r[0] for r in rows}
        assert {"compliance_runs", "compliance_results", "compliance_exceptions",
                "compliance_first_seen", "device_keys", "operators", "grants"} <= tables
        columns = {r[1] for r in v._conn.execute("PRAGMA table_info(secrets)")}
        assert "kind" in columns  # schema 6
        migrated = v.audit_events(action="vault.migrate")[0].details
        assert migrated == {"from": 1, "to": store.SCHEMA_VERSION}
        assert [e.target for e in v.audit_events(action="operator.adopt")] == [v.actor]
        assert v.audit_verify().ok
    finally:
        v.lock()


def test_a_newer_schema_is_refused_and_the_vault_is_left_locked(vault: Vault) -> None:
    from conftest import snapshot

    vault._conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    vault.lock()
    before = snapshot(vault.path)
    again = Vault.open(vault.path)
    with pytest.raises(Refused, match="newer"):
        again.unlock(unlocker())
    assert not again.unlocked
    assert snapshot(vault.path) == before


def test_a_failed_backup_is_audited_as_failed(vault: Vault, tmp_path: Path) -> None:
    from strongroom.app.errors import StorageError
    from strongroom.app.vault.backup import create_backup

    with pytest.raises(StorageError):
        create_backup(vault, Path("/dev/full"))
    last = vault.audit_events(limit=2)
    assert [(e.action, e.outcome) for e in last] == [
        ("backup.create", "failed"), ("backup.begin", "ok")
    ]
    assert "disk is full" in last[0].details["reason"]
    report = create_backup(vault, tmp_path / "ok.srbk")
    ok = vault.audit_events(limit=1)[0]
    assert (ok.action, ok.outcome, ok.details["bytes"]) == ("backup.create", "ok", report.size)
