"""The device-key blob store (app.keys.ports.KeyBlobStore): TPM key blobs kept in the vault."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import NotFound
from .session import VaultSession

if TYPE_CHECKING:
    from ..keys.ports import KeyBlob


def put_blob(vault: VaultSession, store_name: str, blob: KeyBlob) -> None:
    with vault._write() as conn:
        conn.execute(
            "INSERT INTO device_keys (store, key_id, label, data, created) "
            "VALUES (?, ?, ?, ?, ?)",
            (store_name, blob.key_id, blob.label, blob.data, vault._now()),
        )
        vault._event("device_key.store", blob.key_id,
                    details={"store": store_name, "label": blob.label})


def blobs(vault: VaultSession, store_name: str) -> list[KeyBlob]:
    with vault._read() as conn:
        rows = conn.execute(
            "SELECT key_id, label, data FROM device_keys WHERE store = ? ORDER BY created",
            (store_name,),
        ).fetchall()
    from ..keys.ports import KeyBlob  # the key stores' port: only where TPM keys are read

    return [KeyBlob(r[0], r[1], bytes(r[2])) for r in rows]


def remove_blob(vault: VaultSession, store_name: str, key_id: str) -> None:
    with vault._write() as conn:
        gone = conn.execute(
            "DELETE FROM device_keys WHERE store = ? AND key_id = ?", (store_name, key_id)
        ).rowcount
        if not gone:
            raise NotFound(f"no {store_name} key {key_id} in this vault")
        vault._event("device_key.remove", key_id, details={"store": store_name})
