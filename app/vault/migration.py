"""Schema migration at unlock: an older vault is backed up, then brought up to date; a newer one
is refused."""

from __future__ import annotations

from .. import database
from ..errors import Refused, VaultTampered
from .session import VaultSession


def migrate(vault: VaultSession) -> None:
    """Bring an older schema up to date, after an automatic backup; refuse a newer one."""
    with vault._read() as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row is not None else 0
    if version > database.SCHEMA_VERSION:
        raise Refused(
            f"this vault has schema {version}, newer than this Strongroom reads "
            f"({database.SCHEMA_VERSION}); upgrade Strongroom to open it"
        )
    if version == database.SCHEMA_VERSION:
        return
    steps = range(version, database.SCHEMA_VERSION)
    if version < 1 or any(v not in database.MIGRATIONS for v in steps):
        raise VaultTampered(f"the vault's schema version {version} is not one Strongroom wrote")
    vault.auto_backup(f"migrate-{version}")
    with vault._write() as conn:
        for v in steps:
            database.MIGRATIONS[v](conn)
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'",
            (str(database.SCHEMA_VERSION),),
        )
        vault._event(
            "vault.migrate", vault.vault_id,
            details={"from": version, "to": database.SCHEMA_VERSION},
        )
    if database.VACUUM_AFTER.intersection(steps):
        with vault._read() as conn:  # once: give back the pages the migration freed
            conn.execute("VACUUM")
