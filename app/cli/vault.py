"""``strongroom init``, ``passphrase change``, ``rotate``, ``vault check``, ``vault
accept-rollback`` and ``vault counter``: the vault's life and its keys."""

from __future__ import annotations

from typing import Any

from ..errors import RollbackDetected, StrongroomError, VaultTampered
from ..header import CounterBinding
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


def cmd_check(ctx: Context) -> int:
    """Every page against its HMAC and SQLite's structural check: what unlock no longer does."""
    with ctx.unlocked() as vault:
        problems = vault.integrity_check()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise VaultTampered(
            f"the vault database failed its integrity check: {problems[0]}{more}")
    ctx.out.emit({"ok": True},
                 "Vault database sound: every page passes its HMAC and SQLite's integrity check.")
    return EXIT_OK


def cmd_accept_rollback(ctx: Context) -> int:
    accepted: list[RollbackDetected | None] = []

    def accept(vault: Vault, unlocker: KeyslotUnlocker) -> None:
        accepted.append(vault.accept_rollback(unlocker, operator=ctx.args.operator))

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


def _counter_json(binding: CounterBinding) -> dict[str, Any]:
    ref = binding.ref
    return {"backend": ref.backend, "handle": f"0x{ref.handle:08x}", "label": ref.label,
            "device": ref.device, "value": binding.value}


def cmd_counter_enable(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        binding = vault.enable_counter()
    ctx.out.emit(
        {"enabled": True, "counter": _counter_json(binding)},
        f"This vault is now bound to a monotonic counter ({binding.ref.label}, at "
        f"{binding.value}): every write counts in it, and an older copy of the vault folder is "
        "refused even when the rollback witness was deleted too. This is recorded in the audit "
        "log (vault.counter.enable).",
    )
    return EXIT_OK


def cmd_counter_disable(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        binding, kept = vault.disable_counter()
    ctx.out.emit(
        {"disabled": True, "counter": _counter_json(binding), "removed": kept is None,
         "not_removed_because": kept},
        f"This vault is no longer bound to its monotonic counter ({binding.ref.label}); "
        + ("the counter was removed from the TPM." if kept is None else
           f"the counter could not be removed from the TPM ({kept}).")
        + " This is recorded in the audit log (vault.counter.disable).",
    )
    return EXIT_OK


def cmd_counter_status(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        status = vault.counter_status()
    binding = status.binding
    if binding is None:
        ctx.out.emit({"counter": None},
                     "This vault is not bound to a monotonic counter ('strongroom vault counter "
                     "enable' binds one where a TPM is present).")
        return EXIT_OK
    now = (f"the counter reads {status.value}" if status.value is not None else
           f"the counter cannot be read ({status.problem})")
    ctx.out.emit(
        {"counter": _counter_json(binding), "reads": status.value, "problem": status.problem},
        f"Bound to a monotonic counter ({binding.ref.label}): the header records "
        f"{binding.value}, {now}.",
    )
    return EXIT_OK


def register(sub: Any, command: AddCommand) -> None:
    """``strongroom passphrase change``, ``rotate`` and ``vault``."""
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
    vault_actions = subcommands(vault, "vault_command")
    command(vault_actions, "check", cmd_check,
            "check every page of the database against its HMAC and SQLite's structure "
            "(exit 3 when damaged)")
    command(vault_actions, "accept-rollback", cmd_accept_rollback,
            "open a vault refused as rolled back, accept it as it is now (audited)")
    counter = vault_actions.add_parser(
        "counter", help="bind the vault to a TPM monotonic counter, so that an older copy of the "
        "folder is refused even with the state directory reset")
    counter_actions = subcommands(counter, "counter_command")
    command(counter_actions, "enable", cmd_counter_enable,
            "define a TPM NV counter and bind the vault to it (audited)")
    command(counter_actions, "disable", cmd_counter_disable,
            "unbind the vault and remove its counter from the TPM (audited)")
    command(counter_actions, "status", cmd_counter_status,
            "the counter the vault is bound to, and what the header and the TPM say")
