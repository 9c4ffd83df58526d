"""The vault: an SQLCipher database opened by a random master key that keyslots wrap.

Secret values are encrypted a second time at field level with AES-256-GCM under the data key of
their classification level. The vault is one session object with parts, each a module of its own:

- ``session``: open, unlock, lock; transactions, the header and audit events
- ``creation``: a new vault folder with its first keyslot
- ``secrets``: secrets, versions, tags and search
- ``keyslot_admin``: change the passphrase; enrol, rename, test and remove unlock methods
- ``rotation``: master-key and data-key rotation, crash-safe
- ``migration``: an older schema brought up to date at unlock (after a backup)
- ``consistency``, ``witness``, ``rollback``: rollback refused at unlock, or accepted on purpose
- ``counter``: the vault bound to a monotonic counter off the disk (TPM NV), checked at unlock
- ``blobs``: device-key blobs (TPM keys) kept in the vault
- ``integrity``: the audit chain, counts, page checks
- ``backup`` / ``restore``: one verified file with the database and the header
- ``datakeys``, ``layout``, ``backoff``: what the parts share

:class:`Vault` puts the parts' verbs on one object; each is the part's function, bound as a method.
"""

from __future__ import annotations

from pathlib import Path

from ..access import adoption, key_access
from ..keyslots import Keyslot
from ..model import Clock
from . import (
    backup,
    counter,
    creation,
    integrity,
    keyslot_admin,
    migration,
    rollback,
    rotation,
    secrets,
)
from . import blobs as blob_store
from .layout import AUTO_BACKUPS_KEPT, BACKOFF_FILE, BACKUP_DIR, DB_FILE, HEADER_FILE
from .secrets import NewSecret
from .session import VaultSession


class Vault(VaultSession):
    """One vault folder. Open it with :meth:`open` (locked) or :meth:`create` (unlocked)."""

    @classmethod
    def create(cls, path: Path, passphrase: bytes, *, kdf_time_ms: int = 1000,
               clock: Clock | None = None, actor: str | None = None) -> Vault:
        """A new vault at ``path`` with one passphrase keyslot, unlocked (creation.py)."""
        return creation.create(cls, path, passphrase, kdf_time_ms=kdf_time_ms, clock=clock,
                               actor=actor)

    # secrets.py
    add_secret = secrets.add_secret
    add_secrets = secrets.add_secrets
    secret_info = secrets.secret_info
    get_secret = secrets.get_secret
    update_secret = secrets.update_secret
    delete_secret = secrets.delete_secret
    list_secrets = secrets.list_secrets
    count_secrets = secrets.count_secrets
    history = secrets.history

    # keyslot_admin.py
    change_passphrase = keyslot_admin.change_passphrase
    add_hardware_slot = keyslot_admin.add_hardware_slot
    remove_slot = keyslot_admin.remove_slot
    rename_slot = keyslot_admin.rename_slot
    test_slot = keyslot_admin.test_slot

    # blobs.py (app.keys.ports.KeyBlobStore)
    put_blob = blob_store.put_blob
    blobs = blob_store.blobs
    remove_blob = blob_store.remove_blob

    # rotation.py
    rotate_master_key = rotation.rotate_master_key
    rotate_dek = rotation.rotate_dek
    rotate_all = rotation.rotate_all
    _finish_rotation = rotation.finish_rotation
    _abandon_rotation = rotation.abandon_rotation

    # integrity.py
    audit_verify = integrity.audit_verify
    audit_events = integrity.audit_events
    export_database = integrity.export_database
    counts = integrity.counts
    integrity_check = integrity.integrity_check
    check_pages = integrity.check_pages

    # rollback.py
    accept_rollback = rollback.accept_rollback

    # counter.py
    enable_counter = counter.enable_counter
    disable_counter = counter.disable_counter
    counter_status = counter.counter_status

    # backup.py, migration.py
    auto_backup = backup.auto_backup
    _migrate = migration.migrate

    # access/
    authorize_key = key_access.authorize_key

    def _bind_operator(self, slot: Keyslot, kek: bytes) -> None:
        # Called, not bound at class creation: access/adoption.py imports this package's parts,
        # so importing it first finds it half-made here (tests/test_architecture.py).
        adoption.bind_operator(self, slot, kek)


__all__ = [
    "AUTO_BACKUPS_KEPT",
    "BACKOFF_FILE",
    "BACKUP_DIR",
    "DB_FILE",
    "HEADER_FILE",
    "NewSecret",
    "Vault",
    "VaultSession",
]
