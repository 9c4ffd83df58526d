"""``strongroom operator …``: the people who share a vault, their roles and unlock factors.

``add`` gives the new operator a passphrase keyslot of their own: they type it at the prompt (or
line 2 of ``--passphrase-fd``, after the acting operator's). Changes are Administrator work and,
with a second Administrator present, two-person operations (``--approver NAME``). Exit 6 when a
role, grant or approval is missing.
"""

from __future__ import annotations

from typing import Any

from ..access import operator_admin
from ..access.operators import ACTIVE, SUSPENDED
from ..keyslots import normalize_passphrase
from .common import EXIT_OK, AddCommand, Context, subcommands


def cmd_list(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        people = operator_admin.list_operators(vault)
        warnings = operator_admin.factor_warnings(vault)
        slots = {o.id: [s for s in vault.header.slots if s.operator == o.id] for o in people}
    rows = [{**o.to_json(), "unlock_methods": [{"id": s.id, "kind": s.kind, "label": s.label}
                                                for s in slots[o.id]]} for o in people]

    def table() -> str:
        lines = [f"{'NAME':<20} {'STATUS':<10} {'METHODS':<8} ROLES"]
        lines += [f"{r['name'][:20]:<20} {r['status']:<10} {len(r['unlock_methods']):<8} "
                  f"{', '.join(r['roles'])}" for r in rows]
        lines += [f"warning: {w.message}" for w in warnings]
        return "\n".join(lines)

    ctx.out.emit({"operators": rows, "warnings": [w.to_json() for w in warnings]}, table)
    return EXIT_OK


def cmd_add(ctx: Context) -> int:
    args = ctx.args
    with ctx.unlocked() as vault:
        passphrase = ctx.prompter.ask(1, f"Passphrase for {args.name}: ", confirm=True)
        approval = ctx.approval(vault, "access.change", f"operator:{args.name.strip()}")
        new = operator_admin.add_operator(
            vault, args.name, normalize_passphrase(passphrase), roles=args.role,
            contact=args.contact or "",
            kdf_time_ms=args.kdf_time_ms, approval=approval)
    ctx.out.emit(new.to_json(), f"Added operator {new.name} ({', '.join(new.roles)}).")
    return EXIT_OK


def _status(ctx: Context, status: str) -> int:
    with ctx.unlocked() as vault:
        approval = ctx.approval(vault, "access.change", f"operator:{ctx.args.name.strip()}")
        changed = operator_admin.set_status(vault, ctx.args.name, status, approval=approval)
    ctx.out.emit(changed.to_json(), f"{changed.name} is now {changed.status}.")
    return EXIT_OK


def cmd_suspend(ctx: Context) -> int:
    return _status(ctx, SUSPENDED)


def cmd_reinstate(ctx: Context) -> int:
    return _status(ctx, ACTIVE)


def cmd_remove(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        approval = ctx.approval(vault, "access.change", f"operator:{ctx.args.name.strip()}")
        changed = operator_admin.remove_operator(vault, ctx.args.name, approval=approval)
    rotated = ", ".join(changed["levels_rotated"]) or "none"
    ctx.out.emit({"removed": ctx.args.name, **changed},
                 f"Removed {ctx.args.name}: {len(changed['slots'])} unlock methods, "
                 f"{len(changed['grants'])} grants; level keys rotated: {rotated}.")
    return EXIT_OK


def cmd_roles(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        approval = ctx.approval(vault, "access.change", f"operator:{ctx.args.name.strip()}")
        changed = operator_admin.set_roles(vault, ctx.args.name, ctx.args.role,
                                           approval=approval)
    ctx.out.emit(changed.to_json(), f"{changed.name}: {', '.join(changed.roles) or 'no roles'}.")
    return EXIT_OK


def register(sub: Any, command: AddCommand) -> None:
    """Add the ``operator`` group to the top-level subparsers."""
    op = sub.add_parser("operator", help="the operators who share this vault")
    osub = subcommands(op, "operator_command")
    command(osub, "list", cmd_list, "list operators, their roles, unlock methods and warnings")
    add = command(osub, "add", cmd_add, "add an operator with a passphrase of their own")
    add.add_argument("name")
    add.add_argument("--role", action="append", required=True, metavar="ROLE",
                     help="a role (repeat for several): Administrator, Custodian, Auditor, "
                          "Reviewer, Ceremony Administrator, Crypto Officer, Witness")
    add.add_argument("--contact", metavar="TEXT")
    add.add_argument("--kdf-time-ms", type=int, default=1000, metavar="MS",
                     help="Argon2id time for their passphrase (default 1000)")
    for name, func, text in (("suspend", cmd_suspend, "suspend an operator (they cannot unlock)"),
                             ("reinstate", cmd_reinstate, "reinstate a suspended operator"),
                             ("remove", cmd_remove, "remove an operator: unlock methods, grants "
                              "and level keys; their levels' keys are rotated")):
        command(osub, name, func, text).add_argument("name")
    roles = command(osub, "roles", cmd_roles, "set an operator's roles")
    roles.add_argument("name")
    roles.add_argument("--role", action="append", default=[], metavar="ROLE")
