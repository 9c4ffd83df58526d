"""The shape of a transcript document: each part's type, keys and bounds, checked before anything
is built from it. A check raises ValueError naming where the problem is; transcript.py turns that
into TranscriptInvalid (a file) or UsageError (a record being appended)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from ..crypto import canonical_json
from ..errors import IntegrityError
from ..keys.ports import SignAlgorithm

MAX_NAME = 128  # ids, operator names, role ids, step ids, key labels
MAX_TEXT = 512  # the ceremony's name
MAX_TS = 64
MAX_SCRIPT_BYTES = 256 * 1024
MAX_DATA_BYTES = 64 * 1024  # a record's data as canonical JSON
MAX_DEPTH = 16  # nesting inside a record's data
MAX_INT = 2**53 - 1  # what every JSON reader holds exactly
MAX_RECORDS = 100_000
MAX_ROLES, MAX_ROLE_OPERATORS, MAX_KEYS, MAX_SIGNATURES = 16, 64, 256, 64
MAX_KEY_BYTES, MAX_EVIDENCE_BYTES = 4096, 16 * 1024
RECORD_TYPES = ("preflight", "clock", "step", "confirm", "approval", "exception", "output",
                "shares", "resume", "end")
_HEX32 = re.compile(r"[0-9a-f]{64}")


class TranscriptInvalid(IntegrityError):
    """A transcript file that is not one: not JSON, the wrong shape, values out of bounds."""


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64(value: Any, where: str, limit: int = MAX_KEY_BYTES) -> bytes:
    """Canonical base64 only: one text per byte string, so no character can change unseen."""
    if not isinstance(value, str) or len(value) > (limit + 2) // 3 * 4:
        raise ValueError(f"{where} is not base64 of at most {limit} bytes")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{where} is not base64") from None
    if b64e(raw) != value or not raw:
        raise ValueError(f"{where} is not canonical base64")
    return raw


def hex32(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise ValueError(f"{where} is not a SHA-256 in lower-case hex")
    return value


def _encodable(value: str, where: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{where} is not valid Unicode") from None
    return value


def name(value: Any, where: str, limit: int = MAX_NAME) -> str:
    """One line of printable text, 1 to ``limit`` characters, no leading or trailing space."""
    if (not isinstance(value, str) or not 0 < len(value) <= limit or not value.isprintable()
            or value != value.strip()):
        raise ValueError(f"{where} is not a name of 1 to {limit} printable characters")
    return _encodable(value, where)


def text(value: Any, where: str, max_bytes: int) -> str:
    if not isinstance(value, str) or len(value) > max_bytes:
        raise ValueError(f"{where} is not text of at most {max_bytes} bytes")
    if len(_encodable(value, where).encode("utf-8")) > max_bytes:
        raise ValueError(f"{where} is longer than {max_bytes} bytes")
    return value


def _keys(obj: Any, where: str, required: set[str], optional: frozenset[str] = frozenset()
          ) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise ValueError(f"{where} is not an object")
    missing, unknown = required - set(obj), set(obj) - required - optional
    if missing:
        raise ValueError(f"{where} has no {', '.join(sorted(missing))}")
    if unknown:
        raise ValueError(f"{where} has unknown keys: {', '.join(sorted(map(str, unknown)))[:200]}")
    return obj


def _mapping(obj: Any, where: str, limit: int) -> dict[str, Any]:
    if not isinstance(obj, dict) or len(obj) > limit:
        raise ValueError(f"{where} is not an object of at most {limit} entries")
    for key in obj:
        name(key, f"a name in {where}")
    return obj


def json_value(value: Any, where: str, depth: int = 0) -> Any:
    """A copy of ``value`` if it is plain JSON without floats: null, true/false, whole numbers
    within ±(2^53 - 1), text, lists and objects with text keys, nested at most MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{where} nests deeper than {MAX_DEPTH}")
    if value is None or isinstance(value, bool):
        return value
    if type(value) is int:
        if abs(value) > MAX_INT:
            raise ValueError(f"{where} holds a number beyond ±(2^53 - 1)")
        return value
    if isinstance(value, str):
        return _encodable(value, where)
    if isinstance(value, list):
        return [json_value(v, where, depth + 1) for v in value]
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str) or len(key) > MAX_NAME:
                raise ValueError(f"{where} has a key that is not text of at most {MAX_NAME}")
            _encodable(key, where)
        return {k: json_value(v, where, depth + 1) for k, v in value.items()}
    raise ValueError(f"{where} holds a {type(value).__name__}, which JSON here does not")


def record(obj: Any, where: str) -> dict[str, Any]:
    r = _keys(obj, where, {"seq", "ts", "type", "step", "actor", "data", "prev", "hash"})
    if type(r["seq"]) is not int or not 0 < r["seq"] <= MAX_RECORDS:
        raise ValueError(f"{where}'s seq is not a whole number from 1 to {MAX_RECORDS}")
    where = f"record {r['seq']}"
    name(r["ts"], f"{where}'s ts", MAX_TS)
    if r["type"] not in RECORD_TYPES:
        raise ValueError(f"{where}'s type is not one of {', '.join(RECORD_TYPES)}")
    for key in ("step", "actor"):
        if r[key] is not None:
            name(r[key], f"{where}'s {key}")
    if not isinstance(r["data"], dict):
        raise ValueError(f"{where}'s data is not an object")
    data = json_value(r["data"], f"{where}'s data")
    if len(canonical_json(data)) > MAX_DATA_BYTES:
        raise ValueError(f"{where}'s data is larger than {MAX_DATA_BYTES // 1024} KiB")
    hex32(r["prev"], f"{where}'s prev")
    hex32(r["hash"], f"{where}'s hash")
    return {**r, "data": data}


def output_problem(data: Mapping[str, Any]) -> str | None:
    """Why an output record's data is not {"file": a relative path, "sha256": hex}, or None."""
    file, digest = data.get("file"), data.get("sha256")
    if not isinstance(digest, str) or not _HEX32.fullmatch(digest):
        return "has no file SHA-256 (lower-case hex)"
    if not isinstance(file, str) or not 0 < len(file) <= 1024 or not file.isprintable():
        return "has no file name"
    parts = PurePosixPath(file).parts
    if file.startswith("/") or "\\" in file or ".." in parts or file != str(PurePosixPath(file)):
        return f"names {file[:80]!r}, not a path inside the output folder"
    return None


def output_data(data: Mapping[str, Any], where: str) -> None:
    why = output_problem(data)
    if why is not None:
        raise ValueError(f"{where} {why}")


def ceremony(obj: Any) -> dict[str, Any]:
    c = _keys(obj, "the ceremony", {"id", "name", "script_sha256", "script", "vault_id",
                                    "started", "roles"})
    name(c["id"], "the ceremony id")
    name(c["name"], "the ceremony name", MAX_TEXT)
    hex32(c["script_sha256"], "the script's SHA-256")
    text(c["script"], "the script", MAX_SCRIPT_BYTES)
    name(c["vault_id"], "the vault id")
    name(c["started"], "the start time", MAX_TS)
    for role, people in _mapping(c["roles"], "the roles", MAX_ROLES).items():
        if not isinstance(people, list) or len(people) > MAX_ROLE_OPERATORS:
            raise ValueError(f"role {role} is not a list of at most {MAX_ROLE_OPERATORS} names")
        for person in people:
            name(person, f"an operator of role {role}")
        if len(set(people)) != len(people):
            raise ValueError(f"role {role} names an operator twice")
    return c


def _signature(obj: Any, where: str) -> dict[str, Any]:
    method = obj.get("method") if isinstance(obj, dict) else None
    if method == "fido2":
        s = _keys(obj, where, {"role", "operator", "method", "head", "evidence"})
        name(s["role"], f"{where}'s role")
        name(s["operator"], f"{where}'s operator")
        ev = _keys(s["evidence"], f"{where}'s evidence", {"credential_id", "authenticator_data",
                                                          "client_data_json", "signature"})
        evidence = {k: b64(v, f"{where}'s {k}", MAX_EVIDENCE_BYTES) for k, v in ev.items()}
        return {**s, "head": hex32(s["head"], f"{where}'s head"), "evidence": evidence}
    if method == "key":
        s = _keys(obj, where, {"role", "method", "key", "algorithm", "head", "signature"})
        if s["role"] != "key":
            raise ValueError(f"{where} is a key's signature but its role is not 'key'")
        name(s["key"], f"{where}'s key")
        if not isinstance(s["algorithm"], str) or s["algorithm"] not in set(SignAlgorithm):
            raise ValueError(f"{where}'s algorithm is not one of "
                             f"{', '.join(a.value for a in SignAlgorithm)}")
        return {**s, "head": hex32(s["head"], f"{where}'s head"),
                "signature": b64(s["signature"], f"{where}'s signature")}
    raise ValueError(f"{where}'s method is not fido2 or key")


def transcript(obj: Any, format: str, version: int) -> dict[str, Any]:
    """The document checked; base64 values decoded to bytes."""
    doc = _keys(obj, "the transcript", {"format", "version", "ceremony", "records",
                                        "public_keys", "signatures"})
    if doc["format"] != format:
        raise ValueError(f"not a transcript (format is not {format!r})")
    if type(doc["version"]) is not int or doc["version"] != version:
        raise ValueError(f"transcript version {str(doc['version'])[:20]}; this Strongroom "
                         f"reads {version}")
    records = doc["records"]
    if not isinstance(records, list) or len(records) > MAX_RECORDS:
        raise ValueError(f"the records are not a list of at most {MAX_RECORDS}")
    keys = _keys(doc["public_keys"], "the public keys", {"operators", "ceremony"})
    operators = {}
    for who, entry in _mapping(keys["operators"], "the operators' keys", MAX_KEYS).items():
        k = _keys(entry, f"{who}'s key", {"credential_id", "spki"})
        operators[who] = {"credential_id": b64(k["credential_id"], f"{who}'s credential id"),
                          "spki": b64(k["spki"], f"{who}'s public key")}
    ceremony_keys = {label: b64(v, f"the public key of {label}")
                     for label, v in _mapping(keys["ceremony"], "the ceremony's keys",
                                              MAX_KEYS).items()}
    signatures = doc["signatures"]
    if not isinstance(signatures, list) or len(signatures) > MAX_SIGNATURES:
        raise ValueError(f"the signatures are not a list of at most {MAX_SIGNATURES}")
    return {"ceremony": ceremony(doc["ceremony"]),
            "records": [record(r, f"record at position {i}") for i, r in enumerate(records, 1)],
            "operators": operators, "keys": ceremony_keys,
            "signatures": [_signature(s, f"signature {i}") for i, s in enumerate(signatures, 1)]}


def parse_json(data: bytes) -> Any:
    """Strict JSON from UTF-8 bytes: no duplicate keys, no floats, NaN or Infinity
    (TranscriptInvalid otherwise)."""
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):
            raise ValueError("an object has a key twice")
        return out

    def refuse(value: str) -> Any:
        raise ValueError(f"{value[:20]} is not a whole number")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=pairs, parse_float=refuse,
                          parse_constant=refuse)
    except UnicodeDecodeError:
        raise TranscriptInvalid("the transcript is not UTF-8 text") from None
    except RecursionError:
        raise TranscriptInvalid("the transcript nests too deeply") from None
    except ValueError as e:
        raise TranscriptInvalid(f"the transcript is not valid JSON: {str(e)[:120]}") from None
