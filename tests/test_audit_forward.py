"""`strongroom audit forward` against a real rsyslogd (plain TCP and TLS through gtls): every
event arrives once and in order, the chain verifies from the receiver's own file, a receiver
that stops mid-stream loses nothing and gets nothing twice, and failures say one sentence, exit
with their code and leave the cursor where the receiver left it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from strongroom.app.forwarding import store
from strongroom.app.forwarding.verify import verify_lines
from strongroom.app.vault import NewSecret, Vault

from conftest import PASSPHRASE, make_vault, run_cli, snapshot, unlocker
from helpers.rsyslog import Certs, Rsyslog, make_certs, make_client_cert

SECRET_VALUE = b"hunter2-do-not-forward-\xc3\xa9-7f3a9c"


@pytest.fixture
def receiver(tmp_path: Path):
    r = Rsyslog(tmp_path / "rsyslog")
    r.start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def new_vault(tmp_path: Path) -> tuple[Path, str]:
    """A vault with a secret whose value must never leave it, read once (an audited reveal)."""
    path = tmp_path / "vault"
    v = make_vault(path)
    v.add_secret(NewSecret(name="prod/db", value=SECRET_VALUE))
    v.get_secret("prod/db")
    vault_id = v.vault_id
    v.lock()
    return path, vault_id


def add_events(path: Path, n: int, *, one_transaction: bool = False) -> None:
    v = Vault.open(path)
    v.unlock(unlocker())
    if one_transaction:
        v.record_many("test.event", [(f"item-{i}", {"i": i}) for i in range(n)])
    for i in range(0 if one_transaction else n):
        # Every third action holds what RFC 5424 structured data must escape (and rsyslog's
        # parser would otherwise split on): the MSG it writes must still be the event's JSON.
        action = "test.event" if i % 3 else 'test.évent] "q" \\ [x=\n\x00'
        v.record(action, f"item-{i} ✓", details={"i": i, "text": "é]\n\"\x00"})
    v.lock()


def cursors(path: Path) -> dict[str, tuple[int, str]]:
    v = Vault.open(path)
    v.unlock(unlocker())
    try:
        return {c.name: (c.last_seq, c.settings.destination.address) for c in store.cursors(v)}
    finally:
        v.lock()


def head(path: Path) -> int:
    v = Vault.open(path)
    v.unlock(unlocker())
    try:
        return v.audit_verify().events
    finally:
        v.lock()


def forward(path: Path, *args: str):
    return run_cli("audit", "forward", *args, vault=path, passphrases=[PASSPHRASE])


def seqs(lines: list[str]) -> list[int]:
    return [json.loads(line)["seq"] for line in lines]


def test_every_event_arrives_once_in_order_and_verifies_from_the_receivers_file(
        tmp_path: Path, receiver: Rsyslog) -> None:
    path, vault_id = new_vault(tmp_path)
    add_events(path, 25)
    first = forward(path, "--to", receiver.address, "--tcp", "--batch", "7")
    assert first.code == 0, first.err
    assert "Forwarded" in first.text
    second = forward(path, "--to", receiver.address, "--tcp", "--json")
    assert second.code == 0, second.err
    report = json.loads(second.text)
    lines = receiver.lines(expected=report["cursor_seq"])
    assert seqs(lines) == list(range(1, report["cursor_seq"] + 1))
    chain = verify_lines(lines, vault_id=vault_id)
    assert chain.ok, chain.reason
    assert (chain.events, chain.duplicates) == (report["cursor_seq"], 0)
    assert cursors(path)[receiver.address][0] == report["cursor_seq"]
    text = receiver.out.read_bytes()
    assert SECRET_VALUE not in text and b"hunter2" not in text
    actions = [json.loads(line)["action"] for line in lines]
    assert "secret.read" in actions or "secret.reveal" in actions or "secret.get" in actions
    assert actions.count("audit.forward") == 1  # the second run forwarded only its record
    assert actions.count("audit.forward.set") == 1
    assert 'test.évent] "q" \\ [x=\n\x00' in actions
    listed = forward(path, "--list", "--json")
    assert listed.code == 0, listed.err
    assert [(d["name"], d["last_seq"], d["transport"]) for d in json.loads(listed.text)] == [
        (receiver.address, report["cursor_seq"], "tcp")]
    unknown = forward(path, "--name", "never-saved")
    assert unknown.code == 1 and "no forwarding destination named" in unknown.err


def test_a_receiver_stopped_mid_stream_gets_every_event_once_when_it_is_back(
        tmp_path: Path, receiver: Rsyslog) -> None:
    path, vault_id = new_vault(tmp_path)
    add_events(path, 10)
    assert forward(path, "--to", receiver.address, "--tcp", "--batch", "4").code == 0
    before = cursors(path)[receiver.address][0]
    receiver.stop()
    add_events(path, 30)

    down = forward(path, "--to", receiver.address, "--tcp")
    assert down.code == 1
    assert down.err.count("\n") == 1 and "connection refused" in down.err
    assert cursors(path)[receiver.address][0] == before  # nothing past what it took

    receiver.start()
    again = forward(path, "--to", receiver.address, "--tcp", "--batch", "8")
    assert again.code == 0, again.err
    total = cursors(path)[receiver.address][0]
    lines = receiver.lines(expected=total)
    assert seqs(lines) == list(range(1, total + 1))  # once each, in order, across the restart
    chain = verify_lines(lines, vault_id=vault_id)
    assert chain.ok and chain.duplicates == 0, chain.reason


def test_a_receiver_killed_during_a_run_may_get_a_batch_twice_and_the_verifier_drops_it(
        tmp_path: Path, receiver: Rsyslog) -> None:
    """The honest limit: rsyslog stopped while a run is under way. The run fails (exit 1) with
    the cursor at the last batch whose close it saw; the next run resends from there, so the
    receiver may hold a batch twice, never a gap, and the verifier drops repeats by seq."""
    path, vault_id = new_vault(tmp_path)
    add_events(path, 30_000, one_transaction=True)
    read_end, write_end = os.pipe()
    os.write(write_end, (PASSPHRASE + "\n").encode())
    os.close(write_end)
    proc = subprocess.Popen(
        [sys.executable, "-m", "strongroom", "--vault", str(path), "--passphrase-fd",
         str(read_end), "audit", "forward", "--to", receiver.address, "--tcp", "--batch", "25"],
        pass_fds=(read_end,), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(read_end)
    receiver.lines(expected=500)
    receiver.stop()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, "the run ended before the receiver was stopped"
    assert err.count(b"\n") == 1, err
    stopped_at = cursors(path)[receiver.address][0]
    assert 0 < stopped_at < 30_000
    receiver.start()
    again = forward(path, "--to", receiver.address, "--tcp", "--batch", "5000")
    assert again.code == 0, again.err
    total = cursors(path)[receiver.address][0]
    lines = receiver.lines(expected=total)
    chain = verify_lines(lines, vault_id=vault_id)
    assert chain.ok, chain.reason
    assert (chain.first_seq, chain.last_seq, chain.events) == (1, total, total)
    assert chain.duplicates == len(lines) - total <= 25  # at most the batch under way


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")}


def test_receiver_down_from_the_start_is_one_sentence_and_saves_nothing(tmp_path: Path) -> None:
    path, _ = new_vault(tmp_path)
    port = Rsyslog(tmp_path / "never-started").port
    result = forward(path, "--to", f"127.0.0.1:{port}", "--tcp")
    assert result.code == 1
    assert result.err.startswith("strongroom: could not connect to 127.0.0.1:")
    assert result.err.count("\n") == 1
    assert cursors(path) == {}


@pytest.mark.parametrize("to", ["nohost", "host:0", "host:65536", "host:", ":514", "::1:514",
                                "[zz]:514", "ex ample:514", "host:5x4", "host:-1"])
def test_a_bad_destination_is_a_usage_error_before_anything_is_touched(
        tmp_path: Path, to: str) -> None:
    path, _ = new_vault(tmp_path)
    before = snapshot(path)
    result = forward(path, "--to", to)
    assert result.code == 2, result.err
    assert result.err.count("\n") == 1 and "HOST:PORT" in result.err
    assert snapshot(path) == before


@pytest.mark.parametrize(("args", "phrase"), [
    (["--to", "192.0.2.1:514", "--tcp"], "loopback"),
    (["--to", "127.0.0.1:514", "--tcp", "--ca", "x.pem"], "--tcp sends in the clear"),
    (["--to", "127.0.0.1:6514", "--ca", "/nonexistent/ca.pem"], "not a readable file"),
    (["--to", "127.0.0.1:6514", "--client-key", "k.pem"], "--client-key needs"),
    (["--to", "127.0.0.1:6514", "--app-name", "has space"], "--app-name"),
    ([], "give --to"),
])
def test_option_mistakes_are_usage_errors(tmp_path: Path, args: list[str], phrase: str) -> None:
    path, _ = new_vault(tmp_path)
    before = snapshot(path)
    result = forward(path, *args)
    assert (result.code, result.err.count("\n")) == (2, 1), result.err
    assert phrase in result.err
    assert snapshot(path) == before


def test_tls_to_rsyslog_gtls_and_a_wrong_ca_is_refused_with_the_cursor_unchanged(
        tmp_path: Path, certs: Certs) -> None:
    path, vault_id = new_vault(tmp_path)
    with Rsyslog(tmp_path / "tls", certs=certs) as receiver:
        ok = forward(path, "--to", receiver.address, "--ca", str(certs.ca), "--name", "siem")
        assert ok.code == 0, ok.err
        assert "over TLS" in ok.text
        saved = cursors(path)["siem"]
        other = make_certs(tmp_path / "other", "other")
        add_events(path, 3)
        wrong = forward(path, "--to", receiver.address, "--ca", str(other.ca), "--name", "siem")
        assert wrong.code == 1
        assert wrong.err.count("\n") == 1 and "is not trusted" in wrong.err
        assert cursors(path)["siem"] == saved
        system = forward(path, "--to", receiver.address, "--name", "siem2")  # system CAs only
        assert system.code == 1 and "is not trusted" in system.err
        again = forward(path, "--name", "siem")  # the saved destination, its CA
        assert again.code == 0, again.err
        total = cursors(path)["siem"][0]
        lines = receiver.lines(expected=total)
    assert seqs(lines) == list(range(1, total + 1))
    chain = verify_lines(lines, vault_id=vault_id)
    assert chain.ok, chain.reason
    assert SECRET_VALUE not in receiver.out.read_bytes()


def test_a_second_run_to_the_same_destination_at_once_is_refused(
        tmp_path: Path, receiver: Rsyslog) -> None:
    """Two runs from one cursor would send the same events twice: the second is refused."""
    import fcntl
    import hashlib

    path, _ = new_vault(tmp_path)
    name = receiver.address
    lock = path / f".forward-{hashlib.sha256(name.encode()).hexdigest()[:16]}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running --follow holds it
        busy = forward(path, "--to", receiver.address, "--tcp")
        assert busy.code == 1 and "another run is forwarding" in busy.err
        assert receiver.lines() == [] and cursors(path) == {}
        other = forward(path, "--to", receiver.address, "--tcp", "--name", "other")
        assert other.code == 0, other.err  # another destination is not held up
    finally:
        os.close(fd)
    assert forward(path, "--to", receiver.address, "--tcp").code == 0


def test_mutual_tls_a_client_certificate_is_sent_and_without_one_nothing_counts(
        tmp_path: Path) -> None:
    """rsyslog demanding a client certificate of the CA (gtls x509/certvalid): with
    --client-cert every event arrives; without, the receiver drops the connection after the
    handshake, so the batch is not acknowledged and the cursor does not move."""
    certs = make_certs(tmp_path / "mtls")
    cert, key = make_client_cert(certs)
    path, vault_id = new_vault(tmp_path)
    with Rsyslog(tmp_path / "rs", certs=certs, client_certs=True) as receiver:
        bare = forward(path, "--to", receiver.address, "--ca", str(certs.ca))
        assert bare.code == 1 and bare.err.count("\n") == 1, bare.err
        assert cursors(path) == {}
        ok = forward(path, "--to", receiver.address, "--ca", str(certs.ca),
                     "--client-cert", str(cert), "--client-key", str(key))
        assert ok.code == 0, ok.err
        total = cursors(path)[receiver.address][0]
        lines = receiver.lines(expected=total)
    assert seqs(lines) == list(range(1, total + 1))
    assert verify_lines(lines, vault_id=vault_id).ok


def test_a_log_rewritten_under_the_cursor_is_an_integrity_failure(
        tmp_path: Path, receiver: Rsyslog) -> None:
    path, _ = new_vault(tmp_path)
    assert forward(path, "--to", receiver.address, "--tcp").code == 0
    v = Vault.open(path)
    v.unlock(unlocker())
    with v._write(anchor=False) as conn:  # as if an older log had been put back
        conn.execute("UPDATE audit_forwards SET last_hash = ?", (bytes(32),))
    v.lock()
    result = forward(path, "--to", receiver.address, "--tcp")
    assert result.code == 3
    assert "rolled back or rewritten" in result.err and result.err.count("\n") == 1


def test_a_vault_put_back_shows_at_the_receiver_as_a_fork(
        tmp_path: Path, receiver: Rsyslog) -> None:
    """The receiver as a witness: an older copy of the folder (its older cursor included),
    accepted on purpose and forwarded again, reaches the receiver as seqs it already holds with
    other hashes, and the verifier says so."""
    import shutil

    path, vault_id = new_vault(tmp_path)
    assert forward(path, "--to", receiver.address, "--tcp").code == 0
    shutil.copytree(path, tmp_path / "older")
    add_events(path, 3)
    assert forward(path, "--to", receiver.address, "--tcp").code == 0
    held = len(receiver.lines(expected=cursors(path)[receiver.address][0]))
    shutil.rmtree(path)
    shutil.copytree(tmp_path / "older", path)
    accepted = run_cli("vault", "accept-rollback", vault=path, passphrases=[PASSPHRASE])
    assert accepted.code == 0, accepted.err
    again = forward(path, "--to", receiver.address, "--tcp")
    assert again.code == 0, again.err  # the old cursor matches the old log
    lines = receiver.lines(expected=held + 1)
    chain = verify_lines(lines, vault_id=vault_id)
    assert not chain.ok and "arrived twice with different hashes" in chain.reason


def test_follow_forwards_new_events_does_not_feed_on_itself_and_exits_0_on_ctrl_c(
        tmp_path: Path, receiver: Rsyslog) -> None:
    path, vault_id = new_vault(tmp_path)
    proc = _follower(path, receiver)
    try:
        assert receiver.lines(expected=1), "nothing arrived while following"
        # Another process unlocks and writes while the follower runs and writes its own
        # audit.forward events: no false rollback either way (the unlock re-reads the header).
        add_events(path, 5)
        lines = _settle(receiver)
        assert "test.event" in {json.loads(x)["action"] for x in lines}
        time.sleep(2.5)  # two polls with nothing new: no audit.forward of audit.forward
        assert receiver.lines() == lines
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert seqs(lines) == list(range(1, len(lines) + 1))
    assert verify_lines(lines, vault_id=vault_id).ok
    assert b"Forwarded" in out


def test_follow_rides_out_a_receiver_restart(tmp_path: Path, receiver: Rsyslog) -> None:
    """--follow with the receiver stopped and started under it: one line on stderr per failed
    try, and once it is back every event arrives once and in order."""
    path, vault_id = new_vault(tmp_path)
    proc = _follower(path, receiver)
    try:
        assert receiver.lines(expected=1)
        before = _settle(receiver)
        receiver.stop()
        add_events(path, 4)
        time.sleep(2.5)  # at least one failed try while it is down
        receiver.start()
        lines = receiver.lines(expected=len(before) + 5, timeout=60)  # the unlock and 4 events
        lines = _settle(receiver)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"connection refused" in err and b"retrying in" in err
    assert seqs(lines) == list(range(1, len(lines) + 1))
    chain = verify_lines(lines, vault_id=vault_id)
    assert chain.ok and chain.duplicates == 0, chain.reason


def _follower(path: Path, receiver: Rsyslog) -> subprocess.Popen[bytes]:
    """``audit forward --follow`` to the receiver over TCP, polling every second."""
    read_end, write_end = os.pipe()
    os.write(write_end, (PASSPHRASE + "\n").encode())
    os.close(write_end)
    proc = subprocess.Popen(
        [sys.executable, "-m", "strongroom", "--vault", str(path), "--passphrase-fd",
         str(read_end), "audit", "forward", "--to", receiver.address, "--tcp", "--follow",
         "--interval", "1"], pass_fds=(read_end,), env=_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    os.close(read_end)
    return proc


def _settle(receiver: Rsyslog, quiet: float = 2.0, limit: float = 60) -> list[str]:
    """The receiver's lines once nothing new arrived for ``quiet`` seconds."""
    deadline = time.monotonic() + limit
    lines, since = receiver.lines(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = receiver.lines()
        if now != lines:
            lines, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return lines
