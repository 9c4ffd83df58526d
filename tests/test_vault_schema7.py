"""Schema 7 (a smaller file): a schema-6 vault with secrets is upgraded at unlock, and search
and history answer as before over the detail=none trigram index and the shorter metadata."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from strongroom.app import database
from strongroom.app.model import Classification
from strongroom.app.vault import BACKUP_DIR, NewSecret, Vault

from conftest import make_vault, unlocker


def _old_meta(vault: Vault) -> None:
    """Give every version the metadata schema 6 wrote: all of it, level and null dates too."""
    for info in vault.list_secrets():
        for h in vault.history(info.name):
            vault._conn.execute(
                "UPDATE versions SET meta = ? WHERE secret_id = ? AND version = ?",
                (json.dumps(h.meta, sort_keys=True), info.id, h.version))


def _names(vault: Vault, term: str) -> list[str]:
    return [s.name for s in vault.list_secrets(search=term)]


@pytest.fixture
def old_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "old"
    with monkeypatch.context() as m:
        m.setattr(database, "SCHEMA_VERSION", 6)
        v = make_vault(path)
        v.add_secret(NewSecret("prod/postgres", b"v1", tags=("database",),
                               note="primary cluster"))
        v.add_secret(NewSecret("staging/redis", b"v2", Classification.High, owner="alice",
                               expires=dt.date(2030, 1, 2)))
        v.add_secret(NewSecret("eu/été-report", b"v3", note="Résumé ÉTÉ"))
        v.update_secret("prod/postgres", b"v1b", note="primary cluster, moved")
        _old_meta(v)
        fts = v._conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'secrets_fts'").fetchone()[0]
        assert "detail" not in fts
        v.lock()
    return path


def test_a_schema_6_vault_is_compacted_and_still_searches(old_vault: Path) -> None:
    v = Vault.open(old_vault)
    v.unlock(unlocker())
    try:
        assert list((old_vault / BACKUP_DIR).glob("auto-*-migrate-6.srbk"))
        schema = v._conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        assert schema == str(database.SCHEMA_VERSION)
        objects = {r[0]: r[1] for r in v._conn.execute("SELECT name, sql FROM sqlite_master")}
        assert "detail=none" in objects["secrets_fts"]
        assert "secrets_updated" not in objects and "versions_level" not in objects
        migrated = v.audit_events(action="vault.migrate")[0].details
        assert migrated == {"from": 6, "to": database.SCHEMA_VERSION}
        assert _names(v, "postgres") == ["prod/postgres"]
        assert _names(v, "CLUSTER, MOV") == ["prod/postgres"]
        assert _names(v, "datab") == ["prod/postgres"]
        assert _names(v, "alice") == ["staging/redis"]
        assert _names(v, "été") == ["eu/été-report"]  # folded as the trigram tokenizer does
        assert _names(v, "résumé été") == ["eu/été-report"]
        history = v.history("prod/postgres")
        assert [h.meta["note"] for h in history] == ["primary cluster", "primary cluster, moved"]
        assert history[0].meta["classification"] == "moderate"
        assert history[0].meta["expires"] is None
        assert v.history("staging/redis")[0].meta["expires"] == "2030-01-02"
        stored = dict(v._conn.execute(
            "SELECT s.name || ' ' || v.version, v.meta FROM versions v JOIN secrets s "
            "ON s.id = v.secret_id").fetchall())
        assert all("classification" not in m and "null" not in m for m in stored.values())
        # A version's metadata that is the secret's now is not stored twice; an older one is.
        assert stored["prod/postgres 2"] == stored["staging/redis 1"] == ""
        assert json.loads(stored["prod/postgres 1"])["note"] == "primary cluster"
        assert v.get_secret("prod/postgres") == b"v1b"
        assert v.audit_verify().ok
        v.update_secret("staging/redis", note="moved to eu")  # the new triggers keep the index
        assert _names(v, "alice") == ["staging/redis"] and _names(v, "to eu") == ["staging/redis"]
        v.delete_secret("eu/été-report")
        assert _names(v, "sumé") == []
    finally:
        v.lock()


def test_a_new_vault_writes_short_metadata_and_answers_history_in_full(tmp_path: Path) -> None:
    with make_vault(tmp_path / "v") as v:
        v.add_secret(NewSecret("k", b"x", Classification.Critical))
        (meta,) = v._conn.execute("SELECT meta FROM versions").fetchone()
        assert meta == ""  # the secret's own metadata, not a copy
        v.add_secret(NewSecret("k2", b"y", note="abcd bcde"))
        assert _names(v, "bcd") == ["k2"]
        assert _names(v, "abcde") == []  # every trigram is there, the substring is not
        assert v.history("k")[0].meta == {
            "classification": "critical", "kind": "value", "owner": v.actor, "note": "",
            "tags": [], "expires": None, "rotation_due": None}
        v.update_secret("k", note="first note", expires=dt.date(2031, 5, 6))  # in place
        v.update_secret("k", b"y", note="second note")  # a new version
        v.update_secret("k", tags=("t",))  # in place again
        history = v.history("k")  # each version's metadata as it was written, as schema 6 kept it
        assert [h.meta["note"] for h in history] == ["", "second note"]
        assert [h.meta["tags"] for h in history] == [[], []]
        assert [h.meta["expires"] for h in history] == [None, "2031-05-06"]
        assert [h.meta["classification"] for h in history] == ["critical", "critical"]
