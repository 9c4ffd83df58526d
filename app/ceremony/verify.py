"""Verify a ceremony transcript offline, with ``cryptography`` only, and name the first problem.

Checked in order: the script's SHA-256; the chain from its genesis (a changed, removed, moved or
duplicated record is named by its seq); the ``end`` record and what it binds (the ceremony block
and the public keys known then); the roles against the script; every signature (each over the
final head); that the Ceremony Administrator and the Witness named in the ceremony block signed
it, and the key the script names, if any; that a public key added after the end is one that
signed; and, with ``files_dir`` (the run's output folder), every output file's SHA-256.

What this proves: nothing in the transcript changed since the holders of the keys it names signed
it. That a key is alice's was checked when she signed (her keyslot had to open); an auditor can
compare each key's fingerprint (the PDF) with the vault.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ..errors import StrongroomError, UsageError
from ..keys import algorithms
from ..keys.ports import SignAlgorithm
from . import script as ceremony_script
from . import transcript_shape as shape
from .transcript import (
    KEY_SIGNATURE_CONTEXT,
    Fido2Signature,
    KeySignature,
    RecordType,
    Signature,
    Transcript,
    TranscriptInvalid,
    bindings,
    script_sha256,
)

# The relying party of every Strongroom FIDO2 credential: the value of RP_ID in
# backends/fido2/_relying_party.py, copied as data (the core imports no backend).
RP_ID = "strongroom.local"
_FLAG_USER_PRESENT = 0x01
_CHUNK = 1 << 20


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    first_problem: str | None
    records: int  # records that checked, from the first
    signatures_checked: int
    files_checked: int
    head: str = ""  # the final head (of the records that checked)
    seq: int | None = None  # the record the first problem is in, when it is in one


class _Problem(Exception):  # internal: stops the walk at the first problem
    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


@dataclass
class _Counts:
    records: int = 0
    signatures: int = 0
    files: int = 0
    head: str = ""
    signers: set[tuple[str, str, str]] = field(default_factory=set)  # (method, role, who)


def verify(transcript: Transcript, files_dir: Path | str | None = None) -> VerifyReport:
    """The transcript checked; ``files_dir`` (UsageError if it is not a directory) is where the
    output records' files are."""
    folder = None if files_dir is None else Path(files_dir)
    if folder is not None and not folder.is_dir():
        raise UsageError(f"{folder} is not a directory of the ceremony's output files")
    counts = _Counts()
    try:
        _check(transcript, folder, counts)
    except _Problem as p:
        return VerifyReport(False, str(p), counts.records, counts.signatures, counts.files,
                            counts.head, p.seq)
    return VerifyReport(True, None, counts.records, counts.signatures, counts.files, counts.head)


def verify_file(path: Path | str, files_dir: Path | str | None = None) -> VerifyReport:
    """Load and verify a transcript file. A file that is not a transcript is a report with its
    problem (exit 3, like any other); a missing file or a bad ``files_dir`` raises."""
    try:
        transcript = Transcript.load(path)
    except TranscriptInvalid as e:
        return VerifyReport(False, str(e), 0, 0, 0)
    return verify(transcript, files_dir)


def _check(t: Transcript, folder: Path | None, counts: _Counts) -> None:
    c = t.ceremony
    if script_sha256(c.script) != c.script_sha256:
        raise _Problem("the script is not the one the ceremony ran: its SHA-256 differs")
    broken = t.chain.problem()
    checked = t.records if broken is None else t.records[:broken[0] - 1]
    counts.records = len(checked)
    counts.head = checked[-1].hash if checked else t.chain.genesis
    if broken is not None:
        raise _Problem(broken[1], t.records[broken[0] - 1].seq)
    if not t.ended:
        raise _Problem("the transcript has no end record: the ceremony did not finish")
    end = t.records[-1]
    bound = bindings(c, t.operator_keys, t.ceremony_keys)
    if end.data.get("ceremony") != bound["ceremony"]:
        raise _Problem("the ceremony block (its name, vault, start or roles) was changed after "
                       "the end record", end.seq)
    for part in ("operators", "keys"):
        listed = end.data.get(part)
        if not isinstance(listed, dict):
            raise _Problem(f"the end record does not list the {part}' public keys", end.seq)
        for key, digest in listed.items():
            if bound[part].get(key) != digest:
                raise _Problem(f"the public key of {key} was changed or removed after the end "
                               "record", end.seq)
    script = _script(c.script)
    _check_roles(t, script)
    for index, signature in enumerate(t.signatures, start=1):
        why = _signature_problem(t, signature)
        if why is not None:
            raise _Problem(f"signature {index} ({_who(signature)}): {why}")
        counts.signatures += 1
        counts.signers.add(_signer(signature))
    _check_signers(t, script, counts.signers)
    for part, method, present in (("operators", "fido2", t.operator_keys),
                                  ("keys", "key", t.ceremony_keys)):
        for key in present:
            if key not in end.data[part] and not any(m == method and who == key
                                                     for m, _, who in counts.signers):
                raise _Problem(f"the public key of {key} was added after the end record and "
                               "made no signature")
    if folder is not None:
        _check_files(t, folder, counts)


def _script(text: str) -> ceremony_script.Script:
    try:
        return ceremony_script.parse(text, "the transcript's script")
    except Exception as e:  # noqa: BLE001 - whatever the parser raises, it is a problem named
        raise _Problem(f"the script does not parse: {' '.join(str(e).split())[:200]}") from None


def _check_roles(t: Transcript, script: ceremony_script.Script) -> None:
    for role_id, people in t.ceremony.roles.items():
        spec = script.roles.get(role_id)
        if spec is None:
            raise _Problem(f"the ceremony block names a role {role_id!r} the script does not")
        allowed = {p.casefold() for p in spec.operators}
        for person in people:
            if person.casefold() not in allowed:
                raise _Problem(f"{person} filled role {role_id!r}, which the script does not "
                               "let them")
    for kind in ("ceremony-administrator", "witness"):
        spec = script.role_of_kind(kind)
        if spec is None or not t.ceremony.roles.get(spec.id):
            raise _Problem(f"no one filled the {kind} role")


def _check_signers(t: Transcript, script: ceremony_script.Script,
                   signers: set[tuple[str, str, str]]) -> None:
    for kind, title in (("ceremony-administrator", "Ceremony Administrator"),
                        ("witness", "Witness")):
        spec = script.role_of_kind(kind)
        assert spec is not None  # noqa: S101 - _check_roles found it
        for person in t.ceremony.roles[spec.id]:
            if ("fido2", spec.id, person) not in signers:
                raise _Problem(f"the {title} {person} (role {spec.id!r}) did not sign the head")
    if script.sign_with is not None and ("key", "key", script.sign_with) not in signers:
        raise _Problem(f"the script has the key {script.sign_with!r} sign the transcript, but "
                       "it did not")


def _signature_problem(t: Transcript, s: Signature) -> str | None:
    if s.head != t.head:
        return "it is over another head, not the transcript's final one"
    if isinstance(s, KeySignature):
        spki = t.ceremony_keys.get(s.key)
        if spki is None:
            return f"the transcript has no public key for {s.key}"
        return key_signature_problem(s, spki)
    if s.operator not in t.ceremony.roles.get(s.role, ()):
        return f"the ceremony block does not name {s.operator} in role {s.role!r}"
    key = t.operator_keys.get(s.operator)
    if key is None:
        return f"the transcript has no public key for {s.operator}"
    if not hmac.compare_digest(key.credential_id, s.credential_id):
        return f"it is by another credential than {s.operator}'s"
    return fido2_problem(s, key.spki)


def fido2_problem(s: Fido2Signature, spki: bytes) -> str | None:
    """Why a FIDO2 assertion is not a signature of ``s.head`` by the credential ``spki``, or
    None: a webauthn.get client data whose challenge is the head, authenticator data for our
    relying party with the user present, and the signature over authenticatorData ‖
    SHA-256(clientDataJSON) under the key."""
    try:
        client = json.loads(s.client_data_json.decode("utf-8"))
        if not isinstance(client, dict) or not isinstance(client.get("challenge"), str):
            return "the client data does not parse"
        signed = _b64url(client["challenge"])
    except (ValueError, RecursionError):
        return "the client data does not parse"
    if client.get("type") != "webauthn.get":
        return "the client data is not a webauthn.get"
    if not hmac.compare_digest(signed, bytes.fromhex(s.head)):
        return "the assertion's challenge is not the head"
    auth = s.authenticator_data
    if len(auth) < 37 or not hmac.compare_digest(auth[:32],
                                                 hashlib.sha256(RP_ID.encode()).digest()):
        return f"the authenticator data is not for {RP_ID}"
    if not auth[32] & _FLAG_USER_PRESENT:
        return "the security key did not see the user present"
    return _verify(spki, auth + hashlib.sha256(s.client_data_json).digest(), s.signature, None)


def key_signature_problem(s: KeySignature, spki: bytes) -> str | None:
    """Why ``s`` is not the key's signature over KEY_SIGNATURE_CONTEXT ‖ the head, or None."""
    return _verify(spki, KEY_SIGNATURE_CONTEXT + bytes.fromhex(s.head), s.signature,
                   SignAlgorithm(s.algorithm))


def _verify(spki: bytes, message: bytes, signature: bytes,
            algorithm: SignAlgorithm | None) -> str | None:
    """None if ``signature`` checks; ``algorithm`` None: the one a FIDO2 credential of this key
    type signs with (ES256, ES384, EdDSA)."""
    try:
        public = algorithms.load_public_key(spki)
        if algorithm is None:
            algorithm = _assertion_algorithm(public)
        if algorithms.verify(public, message, signature, algorithm):
            return None
    except (StrongroomError, ValueError) as e:
        return f"the signature does not check ({e})"
    return "the signature does not check under the signer's public key"


def _assertion_algorithm(public: algorithms.PublicKey) -> SignAlgorithm:
    if isinstance(public, ed25519.Ed25519PublicKey):
        return SignAlgorithm.Ed25519
    if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1":
        return SignAlgorithm.EcdsaSha256
    if isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp384r1":
        return SignAlgorithm.EcdsaSha384
    raise ValueError("the credential's key is of a kind FIDO2 assertions here do not use")


def _b64url(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as e:
        raise ValueError("not base64url") from e


def _check_files(t: Transcript, folder: Path, counts: _Counts) -> None:
    root = folder.resolve()
    for record in t.records:
        if record.type is not RecordType.Output:
            continue
        why = shape.output_problem(record.data)
        if why is not None:
            raise _Problem(f"output record {record.seq} {why}", record.seq)
        name, recorded = record.data["file"], record.data["sha256"]
        path = (root / name).resolve()
        if not path.is_relative_to(root):
            raise _Problem(f"output record {record.seq}: {name} lies outside {folder}",
                           record.seq)
        if not path.is_file():
            raise _Problem(f"output record {record.seq}: the file {name} is missing from "
                           f"{folder}", record.seq)
        if _sha256(path) != recorded:
            raise _Problem(f"output record {record.seq}: the file {name} is not the one the "
                           "ceremony wrote (its SHA-256 differs)", record.seq)
        counts.files += 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError as e:
        raise _Problem(f"cannot read {path.name}: {e.strerror or type(e).__name__}") from None
    return digest.hexdigest()


def _signer(s: Signature) -> tuple[str, str, str]:
    return ("fido2", s.role, s.operator) if isinstance(s, Fido2Signature) else ("key", "key",
                                                                               s.key)


def _who(s: Signature) -> str:
    return (f"{s.operator} as {s.role}" if isinstance(s, Fido2Signature)
            else f"the key {s.key}")

