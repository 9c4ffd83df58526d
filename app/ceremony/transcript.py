"""A ceremony's transcript: hash-chained records, the ceremony they belong to, the public keys
and the signatures over the final head (docs/ceremonies.md, "The transcript").

The runner builds one with :meth:`Transcript.begin`, :meth:`Transcript.append` for each record,
:meth:`Transcript.finish` for the ``end`` record (which binds the ceremony block and the public
keys known by then into the chain), then has the head signed (signing.py) and saves it.
:meth:`Transcript.from_json` only checks the document's shape (types and sizes); verify.py checks
that the records, hashes and signatures hold.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..crypto import canonical_json
from ..errors import Refused, UsageError
from ..fsutil import atomic_write, read_bounded
from . import transcript_shape as shape
from .transcript_shape import TranscriptInvalid

__all__ = ["KEY_SIGNATURE_CONTEXT", "Ceremony", "Chain", "Fido2Signature", "KeySignature",
           "OperatorKey", "Record", "RecordType", "Signature", "Transcript", "TranscriptInvalid",
           "bindings", "genesis", "make_record", "record_hash", "script_sha256"]

FORMAT = "strongroom-ceremony-transcript"
VERSION = 1
GENESIS_TAG = b"strongroom ceremony"
# A ceremony key signs this followed by the 32 bytes of the head, never a bare digest.
KEY_SIGNATURE_CONTEXT = b"strongroom ceremony transcript head\x00"
MAX_FILE_BYTES = 16 * 1024 * 1024


class RecordType(StrEnum):
    Preflight = "preflight"
    Clock = "clock"
    Step = "step"  # a step done: its outputs' SHA-256, fingerprints
    Confirm = "confirm"  # an operator confirmed a step with their factor
    Approval = "approval"  # a quorum member
    Exception = "exception"  # the witness's text
    Output = "output"  # one file written: {"file": name in the output folder, "sha256": hex}
    Shares = "shares"  # commitments, never shares
    Resume = "resume"
    End = "end"  # binds the ceremony block and public keys: see bindings()


def script_sha256(script: str) -> str:
    """SHA-256 of the script text's UTF-8 bytes (the file as it was read), hex."""
    return hashlib.sha256(script.encode("utf-8")).hexdigest()


def genesis(ceremony_id: str, script_digest: str) -> str:
    """The first ``prev``: SHA-256("strongroom ceremony" ‖ 0x00 ‖ UTF-8(id) ‖ 0x00 ‖ the 32
    bytes of the script's SHA-256), hex. An id never holds a NUL, so the parts cannot run
    together."""
    try:
        shape.name(ceremony_id, "the ceremony id")
        digest = bytes.fromhex(shape.hex32(script_digest, "the script's SHA-256"))
    except ValueError as e:
        raise UsageError(str(e)) from None
    return hashlib.sha256(GENESIS_TAG + b"\x00" + ceremony_id.encode("utf-8") + b"\x00"
                          + digest).hexdigest()


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256(the 32 bytes of its ``prev`` ‖ canonical JSON of the record without ``hash``),
    hex; ``record`` as in the transcript (a ``hash`` in it is left out)."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(bytes.fromhex(record["prev"]) + canonical_json(body)).hexdigest()


def make_record(*, seq: int, ts: str, kind: RecordType | str, step: str | None,
                actor: str | None, data: Mapping[str, Any], prev: str) -> dict[str, Any]:
    """A record as JSON, its ``hash`` set, after checking what it is given (UsageError: a type
    the format does not have, a value out of bounds, data over 64 KiB, an output record without
    its file and SHA-256). ``data`` is copied."""
    try:
        checked = shape.record({"seq": seq, "ts": ts, "type": str(kind), "step": step,
                                "actor": actor, "data": dict(data), "prev": prev,
                                "hash": prev}, "the record")
        if checked["type"] == RecordType.Output:
            shape.output_data(checked["data"], "the output record")
    except ValueError as e:
        raise UsageError(str(e)) from None
    del checked["hash"]
    return {**checked, "hash": record_hash(checked)}


@dataclass(frozen=True)
class Record:
    seq: int
    ts: str
    type: RecordType
    step: str | None
    actor: str | None
    data: dict[str, Any]
    prev: str
    hash: str

    def body(self) -> dict[str, Any]:
        """What ``hash`` covers: every field but ``hash``."""
        return {"seq": self.seq, "ts": self.ts, "type": self.type.value, "step": self.step,
                "actor": self.actor, "data": self.data, "prev": self.prev}

    def to_json(self) -> dict[str, Any]:
        return {**self.body(), "hash": self.hash}

    @classmethod
    def from_json(cls, obj: Any, where: str = "record") -> Record:
        """The record's shape checked (TranscriptInvalid), not its hash: see Chain.problem()."""
        try:
            r = shape.record(obj, where)
        except ValueError as e:
            raise TranscriptInvalid(str(e)) from None
        return cls(r["seq"], r["ts"], RecordType(r["type"]), r["step"], r["actor"], r["data"],
                   r["prev"], r["hash"])


class Chain:
    """Records linked from a genesis value; appends check what they are given."""

    def __init__(self, genesis_hash: str, records: Iterable[Record] = ()) -> None:
        self.genesis = genesis_hash
        self._records = list(records)

    @property
    def records(self) -> tuple[Record, ...]:
        return tuple(self._records)

    @property
    def head(self) -> str:
        return self._records[-1].hash if self._records else self.genesis

    @property
    def ended(self) -> bool:
        return bool(self._records) and self._records[-1].type is RecordType.End

    def problem(self) -> tuple[int, str] | None:
        """Where the chain first breaks (the record's position, from 1, and why, naming its
        seq), or None: records numbered 1, 2, … in order, each linked to the one before and
        hashed as it says, and nothing after an ``end``."""
        prev = self.genesis
        for position, r in enumerate(self._records, start=1):
            if r.seq != position:
                return position, (f"record {r.seq} is at position {position}: a record is "
                                  "missing, duplicated or moved")
            if r.prev != prev:
                return position, f"record {r.seq} does not follow the record before it"
            if record_hash(r.body()) != r.hash:
                return position, (f"record {r.seq} was changed: its hash does not match its "
                                  "content")
            if r.type is RecordType.End and position != len(self._records):
                return position, f"record {r.seq} ends the ceremony but records follow it"
            prev = r.hash
        return None

    def append(self, type: RecordType | str, *, ts: str, step: str | None = None,
               actor: str | None = None, data: Mapping[str, Any] | None = None) -> Record:
        """Add a record after the head (UsageError for a bad type or value, or one too large);
        returns it."""
        if self.ended:
            raise Refused("the transcript has ended; nothing can be added to it")
        made = make_record(seq=len(self._records) + 1, ts=ts, kind=type, step=step,
                           actor=actor, data=data or {}, prev=self.head)
        record = Record.from_json(made)
        self._records.append(record)
        return record


@dataclass(frozen=True)
class Ceremony:
    """The ceremony block: the script itself and its digest, the vault, and who filled each role
    (role id → operators)."""

    id: str
    name: str
    script: str = field(repr=False)
    script_sha256: str
    vault_id: str
    started: str
    roles: Mapping[str, tuple[str, ...]]

    @classmethod
    def new(cls, id: str, name: str, script: str, vault_id: str, started: str,
            roles: Mapping[str, Iterable[str]]) -> Ceremony:
        made = cls(id, name, script, script_sha256(script), vault_id, started,
                   {k: tuple(v) for k, v in roles.items()})
        try:
            shape.ceremony(made.to_json())
        except ValueError as e:
            raise UsageError(str(e)) from None
        return made

    @property
    def genesis(self) -> str:
        return genesis(self.id, self.script_sha256)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "script_sha256": self.script_sha256,
                "script": self.script, "vault_id": self.vault_id, "started": self.started,
                "roles": {k: list(v) for k, v in self.roles.items()}}


@dataclass(frozen=True)
class OperatorKey:
    """An operator's FIDO2 credential: its id and public key (DER SubjectPublicKeyInfo)."""

    credential_id: bytes
    spki: bytes

    def to_json(self) -> dict[str, str]:
        return {"credential_id": shape.b64e(self.credential_id), "spki": shape.b64e(self.spki)}


@dataclass(frozen=True)
class Fido2Signature:
    """An operator's FIDO2 assertion whose challenge is the head."""

    role: str
    operator: str
    head: str
    credential_id: bytes
    authenticator_data: bytes
    client_data_json: bytes
    signature: bytes

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "operator": self.operator, "method": "fido2",
                "head": self.head, "evidence": {
                    "credential_id": shape.b64e(self.credential_id),
                    "authenticator_data": shape.b64e(self.authenticator_data),
                    "client_data_json": shape.b64e(self.client_data_json),
                    "signature": shape.b64e(self.signature)}}


@dataclass(frozen=True)
class KeySignature:
    """A ceremony key's signature over KEY_SIGNATURE_CONTEXT ‖ the head's 32 bytes."""

    key: str
    algorithm: str
    head: str
    signature: bytes
    role: str = "key"

    def to_json(self) -> dict[str, Any]:
        return {"role": "key", "method": "key", "key": self.key, "algorithm": self.algorithm,
                "head": self.head, "signature": shape.b64e(self.signature)}


Signature = Fido2Signature | KeySignature


def bindings(ceremony: Ceremony, operator_keys: Mapping[str, OperatorKey],
             ceremony_keys: Mapping[str, bytes]) -> dict[str, Any]:
    """What the ``end`` record holds so that the signed head covers what lies outside the
    records: SHA-256 of the ceremony block's canonical JSON, and of each public key known then
    (an operator key: of its canonical JSON; a ceremony key: of its DER)."""
    return {"ceremony": hashlib.sha256(canonical_json(ceremony.to_json())).hexdigest(),
            "operators": {n: hashlib.sha256(canonical_json(k.to_json())).hexdigest()
                          for n, k in sorted(operator_keys.items())},
            "keys": {n: hashlib.sha256(k).hexdigest() for n, k in sorted(ceremony_keys.items())}}


@dataclass
class Transcript:
    ceremony: Ceremony
    chain: Chain
    operator_keys: dict[str, OperatorKey] = field(default_factory=dict)
    ceremony_keys: dict[str, bytes] = field(default_factory=dict)
    signatures: list[Signature] = field(default_factory=list)

    @classmethod
    def begin(cls, ceremony: Ceremony, records: Iterable[Record] = ()) -> Transcript:
        """A new transcript, or one resumed from its stored records (TranscriptInvalid when they
        do not hold)."""
        chain = Chain(ceremony.genesis, records)
        bad = chain.problem()
        if bad is not None:
            raise TranscriptInvalid(bad[1])
        return cls(ceremony, chain)

    @property
    def records(self) -> tuple[Record, ...]:
        return self.chain.records

    @property
    def head(self) -> str:
        return self.chain.head

    @property
    def ended(self) -> bool:
        return self.chain.ended

    def append(self, type: RecordType | str, *, ts: str, step: str | None = None,
               actor: str | None = None, data: Mapping[str, Any] | None = None) -> Record:
        """Add a record (``end`` only through :meth:`finish`)."""
        if str(type) == RecordType.End:
            raise UsageError("the end record is written by finish()")
        return self.chain.append(type, ts=ts, step=step, actor=actor, data=data)

    def add_ceremony_key(self, label: str, spki: bytes) -> None:
        """Keep a key made in the ceremony (DER SubjectPublicKeyInfo) under its label."""
        try:
            shape.name(label, "a key label")
        except ValueError as e:
            raise UsageError(str(e)) from None
        known = self.ceremony_keys.get(label)
        if known is not None and known != spki:
            raise Refused(f"the transcript holds another public key for {label!r}")
        if known is None and self.ended:
            raise Refused("the transcript has ended; only a key that signs it can be added")
        self.ceremony_keys[label] = bytes(spki)

    def finish(self, *, ts: str, actor: str | None,
               data: Mapping[str, Any] | None = None) -> Record:
        """Append the ``end`` record: ``data`` and the bindings (ceremony block, public keys)."""
        extra = dict(data or {})
        bound = bindings(self.ceremony, self.operator_keys, self.ceremony_keys)
        if set(extra) & set(bound):
            raise UsageError(f"the end record's {', '.join(sorted(set(extra) & set(bound)))} "
                             "are written by finish()")
        return self.chain.append(RecordType.End, ts=ts, actor=actor, data={**extra, **bound})

    def add_signature(self, signature: Signature) -> None:
        """Keep ``signature``, replacing one by the same signer in the same role."""
        self.signatures = [s for s in self.signatures if _signer(s) != _signer(signature)]
        self.signatures.append(signature)

    # ----- the file ---------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "ceremony": self.ceremony.to_json(),
                "records": [r.to_json() for r in self.records],
                "public_keys": {
                    "operators": {n: k.to_json() for n, k in self.operator_keys.items()},
                    "ceremony": {n: shape.b64e(k) for n, k in self.ceremony_keys.items()}},
                "signatures": [s.to_json() for s in self.signatures]}

    @classmethod
    def from_json(cls, obj: Any) -> Transcript:
        """The transcript in ``obj`` (parsed JSON); TranscriptInvalid for anything but the
        documented shape (wrong types, unknown keys, values out of bounds, deep nesting)."""
        try:
            doc = shape.transcript(obj, FORMAT, VERSION)
        except ValueError as e:
            raise TranscriptInvalid(str(e)) from None
        except RecursionError:
            raise TranscriptInvalid("the transcript nests too deeply") from None
        c = doc["ceremony"]
        ceremony = Ceremony(c["id"], c["name"], c["script"], c["script_sha256"], c["vault_id"],
                            c["started"], {k: tuple(v) for k, v in c["roles"].items()})
        records = [Record(r["seq"], r["ts"], RecordType(r["type"]), r["step"], r["actor"],
                          r["data"], r["prev"], r["hash"]) for r in doc["records"]]
        operators = {n: OperatorKey(k["credential_id"], k["spki"])
                     for n, k in doc["operators"].items()}
        signatures: list[Signature] = [
            Fido2Signature(s["role"], s["operator"], s["head"], **s["evidence"])
            if s["method"] == "fido2" else
            KeySignature(s["key"], s["algorithm"], s["head"], s["signature"])
            for s in doc["signatures"]]
        return cls(ceremony, Chain(ceremony.genesis, records), operators, doc["keys"],
                   signatures)

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n").encode("utf-8")

    def save(self, path: Path | str) -> None:
        """Write the transcript atomically."""
        atomic_write(Path(path), self.to_bytes())

    @classmethod
    def load(cls, path: Path | str) -> Transcript:
        """Read a transcript file (at most 16 MiB): NotFound, UsageError for a directory,
        TranscriptInvalid for anything that is not a transcript."""
        path = Path(path)
        data = read_bounded(path, MAX_FILE_BYTES, "transcript")
        if len(data) > MAX_FILE_BYTES:
            raise TranscriptInvalid(f"{path.name} is larger than a transcript can be "
                                    f"({MAX_FILE_BYTES // (1024 * 1024)} MiB)")
        return cls.from_json(shape.parse_json(data))


def _signer(s: Signature) -> tuple[str, str]:
    return (s.role, s.operator) if isinstance(s, Fido2Signature) else ("key", s.key)
