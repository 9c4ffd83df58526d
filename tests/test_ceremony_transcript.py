"""Ceremony transcripts: the hash chain, the signatures over its head (two operators' security
keys through python-fido2's real client on software authenticators, and a SoftHSM2 key), offline
verification that names the first problem, the PDF for the binder, and a hostile parser."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from fido2 import cbor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.app.access import approvals, operator_admin
from strongroom.app.ceremony import transcript_pdf, transcript_shape
from strongroom.app.ceremony.signing import sign_head_with_fido2, sign_head_with_key
from strongroom.app.ceremony.transcript import (
    KEY_SIGNATURE_CONTEXT,
    Ceremony,
    Fido2Signature,
    Record,
    RecordType,
    Transcript,
    TranscriptInvalid,
    genesis,
    make_record,
    record_hash,
)
from strongroom.app.ceremony.verify import RP_ID, VerifyReport, fido2_problem, verify, verify_file
from strongroom.app.errors import AuthenticationFailed, IntegrityError, Refused, UsageError
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.fingerprints import fingerprint_words, grouped_hex
from strongroom.app.keys.ports import KeyType
from strongroom.app.keyslots import PassphraseUnlocker, b64e, normalize_passphrase
from strongroom.app.unlock_methods import HardwareUnlocker
from strongroom.app.vault import Vault
from strongroom.backends.fido2 import Fido2Source, _relying_party
from strongroom.backends.fido2._evidence import spki_of

from conftest import PASSPHRASE
from helpers.soft_ctap2 import SoftAuthenticator
from helpers.softhsm import softhsm  # noqa: F401 - session fixture

CAROL, DAVE = "carol pass phrase 7", "dave pass phrase 8"
SCRIPT = """\
[ceremony]
name = "Test root 2027"
purpose = "A transcript to verify"
version = 1
sign_transcript_with = "root"

[roles.admin]
kind = "ceremony-administrator"
operators = ["carol"]

[roles.witness]
kind = "witness"
operators = ["dave"]

[roles.officers]
kind = "crypto-officer"
operators = ["erin"]
quorum = 1

[preflight]
offline = true
checks = ["disk-encryption"]
token = { store = "pkcs11", label = "ceremony" }
output = "out"

[[steps]]
id = "welcome"
kind = "instruction"
role = "admin"
text = "Read the script aloud."

[[steps]]
id = "root-key"
kind = "generate-key"
role = "officers"
label = "root"
type = "ec-p256"

[[steps]]
id = "export"
kind = "export-public-key"
role = "officers"
key = "root"
output = "root.pub.pem"
"""
OUTPUTS = {"root.pub.pem": b"-----BEGIN PUBLIC KEY-----\nnot really\n",
           "notes.txt": "Ceremony notes — été\n".encode()}


@dataclass
class Signed:
    """A finished, signed transcript, the files it names, and what else the tests need."""

    transcript: Transcript
    files: Path
    other: Fido2Signature  # carol's assertion over another transcript's head


def as_(path: Path, passphrase: str, operator: str | None = None) -> Vault:
    v = Vault.open(path)
    v.unlock(PassphraseUnlocker.from_text(passphrase), operator=operator)
    return v


def new_transcript(ceremony_id: str = "c-2027-01") -> Transcript:
    ceremony = Ceremony.new(ceremony_id, "Test root 2027", SCRIPT, "vault-1",
                            "2027-01-02T09:00:00Z", {"admin": ["carol"], "witness": ["dave"],
                                                     "officers": ["erin"]})
    return Transcript.begin(ceremony)


def fill(t: Transcript, files: Path, spki: bytes) -> None:
    """The records of a short ceremony, made by hand (no runner)."""
    ts = iter(f"2027-01-02T09:{m:02d}:00Z" for m in range(1, 60))
    t.append("preflight", ts=next(ts), actor="carol",
             data={"offline": True, "checks": {"disk-encryption": "pass"}})
    t.append(RecordType.Clock, ts=next(ts), actor="dave", data={"skew_seconds": 3})
    t.append("confirm", ts=next(ts), step="welcome", actor="carol", data={"method": "fido2"})
    t.append("step", ts=next(ts), step="root-key", actor="erin",
             data={"key": "root", "fingerprint": hashlib.sha256(spki).hexdigest()})
    t.append("exception", ts=next(ts), step="root-key", actor="dave",
             data={"text": "The token's seal number was read twice — ünïcode kept."})
    t.add_ceremony_key("root", spki)
    for name, content in OUTPUTS.items():
        (files / name).write_bytes(content)
        t.append("output", ts=next(ts), step="export", actor="erin",
                 data={"file": name, "sha256": hashlib.sha256(content).hexdigest()})
    t.finish(ts=next(ts), actor="carol")


@pytest.fixture(scope="module")
def signed(softhsm, tmp_path_factory) -> Signed:  # noqa: F811 - the imported session fixture
    base = tmp_path_factory.mktemp("ceremony")
    path = base / "vault"
    with Vault.create(path, normalize_passphrase(PASSPHRASE), kdf_time_ms=10,
                      actor="alice") as v:
        operator_admin.add_operator(v, "carol", CAROL.encode(), kdf_time_ms=10,
                                    roles=["Administrator", "Ceremony Administrator"])
        ok = approvals.approve(v, "access.change", "operator:dave", "carol",
                               PassphraseUnlocker.from_text(CAROL))
        operator_admin.add_operator(v, "dave", DAVE.encode(), roles=["Witness"], kdf_time_ms=10,
                                    approval=ok)
    sources = {}
    for name, passphrase in (("carol", CAROL), ("dave", DAVE)):
        key = SoftAuthenticator()
        sources[name] = Fido2Source(lambda key=key: [key])
        with as_(path, passphrase, name) as me:
            me.add_hardware_slot(sources[name], label=f"{name}'s key")

    _, store = key_tokens.open_store("pkcs11", token=softhsm.take_token(), pin=softhsm.pin)
    try:
        root = store.generate("root", KeyType.EcP256)
        files = base / "out"
        files.mkdir()
        t = new_transcript()
        fill(t, files, root.public_key)
        draft = new_transcript("c-2027-draft")
        draft.finish(ts="2027-01-02T08:00:00Z", actor="carol")
        with as_(path, PASSPHRASE) as alice:
            def unlocker(name: str) -> HardwareUnlocker:
                return HardwareUnlocker(sources[name], alice.vault_id)

            with pytest.raises(Refused, match="has not ended"):
                sign_head_with_fido2(alice, new_transcript(), "carol", "admin",
                                     unlocker("carol"))
            with pytest.raises(AuthenticationFailed):
                sign_head_with_fido2(alice, t, "carol", "admin", unlocker("dave"))
            with pytest.raises(UsageError, match="carol does not fill role 'witness'"):
                sign_head_with_fido2(alice, t, "carol", "witness", unlocker("carol"))
            with pytest.raises(Refused, match="dave does not hold the role 'Ceremony Admin"):
                _refuse_role(alice, t)
            sign_head_with_fido2(alice, t, "carol", "admin", unlocker("carol"))
            sign_head_with_fido2(alice, t, "dave", "witness", unlocker("dave"))
            other = sign_head_with_fido2(alice, draft, "carol", "admin", unlocker("carol"))
        sign_head_with_key(store, root, t, None)
    finally:
        store.close()
    return Signed(t, files, other)


def _refuse_role(vault: Vault, t: Transcript) -> None:
    """dave fills no admin role: as if the block said so, he still lacks the Strongroom role."""
    forged = Transcript(replace(t.ceremony, roles={**t.ceremony.roles, "admin": ("dave",)}),
                        t.chain)
    sign_head_with_fido2(vault, forged, "dave", "admin", HardwareUnlocker(
        Fido2Source(lambda: []), vault.vault_id))


def clone(t: Transcript) -> Transcript:
    return Transcript.from_json(copy.deepcopy(t.to_json()))


def fails(t: Transcript, *needles: str, files: Path | None = None) -> VerifyReport:
    report = verify(t, files)
    assert not report.ok, "the tampered transcript verified"
    assert report.first_problem is not None and "\n" not in report.first_problem
    for needle in needles:
        assert needle in report.first_problem, report.first_problem
    return report


# ----- the chain ----------------------------------------------------------------------------------


def test_genesis_and_record_hash_are_the_documented_bytes() -> None:
    digest = hashlib.sha256(b"script").hexdigest()
    assert genesis("c-1", digest) == hashlib.sha256(
        b"strongroom ceremony\x00c-1\x00" + bytes.fromhex(digest)).hexdigest()
    made = make_record(seq=1, ts="t", kind="clock", step=None, actor="dave",
                       data={"b": 1, "a": "é"}, prev=genesis("c-1", digest))
    body = b'{"actor":"dave","data":{"a":"\xc3\xa9","b":1},"prev":"%s","seq":1,"step":null,' \
           b'"ts":"t","type":"clock"}' % made["prev"].encode()
    assert made["hash"] == hashlib.sha256(bytes.fromhex(made["prev"]) + body).hexdigest()
    assert record_hash(made) == made["hash"] == Record.from_json(made).hash
    with pytest.raises(UsageError):
        genesis("c\x00", digest)


@pytest.mark.parametrize("kind, data, message", [
    ("party", {}, "type is not one of"),
    ("step", {"x": 1.5}, "holds a float"),
    ("step", {"x": 2**60}, "beyond"),
    ("step", {"x": "y" * (64 * 1024)}, "larger than 64 KiB"),
    ("step", {"x": json.loads("[" * 20 + "]" * 20)}, "nests deeper"),
    ("step", {"x": "\ud800"}, "not valid Unicode"),
    ("output", {"file": "a.pem"}, "SHA-256"),
    ("output", {"file": "../a.pem", "sha256": "0" * 64}, "not a path inside"),
    ("output", {"file": "/etc/passwd", "sha256": "0" * 64}, "not a path inside"),
])
def test_append_refuses_what_the_format_does_not_hold(kind: str, data: dict[str, Any],
                                                      message: str) -> None:
    t = new_transcript()
    with pytest.raises(UsageError, match=message):
        t.append(kind, ts="2027-01-02T09:00:00Z", actor="carol", data=data)
    with pytest.raises(UsageError, match="not a name"):
        t.append("clock", ts="2027\n", actor="carol")
    assert t.records == () and t.head == t.ceremony.genesis


def test_the_end_closes_the_chain_and_binds_the_block() -> None:
    t = new_transcript()
    with pytest.raises(UsageError, match="finish"):
        t.append("end", ts="t")
    t.append("clock", ts="t", actor="dave", data={"skew_seconds": 1})
    data = {"k": 1}
    end = t.finish(ts="t2", actor="carol", data=data)
    data["k"] = 2  # the caller's dict is copied
    assert t.records[-1].data["k"] == 1 and end.type is RecordType.End
    assert set(end.data) == {"k", "ceremony", "operators", "keys"}
    with pytest.raises(Refused, match="has ended"):
        t.chain.append("clock", ts="t3")
    resumed = Transcript.begin(t.ceremony, t.records)
    assert resumed.head == t.head
    with pytest.raises(TranscriptInvalid, match="record 1"):
        Transcript.begin(t.ceremony, [replace(t.records[0], ts="x"), t.records[1]])


# ----- verification -------------------------------------------------------------------------------


def test_the_signed_transcript_verifies_with_its_files(signed: Signed) -> None:
    t = signed.transcript
    report = verify(t, signed.files)
    assert report == VerifyReport(True, None, len(t.records), 3, len(OUTPUTS), t.head)
    assert [(s.role, getattr(s, "operator", None)) for s in t.signatures] == [
        ("admin", "carol"), ("witness", "dave"), ("key", None)]
    assert set(t.operator_keys) == {"carol", "dave"} and set(t.ceremony_keys) == {"root"}
    assert verify(t).files_checked == 0 and verify(t).ok
    key = t.signatures[2]  # checked here with cryptography alone, as the format says
    public = serialization.load_der_public_key(t.ceremony_keys["root"])
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(key.signature, KEY_SIGNATURE_CONTEXT + bytes.fromhex(t.head),
                  ec.ECDSA(hashes.SHA256()))
    assert RP_ID == _relying_party.RP_ID  # the app's copy of the backend's constant


def test_the_file_round_trips_and_verifies(signed: Signed, tmp_path: Path) -> None:
    t = signed.transcript
    path = tmp_path / "transcript.json"
    t.save(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "strongroom-ceremony-transcript" and doc["version"] == 1
    assert doc["ceremony"]["script"] == SCRIPT
    assert doc["signatures"][0]["evidence"].keys() == {
        "credential_id", "authenticator_data", "client_data_json", "signature"}
    assert Transcript.load(path).to_json() == t.to_json()
    assert verify_file(path, signed.files).ok


@pytest.mark.parametrize("field_name", ["seq", "ts", "type", "step", "actor", "data", "prev",
                                        "hash"])
def test_changing_any_field_of_any_record_names_that_record(signed: Signed,
                                                            field_name: str) -> None:
    for index, original in enumerate(signed.transcript.records):
        doc = copy.deepcopy(signed.transcript.to_json())
        record = doc["records"][index]
        record[field_name] = {
            "seq": record["seq"] + 10, "ts": record["ts"] + "Z",
            "type": "clock" if record["type"] != "clock" else "step",
            "step": (record["step"] or "") + "x", "actor": (record["actor"] or "") + "x",
            "data": {**record["data"], "extra": True}, "prev": "0" * 64,
            "hash": hashlib.sha256(b"x").hexdigest()}[field_name]
        report = fails(Transcript.from_json(doc), f"record {record['seq']}")
        assert report.seq == record["seq"] and report.records == index, report
        assert original.seq == index + 1


def test_every_byte_of_the_file_matters(signed: Signed) -> None:
    """Flip one bit of every byte of the transcript file: it no longer loads, or no longer
    verifies."""
    data = signed.transcript.to_bytes()
    for i in range(len(data)):
        flipped = data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]
        try:
            t = Transcript.from_json(transcript_shape.parse_json(flipped))
        except TranscriptInvalid:
            continue
        assert not verify(t).ok, f"flipping byte {i} ({data[i:i + 1]!r}) went unseen"


@pytest.mark.parametrize("edit, seq", [
    (lambda rs: rs.pop(2), 4),  # removed
    (lambda rs: rs.insert(3, rs.pop(2)), 4),  # reordered
    (lambda rs: rs.insert(3, copy.deepcopy(rs[2])), 3),  # duplicated
    (lambda rs: rs.insert(0, copy.deepcopy(rs[0])), 1),
])
def test_a_removed_moved_or_duplicated_record_is_named(signed: Signed,
                                                       edit: Callable[[list[Any]], Any],
                                                       seq: int) -> None:
    doc = copy.deepcopy(signed.transcript.to_json())
    edit(doc["records"])
    report = fails(Transcript.from_json(doc), f"record {seq} ", "missing, duplicated or moved")
    assert report.seq == seq


def test_a_transcript_cut_short_fails(signed: Signed) -> None:
    doc = copy.deepcopy(signed.transcript.to_json())
    doc["records"].pop()
    fails(Transcript.from_json(doc), "no end record")


def test_a_swapped_or_missing_output_file_is_named(signed: Signed, tmp_path: Path) -> None:
    files = tmp_path / "out"
    shutil.copytree(signed.files, files)
    assert verify(signed.transcript, files).ok
    a, b = files / "root.pub.pem", files / "notes.txt"
    a_bytes = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(a_bytes)
    seq = next(r.seq for r in signed.transcript.records if r.data.get("file") == "root.pub.pem")
    report = fails(signed.transcript, f"output record {seq}", "root.pub.pem",
                   "SHA-256 differs", files=files)
    assert report.seq == seq
    a.unlink()
    fails(signed.transcript, "root.pub.pem is missing", files=files)
    with pytest.raises(UsageError):
        verify(signed.transcript, files / "nowhere")


def test_an_assertion_by_the_wrong_credential_fails(signed: Signed) -> None:
    t = clone(signed.transcript)
    carol, dave = t.signatures[0], t.signatures[1]
    assert isinstance(carol, Fido2Signature) and isinstance(dave, Fido2Signature)
    t.signatures[0] = replace(dave, role="admin", operator="carol")  # dave's touch as carol's
    fails(t, "signature 1 (carol as admin)", "another credential")
    t.signatures[0] = replace(dave, role="admin", operator="carol",
                              credential_id=carol.credential_id)
    fails(t, "signature 1", "does not check")
    t = clone(signed.transcript)  # carol's entry now holds dave's key: the end record binds none,
    t.operator_keys["carol"] = t.operator_keys["dave"]  # but her signature no longer checks
    fails(t, "signature 1")


def test_a_signature_over_another_head_fails(signed: Signed) -> None:
    t = clone(signed.transcript)
    t.signatures[0] = signed.other
    fails(t, "signature 1 (carol as admin)", "over another head")
    t.signatures[0] = replace(signed.other, head=t.head)  # the assertion still signs the other
    fails(t, "signature 1", "challenge is not the head")
    t = clone(signed.transcript)
    key = t.signatures[2]
    t.signatures[2] = replace(key, head=signed.other.head)
    fails(t, "signature 3 (the key root)", "over another head")
    t.signatures[2] = replace(key, signature=key.signature[:-1] + bytes([key.signature[-1] ^ 1]))
    fails(t, "signature 3")


def test_a_missing_signer_fails(signed: Signed) -> None:
    t = clone(signed.transcript)
    del t.signatures[1]
    fails(t, "the Witness dave (role 'witness') did not sign")
    t = clone(signed.transcript)
    del t.signatures[0]
    fails(t, "the Ceremony Administrator carol (role 'admin') did not sign")
    t = clone(signed.transcript)
    del t.signatures[2]
    fails(t, "the key 'root' sign the transcript, but it did not")


def test_what_lies_outside_the_records_is_bound(signed: Signed) -> None:
    for change in (lambda c: replace(c, vault_id="vault-2"),
                   lambda c: replace(c, name="Another"),
                   lambda c: replace(c, roles={**c.roles, "witness": ("erin",)})):
        t = clone(signed.transcript)
        t.ceremony = change(t.ceremony)
        fails(t, "ceremony block")
    t = clone(signed.transcript)
    t.ceremony = replace(t.ceremony, script=t.ceremony.script + "\n")
    fails(t, "the script is not the one the ceremony ran")
    t = clone(signed.transcript)
    t.ceremony_keys["spare"] = t.ceremony_keys["root"]
    fails(t, "the public key of spare was added after the end record")
    t = clone(signed.transcript)
    t.ceremony_keys["root"] = t.operator_keys["carol"].spki
    fails(t, "public key of root was changed")


def test_fido2_evidence_carries_the_spki_of_p256_and_ed25519_keys() -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key()
    n = p256.public_numbers()
    cose = {1: 2, 3: -7, -1: 1, -2: n.x.to_bytes(32, "big"), -3: n.y.to_bytes(32, "big")}
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert spki_of(b64e(cbor.encode(cose))) == p256.public_bytes(*der)
    private = ed25519.Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    spki = spki_of(b64e(cbor.encode({1: 1, 3: -8, -1: 6, -2: raw})))
    assert spki == private.public_key().public_bytes(*der)
    assert spki_of(b64e(cbor.encode({1: 3, 3: -257}))) is None and spki_of("!") is None

    # An Ed25519 credential's assertion checks offline like an ES256 one.
    head = hashlib.sha256(b"head").hexdigest()
    challenge = base64.urlsafe_b64encode(bytes.fromhex(head)).rstrip(b"=").decode()
    client = json.dumps({"type": "webauthn.get", "challenge": challenge,
                         "origin": "https://strongroom.local"}).encode()
    auth = hashlib.sha256(RP_ID.encode()).digest() + b"\x01" + (7).to_bytes(4, "big")
    signature = private.sign(auth + hashlib.sha256(client).digest())
    s = Fido2Signature("admin", "carol", head, b"id", auth, client, signature)
    assert fido2_problem(s, spki) is None
    assert "user present" in fido2_problem(replace(s, authenticator_data=auth[:32] + b"\x00"
                                                   + auth[33:]), spki)
    assert "not for strongroom.local" in fido2_problem(
        replace(s, authenticator_data=hashlib.sha256(b"evil.example").digest() + auth[32:]), spki)
    assert "webauthn.get" in fido2_problem(
        replace(s, client_data_json=client.replace(b"webauthn.get", b"webauthn.create")), spki)


# ----- export -------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext is not installed")
def test_the_pdf_shows_the_head_roles_and_pgp_words(signed: Signed, tmp_path: Path) -> None:
    t = signed.transcript
    path = tmp_path / "transcript.pdf"
    transcript_pdf.save_pdf(t, path, generated="2027-01-02T10:00:00Z",
                            report=verify(t, signed.files))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    flat = " ".join(text.split())
    assert grouped_hex(t.head) in flat
    assert " ".join(fingerprint_words(t.head)) in flat
    for needle in ("ceremony-administrator", "witness", "carol", "dave", "FIDO2 assertion",
                   f"verified: {len(t.records)} records, 3 signatures, 2 files", "Test root 2027",
                   "exception", "seal number"):
        assert needle in flat, needle
    root = hashlib.sha256(t.ceremony_keys["root"]).hexdigest()
    assert fingerprint_words(root)[0] in flat and grouped_hex(root)[:19] in flat


# ----- a hostile file -----------------------------------------------------------------------------


def test_hostile_files_are_one_error(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    for content in (b"[" * 100_000 + b"]" * 100_000, b'{"a": 1e400}', b"\xff\xfe",
                    b'{"format": 1, "format": 2}', b"1" * 5000, b"NaN", b"",
                    b'{"format": "strongroom-ceremony-transcript"}'):
        path.write_bytes(content)
        with pytest.raises(TranscriptInvalid):
            Transcript.load(path)
        assert not verify_file(path).ok
    with path.open("wb") as f:
        f.truncate(16 * 1024 * 1024 + 1)
    with pytest.raises(TranscriptInvalid, match="larger than"):
        Transcript.load(path)
    assert issubclass(TranscriptInvalid, IntegrityError) and TranscriptInvalid.exit_code == 3


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_is_a_transcript_or_the_documented_error(value: Any) -> None:
    try:
        assert isinstance(Transcript.from_json(value), Transcript)
    except TranscriptInvalid as e:
        assert str(e) and "\n" not in str(e)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=6),
       value=json_values)
def test_a_valid_transcript_with_any_part_replaced_loads_or_fails_cleanly(
        signed: Signed, path: list[int], value: Any) -> None:
    doc = copy.deepcopy(signed.transcript.to_json())
    node: Any = doc
    for step in path[:-1]:
        if isinstance(node, dict) and node:
            node = node[sorted(node)[step % len(node)]]
        elif isinstance(node, list) and node:
            node = node[step % len(node)]
    if isinstance(node, dict) and node:
        node[sorted(node)[path[-1] % len(node)]] = value
    elif isinstance(node, list) and node:
        node[path[-1] % len(node)] = value
    try:
        t = Transcript.from_json(doc)
    except TranscriptInvalid:
        return
    report = verify(t)
    assert report.ok == (t.to_json() == signed.transcript.to_json())


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300) | st.sampled_from([SCRIPT.replace("witness", "observer"),
                                                SCRIPT.split("[[steps]]")[0], "roles = 1"]))
def test_a_transcript_made_around_any_script_is_verified_without_a_crash(script: str) -> None:
    """The chain and its end record hold, so the verifier reaches the script itself."""
    t = Transcript.begin(Ceremony.new("c-1", "x", script, "v", "t", {"admin": ["carol"]}))
    t.finish(ts="t", actor=None)
    report = verify(t)
    assert not report.ok and report.records == 1 and report.first_problem
