"""The RFC 5424 encoder and the receiver's verifier, without a network: any action, target and
details text gives a message a strict parser reads back (octet count in octets, structured data
escaped, MSG the event), and the verifier accepts what the vault chained and nothing else."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.app.forwarding import store
from strongroom.app.forwarding.store import ForwardSettings
from strongroom.app.forwarding.syslog import (
    SD_ID,
    Header,
    WireEvent,
    frame,
    message,
    payload,
    pri,
)
from strongroom.app.forwarding.transport import Destination
from strongroom.app.forwarding.verify import verify_lines

from conftest import make_vault

HEADER = Header(hostname="host.example", app_name="strongroom", procid="4242", facility=13)
_TOKEN = r"[!-~]+"
_HEAD = re.compile(rf"<(\d{{1,3}})>1 ({_TOKEN}) ({_TOKEN}) ({_TOKEN}) ({_TOKEN}) ({_TOKEN}) ")


def parse_frames(stream: bytes) -> list[bytes]:
    """RFC 6587 octet counting, strictly: digits, one space, exactly that many octets."""
    out = []
    while stream:
        length, space, rest = stream.partition(b" ")
        assert space and length.isdigit() and not length.startswith(b"0"), stream[:20]
        n = int(length)
        assert len(rest) >= n
        out.append(rest[:n])
        stream = rest[n:]
    return out


def parse_message(msg: bytes) -> tuple[int, list[str], dict[str, str], bytes]:
    """PRI, the five header fields, the SD params (unescaped) and MSG of an RFC 5424 message."""
    text = msg.decode("utf-8")
    head = _HEAD.match(text)
    assert head, text[:120]
    rest = text[head.end():]
    assert rest.startswith(f"[{SD_ID}")
    i = len(SD_ID) + 1
    params: dict[str, str] = {}
    while rest[i] == " ":
        eq = rest.index("=", i)
        name = rest[i + 1:eq]
        assert re.fullmatch(r"[!#-<>-Z^-~]{1,32}", name), name  # no = ] " or space
        assert rest[eq + 1] == '"'
        j, value = eq + 2, []
        while rest[j] != '"':
            assert rest[j] != "]", "an unescaped ] inside a PARAM-VALUE"
            if rest[j] == "\\" and rest[j + 1] in '"\\]':
                j += 1
            value.append(rest[j])
            j += 1
        params[name] = "".join(value)
        i = j + 1
    assert rest[i:i + 2] == "] ", rest[i:i + 10]
    body = rest[i + 2:].encode("utf-8")
    return int(head.group(1)), list(head.groups()[1:]), params, body


def wire(seq: int = 1, action: str = "secret.read", target: str = "prod/db",
         outcome: str = "ok", details: dict | None = None) -> WireEvent:
    return WireEvent("v" * 32, seq, "2026-12-06T22:00:00.123456Z", "alice", action, target,
                     outcome, details or {}, bytes(32), bytes(range(32)))


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
details_values = st.dictionaries(texts, st.one_of(texts, st.integers(-2**53, 2**53),
                                                  st.booleans(), st.none()), max_size=4)


@given(action=texts, target=texts, outcome=st.sampled_from(["ok", "failed", "denied", "x]"]),
       details=details_values, seq=st.integers(1, 2**62))
@settings(max_examples=400, deadline=None)
def test_any_event_encodes_to_a_message_a_strict_parser_reads_back(
        action: str, target: str, outcome: str, details: dict, seq: int) -> None:
    event = wire(seq, action, target, outcome, details)
    msg = message(event, HEADER)
    framed = frame(msg)
    assert parse_frames(framed + framed) == [msg, msg]  # the count is in octets, not characters
    assert b"\n" not in msg and b"\x00" not in msg
    prival, fields, params, body = parse_message(msg)
    assert prival == pri(13, outcome) and prival // 8 == 13
    assert fields[0] == "2026-12-06T22:00:00.123456Z"
    assert fields[1:4] == ["host.example", "strongroom", "4242"]
    assert fields[4] == (action if re.fullmatch(r"[!-~]{1,32}", action) else "-")
    assert params["seq"] == str(seq)
    shown = "".join("\ufffd" if c < " " or "\x7f" <= c <= "\x9f" else c for c in action)
    assert params["action"] == shown
    assert body == payload(event) and body.isascii()
    assert json.loads(body) == event.to_json()


def test_severity_follows_the_outcome() -> None:
    assert [pri(13, o) for o in ("ok", "failed", "denied", "other")] == [110, 109, 108, 109]
    assert pri(16, "ok") == 134  # local0.info


def test_a_time_rfc_5424_cannot_hold_becomes_nil() -> None:
    for ts in ("2026-12-06T22:00:00.1234567Z", "yesterday", "2026-12-06 22:00:00Z"):
        event = replace(wire(), ts=ts)
        assert parse_message(message(event, HEADER))[1][0] == "-"


def test_header_fields_are_checked() -> None:
    for bad in ({"app_name": "a b"}, {"app_name": "x" * 49}, {"hostname": "é"},
                {"facility": 24}, {"procid": ""}):
        try:
            Header(**bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")


@given(st.lists(st.tuples(texts, texts, details_values), min_size=1, max_size=25))
@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_events_the_vault_chained_verify_from_their_messages(
        tmp_path_factory: pytest.TempPathFactory,
        recorded: list[tuple[str, str, dict]]) -> None:
    """What app/audit.py hashed, sent and parsed back, verifies; any change to a field fails."""
    vault = make_vault(tmp_path_factory.mktemp("v") / "vault")
    try:
        for action, target, details in recorded:
            vault.record(action, target, details=details)
        cursor = store.unsaved("t", ForwardSettings(Destination("127.0.0.1", 514, tls=False)))
        events = store.pending(vault, cursor, 100)
    finally:
        vault.lock()
    lines = [parse_message(message(e, HEADER))[3].decode() for e in events]
    report = verify_lines(lines, vault_id=events[0].vault)
    assert report.ok and report.events == len(events) == len(recorded) + 1, report.reason
    for field in ("target", "action", "actor", "ts"):
        changed = json.loads(lines[-1])
        changed[field] += "x"
        assert not verify_lines([*lines[:-1], json.dumps(changed)]).ok
    changed = json.loads(lines[-1])
    changed["details"]["added"] = 1
    assert not verify_lines([*lines[:-1], json.dumps(changed)]).ok


def chain_lines(folder: Path, n: int = 5) -> tuple[str, list[str]]:
    path_vault = make_vault(folder / "vault")
    try:
        for i in range(n):
            path_vault.record("test.event", f"t{i}", details={"i": i})
        cursor = store.unsaved("t", ForwardSettings(Destination("127.0.0.1", 514, tls=False)))
        events = store.pending(path_vault, cursor, 100)
    finally:
        path_vault.lock()
    return events[0].vault, [payload(e).decode() for e in events]


def test_the_verifier_drops_repeats_and_names_gaps_forks_and_other_vaults(
        tmp_path: Path) -> None:
    vault_id, lines = chain_lines(tmp_path)
    ok = verify_lines(lines[:4] + lines[2:], vault_id=vault_id)  # a batch sent again
    assert ok.ok and ok.duplicates == 2 and ok.events == len(lines)
    gap = verify_lines(lines[:2] + lines[3:])
    assert not gap.ok and "event 3 is missing" in gap.reason
    forked = json.loads(lines[2])
    forked["hash"] = "00" * 32
    assert "different hashes" in verify_lines(
        [*lines[:3], json.dumps(forked), *lines[3:]]).reason
    assert "another vault" in verify_lines(lines, vault_id="0" * 32).reason
    genesis_wrong = json.loads(lines[0])
    genesis_wrong["prev"] = "11" * 32
    assert not verify_lines([json.dumps(genesis_wrong)], vault_id=vault_id).ok
    assert verify_lines(lines[2:]).ok  # a receiver that joined later checks from there on
    assert "not a forwarded audit event" in verify_lines(["<14>1 junk"]).reason
