"""The bytes the vault keeps for one TPM key (a ``KeyBlob``'s data): its public and wrapped
private parts, which only the TPM that made them can load, and whether it has a PIN."""

from __future__ import annotations

import json
from dataclasses import dataclass

from strongroom.app.keyslots import b64d, b64e

BLOB_FORMAT = 1


@dataclass(frozen=True)
class TpmKeyBlob:
    """What the vault keeps for one TPM key (nothing in it is usable off this TPM)."""

    key_type: str
    public: bytes
    private: bytes
    srk_name: bytes
    pin: bool

    def to_bytes(self) -> bytes:
        return json.dumps({
            "format": BLOB_FORMAT, "key_type": self.key_type, "public": b64e(self.public),
            "private": b64e(self.private), "srk_name": self.srk_name.hex(), "pin": self.pin,
        }, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> TpmKeyBlob:
        obj = json.loads(data)
        if obj.get("format") != BLOB_FORMAT:
            raise ValueError("unknown TPM key blob format")
        return cls(
            key_type=str(obj["key_type"]), public=b64d(obj["public"]),
            private=b64d(obj["private"]), srk_name=bytes.fromhex(obj["srk_name"]),
            pin=bool(obj["pin"]),
        )
