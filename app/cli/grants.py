"""``strongroom grant …`` and ``strongroom policy …``: who may do what on which secret, tag,
level, key or token, and the vault's access policy.

A grant that reads values in a level wraps that level's key to the operator; revoking it drops
the wrap and rotates the level's key. Changes are Administrator work and, with a second
Administrator present, two-person operations (``--approver NAME``). Exit 6 when a role, grant or
approval is missing.
"""

from __future__ import annotations

import json
from typing import Any

from ..access import access_changes, grants, operators, policy
from ..access.grants import Scope
from ..errors import UsageError
from ..model import parse_date
from .common import EXIT_OK, AddCommand, Context, subcommands


def _expiry(text: str | None) -> str | None:
    return None if text is None else parse_date(text, "expiry").isoformat() + "T00:00:00Z"


def cmd_list(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        rows = access_changes.list_grants(vault, operator=ctx.args.operator_name,
                                          include_revoked=ctx.args.all)
    out = [{**g.to_json(), "operator": name} for g, name in rows]

    def table() -> str:
        lines = [f"{'ID':<5} {'OPERATOR':<16} {'PERMISSION':<10} {'SCOPE':<28} EXPIRES"]
        lines += [f"{g.id:<5} {name[:16]:<16} {g.permission:<10} {str(g.scope)[:28]:<28} "
                  f"{(g.expires or 'never')[:10]}{' (revoked)' if g.revoked else ''}"
                  for g, name in rows]
        return "\n".join(lines)

    ctx.out.emit({"grants": out}, table)
    return EXIT_OK


def cmd_add(ctx: Context) -> int:
    args = ctx.args
    scope = Scope.parse(args.scope)
    with ctx.unlocked() as vault:
        approval = ctx.approval(vault, "access.change",
                                f"grant:{args.operator_name.strip()}:{scope}")
        grant = access_changes.add_grant(
            vault, args.operator_name, scope, args.permission, justification=args.justification,
            expires=_expiry(args.expires), approval=approval)
    ctx.out.emit(grant.to_json(), f"Granted {grant.permission} on {grant.scope} to "
                                  f"{args.operator_name} (grant {grant.id}).")
    return EXIT_OK


def _target(vault: Any, grant_id: int) -> str:
    with vault._read() as conn:
        grant = grants.get(conn, grant_id)
        if grant is None:
            return f"grant:{grant_id}"
        return f"grant:{operators.get(conn, grant.operator_id).name}:{grant.scope}"


def cmd_revoke(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        approval = ctx.approval(vault, "access.change", _target(vault, ctx.args.id))
        changed = access_changes.revoke_grant(vault, ctx.args.id, reason=ctx.args.reason,
                                              approval=approval)
    rotated = ", ".join(changed["levels_rotated"]) or "none"
    pending = changed["rotation_pending"]
    later = f"; rotation pending for {', '.join(pending)}" if pending else ""
    ctx.out.emit({"revoked": ctx.args.id, **changed},
                 f"Revoked grant {ctx.args.id}; level keys rotated: {rotated}{later}.")
    return EXIT_OK


def cmd_change(ctx: Context) -> int:
    args = ctx.args
    with ctx.unlocked() as vault:
        approval = ctx.approval(vault, "access.change", _target(vault, args.id))
        changed = access_changes.change_grant(
            vault, args.id, permission=args.permission, expires=_expiry(args.expires),
            clear_expiry=args.no_expiry, reason=args.reason, approval=approval)
    ctx.out.emit({"changed": args.id, **changed}, f"Changed grant {args.id}.")
    return EXIT_OK


def cmd_policy_show(ctx: Context) -> int:
    with ctx.unlocked() as vault, vault._read() as conn:
        current = policy.load(conn)
    ctx.out.emit(current.to_json(), lambda: json.dumps(current.to_json(), indent=2))
    return EXIT_OK


def cmd_policy_set(ctx: Context) -> int:
    try:
        with open(ctx.args.file, "rb") as f:
            data = f.read(64 * 1024 + 1)
    except OSError as e:
        raise UsageError(f"cannot read {ctx.args.file}: {e.strerror}") from None
    if len(data) > 64 * 1024:
        raise UsageError(f"{ctx.args.file} is larger than a policy can be (64 KiB)")
    try:
        new = policy.from_json(json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, ValueError) as e:
        if isinstance(e, UsageError):
            raise
        raise UsageError(f"{ctx.args.file} is not a JSON policy") from None
    with ctx.unlocked() as vault:
        approval = ctx.approval(vault, "policy.change", "policy")
        access_changes.set_policy(vault, new, approval=approval)
    ctx.out.emit(new.to_json(), "The access policy was changed.")
    return EXIT_OK


def register(sub: Any, command: AddCommand) -> None:
    """Add the ``grant`` and ``policy`` groups to the top-level subparsers."""
    gp = sub.add_parser("grant", help="who may do what on which secret, tag, level, key, token")
    gsub = subcommands(gp, "grant_command")
    ls = command(gsub, "list", cmd_list, "list grants (everyone's for Administrators, "
                 "Auditors and Reviewers; else your own)")
    ls.add_argument("--for", dest="operator_name", metavar="NAME")
    ls.add_argument("--all", action="store_true", help="include revoked grants")
    add = command(gsub, "add", cmd_add, "grant an operator a permission on a scope")
    add.add_argument("operator_name", metavar="OPERATOR")
    add.add_argument("permission", choices=(*grants.PERMISSIONS, *grants.ALIASES))
    add.add_argument("scope", help="level:L, secret:NAME, tag:T, key:ID|LABEL|*, token:SERIAL")
    add.add_argument("--justification", required=True, metavar="TEXT")
    add.add_argument("--expires", metavar="YYYY-MM-DD")
    rv = command(gsub, "revoke", cmd_revoke, "revoke a grant (rotates level keys it held)")
    rv.add_argument("id", type=int)
    rv.add_argument("--reason", required=True, metavar="TEXT")
    ch = command(gsub, "change", cmd_change, "reduce a grant or change its expiry")
    ch.add_argument("id", type=int)
    ch.add_argument("--permission", choices=grants.PERMISSIONS)
    ch.add_argument("--expires", metavar="YYYY-MM-DD")
    ch.add_argument("--no-expiry", action="store_true")
    ch.add_argument("--reason", required=True, metavar="TEXT")
    pp = sub.add_parser("policy", help="the access policy: two-person rule, device-health gate")
    psub = subcommands(pp, "policy_command")
    command(psub, "show", cmd_policy_show, "print the access policy as JSON")
    st = command(psub, "set", cmd_policy_set, "replace the access policy from a JSON file")
    st.add_argument("file")
