"""The hash chain: intact chains verify; any edit, deletion or rollback is found at its sequence."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.app import database as store
from strongroom.app.audit import AnchorStatus, AuditLog, Outcome
from strongroom.app.header import AuditAnchor

KEY = b"K" * 32
texts = st.text(max_size=30)
events = st.lists(
    st.tuples(texts, texts, texts, st.sampled_from(list(Outcome)),
              st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=3)),
    min_size=1,
    max_size=25,
)


def new_log(folder: Path, vault_id: str = "vault-1") -> tuple[object, AuditLog]:
    conn = store.connect(folder / "db", KEY, create=True)
    conn.execute("BEGIN")
    store.create_schema(conn, vault_id, "t")
    conn.execute("COMMIT")
    return conn, AuditLog(conn, vault_id)


def fill(log: AuditLog, items) -> AuditAnchor:
    head = None
    for i, (actor, action, target, outcome, details) in enumerate(items):
        head = log.append(ts=f"2026-01-01T00:00:{i:02d}Z", actor=actor, action=action,
                          target=target, outcome=outcome, details=details)
    assert head is not None
    return head


@settings(deadline=None, max_examples=30)
@given(items=events)
def test_an_untouched_chain_verifies(items) -> None:
    with tempfile.TemporaryDirectory() as d:
        conn, log = new_log(Path(d))
        head = fill(log, items)
        report = log.verify(head)
        assert report.ok and report.anchor is AnchorStatus.Match
        assert report.events == len(items) and report.head == head
        conn.close()


@settings(deadline=None, max_examples=30)
@given(items=events, data=st.data())
def test_editing_any_field_of_any_event_is_found_at_that_event(items, data) -> None:
    column = data.draw(st.sampled_from(["ts", "actor", "action", "target", "outcome", "details"]))
    with tempfile.TemporaryDirectory() as d:
        conn, log = new_log(Path(d))
        head = fill(log, items)
        seq = data.draw(st.integers(1, len(items)))
        old = conn.execute(f"SELECT {column} FROM audit WHERE seq = ?", (seq,)).fetchone()[0]
        conn.execute(f"UPDATE audit SET {column} = ? WHERE seq = ?", (old + "x", seq))
        report = log.verify(head)
        assert not report.ok
        assert report.first_bad_seq == seq
        conn.close()


@settings(deadline=None, max_examples=25)
@given(items=events.filter(lambda e: len(e) >= 2), data=st.data())
def test_deleting_an_event_is_found(items, data) -> None:
    with tempfile.TemporaryDirectory() as d:
        conn, log = new_log(Path(d))
        head = fill(log, items)
        seq = data.draw(st.integers(1, len(items) - 1))  # not the newest: see the rollback test
        conn.execute("DELETE FROM audit WHERE seq = ?", (seq,))
        report = log.verify(head)
        assert not report.ok and report.first_bad_seq == seq
        conn.close()


@settings(deadline=None, max_examples=25)
@given(items=events.filter(lambda e: len(e) >= 2), data=st.data())
def test_truncating_the_newest_events_is_a_rollback(items, data) -> None:
    with tempfile.TemporaryDirectory() as d:
        conn, log = new_log(Path(d))
        head = fill(log, items)
        keep = data.draw(st.integers(0, len(items) - 1))
        conn.execute("DELETE FROM audit WHERE seq > ?", (keep,))
        report = log.verify(head)
        assert not report.ok
        assert report.anchor is AnchorStatus.RolledBack
        assert report.first_bad_seq == keep + 1
        conn.close()


def test_a_chain_ahead_of_its_anchor_is_accepted_and_said(tmp_path: Path) -> None:
    _conn, log = new_log(tmp_path)
    anchor = fill(log, [("a", "x", "t", Outcome.Ok, {})] * 3)
    fill(log, [("a", "y", "t", Outcome.Ok, {})])  # written after the anchor: a crash in between
    report = log.verify(anchor)
    assert report.ok and report.anchor is AnchorStatus.ChainAhead
    assert "1 event(s) after the anchor" in report.reason


def test_an_anchor_with_another_hash_is_a_mismatch(tmp_path: Path) -> None:
    _conn, log = new_log(tmp_path)
    head = fill(log, [("a", "x", "t", Outcome.Ok, {})] * 3)
    report = log.verify(AuditAnchor(head.seq, b"\0" * 32))
    assert not report.ok and report.anchor is AnchorStatus.Mismatch
    assert report.first_bad_seq == head.seq


def test_a_chain_is_bound_to_its_vault(tmp_path: Path) -> None:
    # The same rows under another vault id do not verify: the genesis value differs.
    conn, log = new_log(tmp_path, "vault-A")
    head = fill(log, [("a", "x", "t", Outcome.Ok, {})] * 2)
    other = AuditLog(conn, "vault-B")
    report = other.verify(head)
    assert not report.ok and report.first_bad_seq == 1


def test_events_filters_and_order(tmp_path: Path) -> None:
    _conn, log = new_log(tmp_path)
    fill(log, [("a", "secret.read", "n1", Outcome.Ok, {}),
               ("b", "secret.create", "n2", Outcome.Ok, {"version": 1}),
               ("a", "secret.read", "n2", Outcome.Failed, {})])
    assert [e.seq for e in log.events()] == [3, 2, 1]
    assert [e.seq for e in log.events(action="secret.read")] == [3, 1]
    assert [e.seq for e in log.events(target="n2", outcome="failed")] == [3]
    assert [e.seq for e in log.events(limit=1)] == [3]
    assert log.events(action="secret.create")[0].details == {"version": 1}


def test_verify_reports_missing_anchor(tmp_path: Path) -> None:
    _conn, log = new_log(tmp_path)
    fill(log, [("a", "x", "t", Outcome.Ok, {})])
    report = log.verify(None)
    assert not report.ok and report.anchor is AnchorStatus.Missing


def test_empty_chain_with_anchor_is_rollback(tmp_path: Path) -> None:
    _conn, log = new_log(tmp_path)
    report = log.verify(AuditAnchor(1, b"x" * 32))
    assert not report.ok and report.anchor is AnchorStatus.RolledBack


AWKWARD = ['"quoted" \\ back\\slash /slash', "".join(map(chr, range(32))), "\x7f del",
           "\u2028\u2029 separators", "é, ß, 中文, emoji 🔐 \U0010fffd", "e\u0301 combining",
           "\ufeff bom", "", " "]


@settings(deadline=None, max_examples=40)
@given(items=events)
def test_sqlite_builds_every_event_as_the_canonical_encoding(items) -> None:
    """verify hashes the events SQLite's json_array builds; for text Python's own encoder would
    escape differently it would fall back to the slow path: here it never has to."""
    with tempfile.TemporaryDirectory() as d:
        conn, log = new_log(Path(d))
        extra = [(a, a, a, Outcome.Ok, {a or "k": a}) for a in AWKWARD]
        head = fill(log, [*items, *extra])
        fast = log._walk_fast(head)
        assert fast is not None
        assert fast == log._walk(head) == (head.seq, head.hash, head.hash)
        conn.close()


def test_a_field_stored_as_a_blob_falls_back_and_is_found(tmp_path: Path) -> None:
    conn, log = new_log(tmp_path)
    head = fill(log, [("alice", "secret.read", "db", Outcome.Ok, {})] * 3)
    conn.execute("UPDATE audit SET actor = CAST(actor AS BLOB) WHERE seq = 2")
    assert log._walk_fast(head) is None
    report = log.verify(head)
    assert not report.ok and report.first_bad_seq == 2
    conn.close()


def test_a_gap_in_sequence_numbers_is_named_as_missing(tmp_path: Path) -> None:
    conn, log = new_log(tmp_path)
    head = fill(log, [("alice", "secret.read", "db", Outcome.Ok, {})] * 4)
    conn.execute("DELETE FROM audit WHERE seq = 3")
    report = log.verify(head)
    assert not report.ok and report.first_bad_seq == 3 and "missing" in report.reason
    conn.close()
