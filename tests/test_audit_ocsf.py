"""`strongroom audit export --format ocsf`: each event once and in order as an OCSF 1.3.0 event
of its class, the chain still checkable from ``unmapped``, never a value, the file atomic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from strongroom.app.audit import AuditEvent, genesis
from strongroom.app.forwarding.ocsf import OCSF_VERSION, classify, ocsf_event
from strongroom.app.forwarding.verify import verify_lines
from strongroom.app.vault import NewSecret

from conftest import PASSPHRASE, make_vault, run_cli

VALUE = b"s3cr3t-value-that-must-never-appear-\xe2\x82\xac"


@pytest.mark.parametrize(("action", "expected"), [
    ("vault.unlock", (3002, 1, "Logon")),
    ("vault.lock", (3002, 2, "Logoff")),
    ("unlock.recovery", (3002, 1, "Logon")),
    ("keyslot.add", (3002, 99, "Other")),
    ("keyslot.remove", (3002, 99, "Other")),
    ("operator.add", (3001, 1, "Create")),
    ("operator.remove", (3001, 6, "Delete")),
    ("operator.roles", (3001, 99, "Other")),
    ("grant.add", (3001, 7, "Attach Policy")),
    ("grant.revoke", (3001, 8, "Detach Policy")),
    ("passphrase.change", (3001, 3, "Password Change")),
    ("secret.create", (6003, 1, "Create")),
    ("secret.reveal", (6003, 2, "Read")),
    ("secret.update", (6003, 3, "Update")),
    ("secret.delete", (6003, 4, "Delete")),
    ("audit.forward", (6003, 3, "Update")),
    ("compliance.check", (6003, 2, "Read")),
    ("something.new", (6003, 99, "Other")),
    ("", (6003, 99, "Other")),
])
def test_actions_map_to_ocsf_classes(action: str, expected: tuple[int, int, str]) -> None:
    assert classify(action) == expected


def test_one_event_has_every_required_field() -> None:
    event = AuditEvent(7, "2026-12-06T22:00:00.250000Z", "alice", "secret.reveal", "prod/db",
                       "denied", {"level": "high"}, bytes(range(32)))
    o = ocsf_event(event)
    assert (o["class_uid"], o["category_uid"], o["activity_id"], o["type_uid"]) == (
        6003, 6, 2, 600302)
    assert (o["severity_id"], o["status_id"], o["status_detail"]) == (3, 2, "denied")
    assert o["time"] == 1796594400250
    assert o["actor"]["user"]["name"] == "alice"
    assert o["metadata"]["product"] == {"name": "Strongroom", "vendor_name": "Strongroom"}
    assert o["metadata"]["version"] == OCSF_VERSION == "1.3.0"
    assert o["unmapped"] == {**event.to_json()}
    assert o["api"]["operation"] == "secret.reveal"


def test_cli_export_every_event_once_in_order_no_value_and_the_chain_still_checks(
        tmp_path: Path) -> None:
    path = tmp_path / "vault"
    v = make_vault(path)
    v.add_secret(NewSecret(name="prod/db", value=VALUE))
    v.get_secret("prod/db")
    v.update_secret("prod/db", value=VALUE + b"2")
    v.delete_secret("prod/db")
    vault_id = v.vault_id
    v.lock()
    out = tmp_path / "audit.ocsf.jsonl"
    result = run_cli("audit", "export", "--format", "ocsf", str(out), vault=path,
                     passphrases=[PASSPHRASE])
    assert result.code == 0, result.err
    raw = out.read_bytes()
    assert VALUE not in raw and b"s3cr3t" not in raw
    events = [json.loads(line) for line in raw.decode().splitlines()]
    seqs = [e["unmapped"]["seq"] for e in events]
    assert seqs == list(range(1, len(events) + 1))  # the unlock included, the export after
    assert {e["class_uid"] for e in events} >= {3002, 6003}
    for e in events:
        assert e["type_uid"] == e["class_uid"] * 100 + e["activity_id"]
        assert e["category_uid"] == {3001: 3, 3002: 3, 6003: 6}[e["class_uid"]]
        assert isinstance(e["time"], int) and e["time"] > 1_700_000_000_000
        assert e["metadata"]["version"] == "1.3.0"
    # The chain from the export alone: prev is the hash of the line before.
    prev = genesis(vault_id).hex()
    lines = []
    for e in events:
        lines.append(json.dumps({**e["unmapped"], "vault": vault_id, "prev": prev}))
        prev = e["unmapped"]["hash"]
    assert verify_lines(lines, vault_id=vault_id).ok

    again = run_cli("audit", "export", "--format", "ocsf", str(out), vault=path,
                    passphrases=[PASSPHRASE])
    assert again.code == 1 and "already exists" in again.err
    assert out.read_bytes() == raw
    forced = run_cli("audit", "export", "--format", "ocsf", "--force", str(out), vault=path,
                     passphrases=[PASSPHRASE])
    assert forced.code == 0, forced.err
    assert len(out.read_bytes().splitlines()) > len(events)  # the first export is an event now
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_cli_export_other_formats(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "vault"
    make_vault(path).lock()
    out = tmp_path / f"audit.{fmt}"
    result = run_cli("audit", "export", "--format", fmt, str(out), vault=path,
                     passphrases=[PASSPHRASE])
    assert result.code == 0, result.err
    assert out.read_text().count("vault.unlock") == 1


def test_cli_export_to_a_missing_directory_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "vault"
    make_vault(path).lock()
    result = run_cli("audit", "export", "--format", "ocsf", str(tmp_path / "no" / "x.json"),
                     vault=path, passphrases=[PASSPHRASE])
    assert result.code == 1 and result.err.count("\n") == 1
