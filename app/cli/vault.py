"""``strongroom init``, ``passphrase change``, ``rotate`` and ``vault accept-rollback``: the
vault's life and its keys."""

from __future__ import annotations

from typing import Any

from ..errors import RollbackDetected, StrongroomError
from ..keyslots import KeyslotUnlocker, PassphraseUnlocker, normalize_passphrase
from ..model import Classification
from ..passphrase_strength import require_strong
from ..vault import Vault
from ..vault.rotation import rekey_blocker
from .common import EXIT_OK, AddCommand, Context, subcommands


def cmd_init(ctx: Context) -> int:
    if Vault.exists(ctx.vault_dir):
        raise StrongroomError(f"a vault already exists at {ctx.vault_dir}")
    passphrase = ctx.prompter.ask(0, "New vault passphrase: ", confirm=True)
    require_strong(passphrase)
    vault = Vault.create(
        ctx.vault_dir, normalize_passphrase(passphrase), kdf_time_ms=ctx.args.kdf_time_ms
    )
    with vault:
        slot = vault.header.slots[0]
        ctx.out.emit(
            {"vault": str(ctx.vault_dir), "vault_id": vault.vault_id, "keyslot": slot.to_json()},
            f"Created a vault at {ctx.vault_dir} (passphrase keyslot {slot.id}: Argon2id, "
            f"{slot.params['memory_kib'] // 1024} MiB, {slot.params['iterations']} iterations).",
        )
    return EXIT_OK


def cmd_passphrase_change(ctx: Context) -> int:
    vault = Vault.open(ctx.vault_dir)
    old = ctx.prompter.ask(0, "Current passphrase: ")
    new = ctx.prompter.ask(1, "New passphrase: ", confirm=True)
    require_strong(new)
    vault.unlock(PassphraseUnlocker.from_text(old))
    with vault:
        rekeyed = vault.change_passphrase(normalize_passphrase(old), normalize_passphrase(new),
                                          rekey=False if ctx.args.no_rekey else None)
        why_not = None if rekeyed else (rekey_blocker(vault) or "--no-rekey was given")
    ctx.out.emit(
        {"changed": True, "rekeyed": rekeyed, "not_rekeyed_because": why_not},
        "Passphrase changed. " + (
            "The master key was rotated too (the database rekeyed): an older copy of the header "
            "with the old passphrase no longer opens it." if rekeyed else
            f"The master key was not rotated ({why_not}): an older copy of the header with the "
            "old passphrase still opens this database."
        ),
    )
    return EXIT_OK


def cmd_rotate(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        if ctx.args.level:
            level = Classification.parse(ctx.args.level)
            n = vault.rotate_dek(level)
            ctx.out.emit(
                {"rotated": [level.value], "reencrypted_versions": n},
                f"Rotated the {level.value} data key; re-encrypted {n} stored value(s).",
            )
        else:
            vault.rotate_all()
            ctx.out.emit(
                {"rotated": ["master"] + [c.value for c in Classification]},
                "Rotated the master key (database rekeyed) and every level's data key.",
            )
    return EXIT_OK


def register_init(sub: Any, command: AddCommand) -> None:
    """``strongroom init`` (listed first in ``--help``)."""
    init = command(sub, "init", cmd_init, "create a vault")
    init.add_argument("--kdf-time-ms", type=int, default=1000, metavar="MS",
                      help="target unlock time for Argon2id (default 1000)")


def cmd_accept_rollback(ctx: Context) -> int:
    accepted: list[RollbackDetected | None] = []

    def accept(vault: Vault, unlocker: KeyslotUnlocker) -> None:
        accepted.append(vault.accept_rollback(unlocker))

    with ctx.unlocked(accept) as vault:
        head = vault.audit_verify().head
    found = accepted[0] if accepted else None
    at = 0 if head is None else head.seq
    if found is None:
        ctx.out.emit({"accepted": None, "head_seq": at},
                     "Nothing to accept: the vault folder is as new as its header and its witness.")
        return EXIT_OK
    ctx.out.emit(
        {"accepted": {"behind": found.behind, "events": found.events, "reason": str(found)},
         "head_seq": at},
        f"Accepted the vault as it is (audit head {at}); what was refused: {found} "
        "This is recorded in the audit log (vault.rollback.accept).",
    )
    return EXIT_OK


def register(sub: Any, command: AddCommand) -> None:
    """``strongroom passphrase change`` and ``rotate``."""
    pw = sub.add_parser("passphrase", help="change the passphrase")
    change = command(subcommands(pw, "pw_command"), "change", cmd_passphrase_change,
                     "change it (with --passphrase-fd: old on line 1, new on line 2); the master "
                     "key is rotated too when it can be")
    change.add_argument("--no-rekey", action="store_true",
                        help="keep the master key (an old header with the old passphrase still "
                        "opens the database)")
    levels = "|".join(c.value for c in Classification)
    rot = command(sub, "rotate", cmd_rotate, "rotate the master key and data keys")
    rot.add_argument("--level", metavar=levels, help="rotate only this level's data key")
    vault = sub.add_parser("vault", help="the vault folder as a whole")
    command(subcommands(vault, "vault_command"), "accept-rollback", cmd_accept_rollback,
            "open a vault refused as rolled back, accept it as it is now (audited)")
