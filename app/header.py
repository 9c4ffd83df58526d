"""The keyslot header: a JSON file beside the database holding the keyslots and the audit anchor.

The whole header is MAC'd with a key derived from the master key, so after unlock any edit to it
(a slot's label, the audit anchor) is detected. The anchor (sequence + hash of the audit chain head)
lets unlock and ``audit verify`` detect a truncated or rolled-back audit table. Before a write
transaction commits, the head it will leave is announced as ``pending``: after a crash between the
commit and the header write the database may be at ``pending``; ahead of both, the header is old.
A vault bound to a monotonic counter (``counter``) records the value the header was written with.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .counters import CounterRef
from .crypto import canonical_json, hkdf, mac, mac_equal
from .errors import HeaderCorrupt
from .fsutil import atomic_write
from .keyslots import FORMAT_VERSION, Keyslot, b64d, b64e

MAGIC = "strongroom-vault-header"
MAX_HEADER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class AuditAnchor:
    seq: int
    hash: bytes


@dataclass(frozen=True)
class CounterBinding:
    """The monotonic counter a vault is bound to (vault/counter.py) and the value it had when
    this header was written; ``next`` is the value it is about to reach while a write is in
    flight, so that a crash between the increment and the header write is told from a rollback."""

    ref: CounterRef
    value: int
    next: int | None = None


@dataclass(frozen=True)
class OperatorRef:
    """Who may unlock, readable before unlock (the lock screen lists them): id, name, status.
    The vault's operators table is the authority; this copy is MAC'd with the rest."""

    id: str
    name: str
    status: str = "active"


@dataclass(frozen=True)
class Header:
    vault_id: str
    created: str
    slots: tuple[Keyslot, ...]
    anchor: AuditAnchor | None = None
    mac: bytes | None = None
    pending: AuditAnchor | None = None  # the head a write about to commit will leave
    counter: CounterBinding | None = None  # the monotonic counter the vault is bound to
    operators: tuple[OperatorRef, ...] = ()

    def body(self) -> dict[str, Any]:
        return {
            "magic": MAGIC,
            "format": FORMAT_VERSION,
            "vault_id": self.vault_id,
            "created": self.created,
            "slots": [s.to_json() for s in self.slots],
            "anchor": _anchor_json(self.anchor),
            # Only when set, so headers written before it existed keep their MAC.
            **({} if self.pending is None else {"pending": _anchor_json(self.pending)}),
            **({} if self.counter is None else {"counter": _counter_json(self.counter)}),
            **({} if not self.operators else {"operators": [
                {"id": o.id, "name": o.name, "status": o.status} for o in self.operators]}),
        }

    def sealed(self, master_key: bytes) -> Header:
        return replace(self, mac=mac(header_mac_key(master_key), canonical_json(self.body())))

    def mac_ok(self, master_key: bytes) -> bool:
        if self.mac is None:
            return False
        expected = mac(header_mac_key(master_key), canonical_json(self.body()))
        return mac_equal(expected, self.mac)

    def slot(self, slot_id: str) -> Keyslot | None:
        return next((s for s in self.slots if s.id == slot_id), None)

    def operator_named(self, name: str) -> OperatorRef | None:
        folded = name.casefold()
        return next((o for o in self.operators if o.name.casefold() == folded), None)

    def to_bytes(self) -> bytes:
        obj = self.body()
        obj["mac"] = None if self.mac is None else b64e(self.mac)
        return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "header") -> Header:
        try:
            obj = json.loads(data.decode("utf-8"))
            if not isinstance(obj, dict) or obj.get("magic") != MAGIC:
                raise HeaderCorrupt(f"{source} is not a Strongroom vault header")
            if obj.get("format") != FORMAT_VERSION:
                raise HeaderCorrupt(
                    f"{source} has format {obj.get('format')!r}; this Strongroom reads format "
                    f"{FORMAT_VERSION}"
                )
            anchor = _anchor_from_json(obj.get("anchor"))
            pending = _anchor_from_json(obj.get("pending"))
            counter = _counter_from_json(obj.get("counter"))
            operators = _operators_from_json(obj.get("operators", []))
            slots = tuple(Keyslot.from_json(s) for s in obj["slots"])
            if not slots:
                raise HeaderCorrupt(f"{source} has no keyslots")
            if len({s.id for s in slots}) != len(slots):
                raise HeaderCorrupt(f"{source} has two keyslots with the same id")
            vault_id, created = obj["vault_id"], obj["created"]
            if not isinstance(vault_id, str) or not isinstance(created, str):
                raise TypeError("vault_id and created must be strings")
            return cls(
                vault_id=vault_id,
                created=created,
                slots=slots,
                anchor=anchor,
                mac=None if obj.get("mac") is None else b64d(obj["mac"]),
                pending=pending,
                counter=counter,
                operators=operators,
            )
        except HeaderCorrupt:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError,
                RecursionError) as e:
            why = f": {e}" if type(e) is ValueError else ""  # our own checks say what
            raise HeaderCorrupt(f"{source} is corrupt and cannot be read{why}") from e

    @classmethod
    def load(cls, path: Path) -> Header:
        try:
            with path.open("rb") as f:
                data = f.read(MAX_HEADER_BYTES + 1)
        except FileNotFoundError as e:
            raise HeaderCorrupt(f"the vault header {path.name} is missing") from e
        if len(data) > MAX_HEADER_BYTES:
            raise HeaderCorrupt("the vault header is too large to be genuine")
        return cls.from_bytes(data, "the vault header")

    def save(self, path: Path) -> None:
        atomic_write(path, self.to_bytes())


def _anchor_json(anchor: AuditAnchor | None) -> dict[str, Any] | None:
    return None if anchor is None else {"seq": anchor.seq, "hash": anchor.hash.hex()}


def _anchor_from_json(obj: Any) -> AuditAnchor | None:
    if obj is None:
        return None
    seq, digest = obj["seq"], bytes.fromhex(obj["hash"])
    if type(seq) is not int or seq < 1 or len(digest) != 32:
        raise ValueError("an audit anchor is a positive sequence number and a SHA-256 hash")
    return AuditAnchor(seq, digest)


def _counter_json(binding: CounterBinding) -> dict[str, Any]:
    ref = binding.ref
    return {"backend": ref.backend, "handle": ref.handle, "device": ref.device,
            "label": ref.label, "value": binding.value,
            **({} if binding.next is None else {"next": binding.next})}


def _counter_from_json(obj: Any) -> CounterBinding | None:
    if obj is None:
        return None
    backend, handle, device = obj["backend"], obj["handle"], obj["device"]
    label = obj["label"]
    value, nxt = obj["value"], obj.get("next")
    if not (isinstance(backend, str) and 0 < len(backend) <= 64 and isinstance(device, str)
            and len(device) <= 256 and isinstance(label, str) and len(label) <= 128
            and type(handle) is int and 0 <= handle < 2**32
            and type(value) is int and 0 <= value < 2**64
            and (nxt is None or (type(nxt) is int and nxt == value + 1))):
        raise ValueError("the counter binding is a backend, a handle, a device and a value")
    return CounterBinding(CounterRef(backend, handle, device, label), value, nxt)


def _operators_from_json(obj: Any) -> tuple[OperatorRef, ...]:
    if not isinstance(obj, list) or len(obj) > 1000:
        raise ValueError("the operators are a list")
    out = []
    for o in obj:
        ref = OperatorRef(o["id"], o["name"], o["status"])
        if not all(isinstance(v, str) and 0 < len(v) <= 256 for v in (ref.id, ref.name,
                                                                        ref.status)):
            raise ValueError("an operator is an id, a name and a status")
        out.append(ref)
    if len({o.id for o in out}) != len(out):
        raise ValueError("two operators with the same id")
    return tuple(out)


def header_mac_key(master_key: bytes) -> bytes:
    return hkdf(master_key, "header-mac")
