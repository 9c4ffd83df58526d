"""``strongroom shares …``: SLIP-39 share sets — the recovery keyslot, its custodians' drills.

``create-recovery`` (an Administrator) adds a keyslot that any M of the N custodians' shares open
and prints each custodian's share once: it is never stored, logged or shown again. ``list`` shows
the sets, their holders, each holder's last drill and whether it is overdue. ``drill`` checks one
custodian's share against its commitment (nothing is combined) and records the drill. Shares are
read like passphrases: from ``--passphrase-fd`` (the line after those the unlock read) or a
hidden prompt. Exit codes: 2 a malformed share, 4 a share that is not that custodian's.
"""

from __future__ import annotations

from typing import Any

from ..ceremony import recovery
from ..ceremony import shares as share_sets
from ..ceremony.share_words import rows
from ..header import Header
from ..unlock_methods import RECOVERY, needs_passphrase
from .common import EXIT_OK, AddCommand, Context, bounded_int, subcommands

NOTICE = ("These shares are shown now and never again: Strongroom keeps only a commitment to "
          "each. Give each custodian their own share, and nothing of the others'.")


def cmd_create_recovery(ctx: Context) -> int:
    args = ctx.args
    # Refused before the unlock writes anything.
    names = share_sets.check_custodians(args.custodian or [])
    share_sets.check_threshold(args.threshold, len(names))
    with ctx.unlocked() as vault:
        made = recovery.create_recovery_slot(vault, args.threshold, names, label=args.label,
                                             drill_days=args.drill_days)
    slot, share_set = made.slot, made.share_set
    m, n = share_set.threshold, share_set.count

    def text() -> str:
        lines = [f"Added recovery keyslot {slot.id} ({slot.label}): any {m} of these {n} shares "
                 f"open the vault. Share set {share_set.id}; drills every "
                 f"{share_set.drill_days} days.", NOTICE]
        for issued in made.shares:
            lines += ["", f"===== share {issued.index} of {n} for {issued.custodian} "
                          f"(set {share_set.id}, any {m} open the vault) =====",
                      *rows(issued.mnemonic), f"===== end of {issued.custodian}'s share ====="]
        return "\n".join(lines)

    ctx.out.emit({"slot": {"id": slot.id, "kind": slot.kind, "label": slot.label,
                           "threshold": m, "count": n},
                  "set": share_set.to_json(), "notice": NOTICE,
                  "shares": [{"index": s.index, "custodian": s.custodian, "share": s.mnemonic}
                             for s in made.shares]}, text)
    return EXIT_OK


def cmd_list(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        now = vault.clock.now()
        found = [(s, share_sets.is_retired(vault, s), share_sets.drill_statuses(s, now))
                 for s in share_sets.share_sets(vault)]
    rows_out = [{**s.to_json(), "retired": retired,
                 "holders": [h.to_json() for h in statuses]} for s, retired, statuses in found]

    def table() -> str:
        if not found:
            return "(no share sets)"
        lines = []
        for s, retired, statuses in found:
            slot = f"keyslot {s.slot_id}" + (" (removed)" if retired else "") if s.slot_id \
                else "no keyslot"
            lines.append(f"{s.id}  {s.purpose}  {s.threshold} of {s.count}  created "
                         f"{s.created[:10]}  {slot}  drills every {s.drill_days} d")
            lines.append(f"  {'#':>2}  {'CUSTODIAN':<24} {'LAST DRILL':<10}  DUE")
            for h in statuses:
                late = "  overdue" if h.overdue and not retired else ""
                lines.append(f"  {h.index:>2}  {h.custodian[:24]:<24} "
                             f"{(h.last_drill or 'never')[:10]:<10}  {h.due}{late}")
        return "\n".join(lines)

    ctx.out.emit(rows_out, table)
    return EXIT_OK


def share_line(ctx: Context, header: Header) -> int:
    """The ``--passphrase-fd`` line the drilled share is on: the one after the unlock's."""
    kind = ctx.args.unlock
    if not kind:
        return 1
    slots = [s for s in header.slots if s.kind == kind]
    if kind == RECOVERY:
        return recovery.shares_needed(slots)
    return 1 if any(needs_passphrase(s) for s in slots) else 0


def cmd_drill(ctx: Context) -> int:
    args = ctx.args
    with ctx.unlocked() as vault:
        share_set = share_sets.get_set(vault, args.set)
        holder = share_set.holder(args.custodian)
        words = ctx.prompter.ask(share_line(ctx, vault.header),
                                 f"Share of {holder.custodian} (set {share_set.id}): ")
        done = share_sets.drill(vault, share_set.id, holder.custodian, words)
        [status] = [s for s in share_sets.drill_statuses(
            share_sets.get_set(vault, share_set.id), vault.clock.now()) if s.index == done.index]
    ctx.out.emit(status.to_json(),
                 f"Drill recorded: {done.custodian} holds share {done.index} of set "
                 f"{share_set.id}; the next drill is due by {status.due}.")
    return EXIT_OK


def register(sub: Any, command: AddCommand) -> None:
    """``strongroom shares create-recovery|list|drill``."""
    group = sub.add_parser("shares", help="SLIP-39 share sets: the recovery keyslot, drills")
    ssub = subcommands(group, "shares_command")
    create = command(ssub, "create-recovery", cmd_create_recovery,
                     "add a keyslot that M of N custodians' shares open; prints each share once "
                     "(Administrator)")
    create.add_argument("--threshold", type=bounded_int(2, share_sets.MAX_SHARES), required=True,
                        metavar="M", help="how many shares open the vault")
    create.add_argument("--custodian", action="append", metavar="NAME",
                        help="who holds a share (repeat, one per custodian)")
    create.add_argument("--label", metavar="TEXT")
    create.add_argument("--drill-days", type=bounded_int(1, share_sets.MAX_DRILL_DAYS),
                        default=share_sets.DEFAULT_DRILL_DAYS, metavar="N",
                        help=f"a drill is due every N days (default "
                             f"{share_sets.DEFAULT_DRILL_DAYS})")
    command(ssub, "list", cmd_list, "the share sets, their custodians and drills")
    drill = command(ssub, "drill", cmd_drill,
                    "check a custodian's share against its commitment and record the drill")
    drill.add_argument("set")
    drill.add_argument("--custodian", required=True, metavar="NAME")
