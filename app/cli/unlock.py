"""``strongroom unlock-method …`` and ``--unlock fido2|tpm|keyring``: hardware and OS keyslots.

``list`` reads only the public header (no unlock). ``add``, ``remove``, ``rename`` and ``test``
open the vault first (passphrase, or ``--unlock``) and are audited. PINs come from ``--pin-fd N``
or a hidden prompt; two-factor slots take the passphrase from ``--passphrase-fd`` line 1 like any
unlock. Exit codes as for every command: 1 failed (no device, refused), 2 usage, 4 the device,
PIN or passphrase did not open the slot.
"""

from __future__ import annotations

from typing import Any

from ..errors import BackendUnavailable, NotFound, UsageError
from ..keyslots import PASSPHRASE, Keyslot, PassphraseUnlocker, normalize_passphrase
from ..unlock_methods import (
    HardwareUnlocker,
    SlotKind,
    availability,
    inventory_warnings,
    load_source,
    needs_passphrase,
    slot_inventory,
)
from ..vault import Vault
from .common import EXIT_OK, AddCommand, CliPrompts, Context, subcommands


def _slot_json(status: Any) -> dict[str, Any]:
    slot: Keyslot = status.slot
    return {
        "id": slot.id,
        "kind": slot.kind,
        "label": slot.label,
        "assurance": status.assurance,
        "two_factor": status.two_factor,
        "created": slot.created,
        "last_used": slot.last_used,
        "last_tested": slot.last_tested,
    }


def _day(stamp: str | None) -> str:
    return stamp[:10] if stamp else "never"


def cmd_list(ctx: Context) -> int:
    vault = Vault.open(ctx.vault_dir)
    slots = vault.header.slots
    names = {o.id: o.name for o in vault.header.operators}
    rows = [{**_slot_json(s), "operator": names.get(s.slot.operator or "")}
            for s in slot_inventory(slots)]
    several = len(names) > 1
    kinds = sorted({s.kind for s in slots} - {PASSPHRASE})
    usable = {kind: availability(kind) for kind in kinds}
    warnings = inventory_warnings(slots)

    def table() -> str:
        who = f"{'OPERATOR':<16} " if several else ""
        lines = [f"{'ID':<9} {who}{'KIND':<10} {'LABEL':<24} {'USED':<10} {'TESTED':<10} "
                 "ASSURANCE"]
        for r in rows:
            extra = " (+ passphrase)" if r["two_factor"] else ""
            who = f"{(r['operator'] or '-')[:16]:<16} " if several else ""
            lines.append(
                f"{r['id']:<9} {who}{r['kind']:<10} {r['label'][:24]:<24} "
                f"{_day(r['last_used']):<10} {_day(r['last_tested']):<10} {r['assurance']}{extra}"
            )
        lines += [f"note: {kind} is not usable here: {a.reason}"
                  for kind, a in usable.items() if not a.ok]
        lines += [f"warning: {w}" for w in warnings]
        return "\n".join(lines)

    ctx.out.emit(
        {
            "slots": rows,
            "warnings": warnings,
            "available": {k: {"ok": a.ok, "reason": a.reason} for k, a in usable.items()},
        },
        table,
    )
    return EXIT_OK


def cmd_add(ctx: Context) -> int:
    args = ctx.args
    kind = args.kind
    options: dict[str, Any] = {}
    if kind == SlotKind.Fido2.value:
        options["uv"] = args.uv
    elif kind == SlotKind.Tpm.value:
        options["pcrs"] = _pcrs(args.pcrs)
        options["pin"] = bool(args.tpm_pin)
    if args.two_factor and kind == SlotKind.Keyring.value:
        raise UsageError("the keyring method cannot be two-factor")
    source = load_source(kind)
    usable = source.available()
    if not usable.ok:
        raise BackendUnavailable(f"{kind} cannot be used here: {usable.reason}")
    with ctx.unlocked() as vault:
        passphrase = None
        if args.two_factor:
            passphrase = normalize_passphrase(ctx.prompter.ask(0, "Vault passphrase: "))
        slot = vault.add_hardware_slot(
            source, label=args.label or _default_label(kind), options=options,
            passphrase=passphrase, prompts=CliPrompts(ctx),
        )
        warnings = inventory_warnings(vault.header.slots)
    status = slot_inventory([slot])[0]
    ctx.out.emit(
        {"slot": _slot_json(status), "warnings": warnings},
        lambda: "\n".join(
            [f"Added {slot.kind} keyslot {slot.id} ({slot.label}): {status.assurance}."]
            + [f"warning: {w}" for w in warnings]
        ),
    )
    return EXIT_OK


def _known_slot(ctx: Context) -> None:
    """Refuse an unknown slot id from the public header, before any unlock writes."""
    from ..errors import NotFound
    if Vault.open(ctx.vault_dir).header.slot(ctx.args.id) is None:
        raise NotFound(f"no keyslot {ctx.args.id}; see 'strongroom unlock-method list'")


def cmd_remove(ctx: Context) -> int:
    _known_slot(ctx)
    with ctx.unlocked() as vault:
        slot = vault.header.slot(ctx.args.id)
        source = None
        if slot is not None and slot.kind == SlotKind.Keyring.value:
            source = load_source(slot.kind)
        rekeyed = vault.remove_slot(ctx.args.id, source,
                                    rekey=False if ctx.args.no_rekey else None,
                                    approval=ctx.approval(vault, "keyslot.remove", ctx.args.id))
    ctx.out.emit(
        {"removed": ctx.args.id, "rekeyed": rekeyed},
        f"Removed keyslot {ctx.args.id}." + (
            " The master key was rotated too: the removed slot in an older copy of the header "
            "opens nothing." if rekeyed else
            " The master key was not rotated (other unlock methods wrap it): the removed slot in "
            "an older copy of the header still opens this database."
        ),
    )
    return EXIT_OK


def cmd_rename(ctx: Context) -> int:
    _known_slot(ctx)
    with ctx.unlocked() as vault:
        vault.rename_slot(ctx.args.id, ctx.args.label)
    ctx.out.emit({"id": ctx.args.id, "label": ctx.args.label},
                 f"Renamed keyslot {ctx.args.id} to {ctx.args.label}.")
    return EXIT_OK


def cmd_test(ctx: Context) -> int:
    _known_slot(ctx)
    with ctx.unlocked() as vault:
        slot = vault.header.slot(ctx.args.id)
        if slot is None:
            raise NotFound(f"no keyslot {ctx.args.id}")
        unlocker: Any
        if slot.kind == PASSPHRASE:
            unlocker = PassphraseUnlocker.from_text(
                ctx.prompter.ask(1, "Passphrase to test: ")
            )
        else:
            passphrase = None
            if needs_passphrase(slot):
                passphrase = normalize_passphrase(ctx.prompter.ask(0, "Vault passphrase: "))
            unlocker = HardwareUnlocker(
                load_source(slot.kind), vault.vault_id, prompts=CliPrompts(ctx),
                passphrase=passphrase,
            )
        vault.test_slot(slot.id, unlocker)
        tested = vault.header.slot(slot.id)
    ctx.out.emit(
        {"id": slot.id, "ok": True, "last_tested": tested.last_tested if tested else None},
        f"Keyslot {slot.id} ({slot.label}) opens the vault.",
    )
    return EXIT_OK


def _pcrs(text: str) -> list[int]:
    if text.strip().lower() in ("", "none"):
        return []
    try:
        pcrs = sorted({int(p) for p in text.split(",")})
    except ValueError:
        raise UsageError(f"--pcrs takes PCR numbers like 7 or 0,7, not {text!r}") from None
    if any(not 0 <= p <= 23 for p in pcrs):
        raise UsageError("PCR numbers run from 0 to 23")
    return pcrs


def _default_label(kind: str) -> str:
    return {"fido2": "Security key", "tpm": "This computer's TPM",
            "keyring": "This device's keyring"}[kind]


def register(sub: Any, command: AddCommand) -> None:
    """Add the ``unlock-method`` group to the top-level subparsers."""
    um = sub.add_parser("unlock-method", help="list, add, test and remove unlock methods")
    usub = subcommands(um, "unlock_command")
    command(usub, "list", cmd_list, "list the keyslots, their assurance and warnings")
    add = command(usub, "add", cmd_add, "enrol a security key, the TPM or the OS keyring")
    add.add_argument("kind", choices=[k.value for k in SlotKind])
    add.add_argument("--label", metavar="TEXT")
    add.add_argument("--uv", choices=("required", "discouraged"), default="discouraged",
                     help="fido2: require the key's PIN (required) or a touch only (default)")
    add.add_argument("--pcrs", default="7", metavar="N,...",
                     help="tpm: PCRs the seal is bound to (default 7; 'none' for no PCR policy)")
    add.add_argument("--tpm-pin", action="store_true", help="tpm: also require a PIN")
    add.add_argument("--two-factor", action="store_true",
                     help="also require the passphrase with this device")
    rm = command(usub, "remove", cmd_remove,
                 "remove a keyslot (never the last); the master key is rotated when it can be")
    rm.add_argument("id")
    rm.add_argument("--no-rekey", action="store_true", help="keep the master key")
    ren = command(usub, "rename", cmd_rename, "change a keyslot's label")
    ren.add_argument("id")
    ren.add_argument("label")
    command(usub, "test", cmd_test, "check that a keyslot still opens the vault").add_argument(
        "id")
