"""``strongroom review …``: access-review campaigns: create, list, show, decide, close, report.

Creating and closing need an Administrator (reviews.manage), deciding a reviewer named in the
campaign (and never on their own grant), reading an Auditor, Reviewer or Administrator; a refusal
exits 6. Decisions are recorded only: ``close`` applies them, rotating the level keys a revoked
operator held, and a report lists the commands that revoke workstation access (never run here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..access import review_report, reviews
from ..access.grants import Scope
from ..errors import UsageError
from ..model import parse_date
from .common import EXIT_OK, AddCommand, Context, bounded_int, subcommands

SCOPE_WORDS = ("all", "workstation", "drills")
SCOPE_KINDS = {"level": "levels", "tag": "tags", "key": "keys", "token": "tokens",
               "operator": "operators"}


def parse_scope(words: Sequence[str] | None) -> dict[str, Any]:
    """``--scope`` values as a campaign scope; none means every grant."""
    scope: dict[str, Any] = {}
    for word in words or ("all",):
        text = word.strip()
        if text.lower() in SCOPE_WORDS:
            scope[text.lower()] = True
            continue
        kind, sep, value = text.partition(":")
        key = SCOPE_KINDS.get(kind.strip().lower())
        if not sep or key is None or not value.strip():
            raise UsageError(f"invalid --scope {word!r}: use all, workstation, drills, level:L, "
                             "tag:T, "
                             "key:K, token:T or operator:NAME")
        if key == "levels":
            value = Scope.parse(text).value
        scope.setdefault(key, []).append(value.strip())
    return scope


def cmd_create(ctx: Context) -> int:
    args = ctx.args
    if not args.reviewer:  # refused before the unlock writes anything
        raise UsageError("a review campaign needs at least one reviewer (--reviewer NAME)")
    due = parse_date(args.due, "due date")
    starts = None if args.starts is None else parse_date(args.starts, "start date")
    scope = parse_scope(args.scope)
    with ctx.unlocked() as vault:
        campaign = reviews.create_campaign(
            vault, args.name, scope=scope, reviewers=args.reviewer or [], due=due,
            starts=starts, recurrence=args.recurrence, default_decision=args.default,
            justification_required=not args.no_justification, unused_days=args.unused_days)
        view = reviews.show(vault, campaign.id)
    total = view["progress"]["total"]
    ctx.out.emit(view, f"Created review campaign {campaign.id} ({campaign.name}) with {total} "
                       f"item{'s' * (total != 1)}, due {campaign.due}; reviewers: "
                       f"{', '.join(view['reviewers'])}.")
    return EXIT_OK


def cmd_list(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        rows = reviews.list_campaigns(vault)

    def table() -> str:
        lines = [f"{'ID':>4}  {'NAME':<28} {'STATUS':<8} {'DUE':<10}  DECIDED"]
        for c in rows:
            late = " overdue" if c["overdue"] else ""
            lines.append(f"{c['id']:>4}  {c['name'][:28]:<28} {c['status']:<8} {c['due']:<10}  "
                         f"{c['progress']['decided']}/{c['progress']['total']}{late}")
        return "\n".join(lines) if rows else "(no review campaigns)"

    ctx.out.emit(rows, table)
    return EXIT_OK


def _about(item: Mapping[str, Any]) -> str:
    s = item["subject"]
    if item["kind"] == "grant":
        used = (s.get("last_used") or "never")[:10]
        return (f"{s['operator']} ({s['operator_status']}): {s['permission']} on {s['scope']}, "
                f"given by {s['grantor']}, last used {used}")
    if item["kind"] == "drill":
        return (f"share {s['index']} of set {s['set'][:8]} held by {s['custodian']}: last "
                f"drill {(s['last_drill'] or 'never')[:10]}, due {s['due']}")
    return f"workstation {s['kind']}: {s['principal']} ({s['source']})"


def cmd_show(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        view = reviews.show(vault, ctx.args.id)

    def text() -> str:
        p = view["progress"]
        lines = [f"Campaign {view['id']}: {view['name']} ({view['status']}"
                 f"{', overdue' if view['overdue'] else ''}), due {view['due']}, "
                 f"{p['decided']} of {p['total']} decided",
                 f"Scope: {review_report.scope_text(view['scope'])}; reviewers: "
                 f"{', '.join(view['reviewers'])}"]
        for i in view["items"]:
            decided = (f"{i['decision']} by {i['decided_by']}" if i["decision"]
                       else "undecided")
            flags = f" [{', '.join(i['flags'])}]" if i["flags"] else ""
            late = " OVERDUE" if i["overdue"] and not i["decision"] else ""
            lines.append(f"{i['id']:>5}  {_about(i)}\n       recommends {i['recommendation']}: "
                         f"{i['reason']} -> {decided}{flags}{late}")
        return "\n".join(lines)

    ctx.out.emit(view, text)
    return EXIT_OK


def cmd_decide(ctx: Context) -> int:
    args = ctx.args
    expires = None if args.expires is None else parse_date(args.expires, "expiry date")
    with ctx.unlocked() as vault:
        item = reviews.decide(vault, args.id, args.item, args.decision,
                              justification=args.justification, permission=args.permission,
                              expires=expires)
    flags = f" [{', '.join(item.flags)}]" if item.flags else ""
    ctx.out.emit(item.to_json(), f"Item {item.id} of campaign {item.campaign_id}: "
                                 f"{item.decision}{flags}; applied when the campaign closes.")
    return EXIT_OK


def cmd_close(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        outcome = reviews.close(vault, ctx.args.id, approval=ctx.approval(
            vault, "access.change", f"review:{ctx.args.id}"))
    d = outcome["decisions"]
    text = (f"Closed campaign {ctx.args.id}: {outcome['items']} items, "
            + ", ".join(f"{k} {v}" for k, v in d.items())
            + f" ({outcome['defaulted']} by default, {outcome['overdue']} overdue); "
            f"{outcome['applied']} applied.")
    if outcome["levels_rotated"]:
        text += f"\nLevel keys rotated: {', '.join(outcome['levels_rotated'])}."
    if outcome["rotation_pending"]:
        text += (f"\nRotation pending (done by the level's next holder to unlock): "
                 f"{', '.join(outcome['rotation_pending'])}.")
    text += "".join(f"\nRun by hand to revoke {r['principal']}: {r['command']}"
                    for r in outcome["remediation"])
    if outcome["next_campaign"] is not None:
        text += f"\nNext campaign: {outcome['next_campaign']}."
    ctx.out.emit({"campaign": ctx.args.id, **outcome}, text)
    return EXIT_OK


def cmd_report(ctx: Context) -> int:
    args = ctx.args
    path = Path(args.csv or args.pdf)
    with ctx.unlocked() as vault:
        report = reviews.report(vault, args.id)
    if args.csv:
        review_report.write_report_csv(report, path)
    else:
        review_report.write_report_pdf(report, path)
    fmt = "csv" if args.csv else "pdf"
    ctx.out.emit({"campaign": args.id, "format": fmt, "path": str(path),
                  "items": len(report["items"])},
                 f"Wrote the report of campaign {args.id} to {path}.")
    return EXIT_OK


def register(sub: Any, command: AddCommand) -> None:
    """``strongroom review create|list|show|decide|close|report``."""
    review = sub.add_parser("review", help="access reviews: campaigns, decisions, reports")
    rsub = subcommands(review, "review_command")
    ids = bounded_int(1, 2**63 - 1)
    create = command(rsub, "create", cmd_create, "start a review campaign (Administrator)")
    create.add_argument("name")
    create.add_argument("--reviewer", action="append", metavar="NAME",
                        help="an operator who decides (repeatable)")
    create.add_argument("--due", required=True, metavar="YYYY-MM-DD")
    create.add_argument("--starts", metavar="YYYY-MM-DD", help="default: now")
    create.add_argument("--scope", action="append", metavar="SCOPE",
                        help="all (default), level:L, tag:T, key:K, token:T, operator:NAME, "
                             "workstation or drills (share custodians; repeatable)")
    create.add_argument("--recurrence", choices=tuple(reviews.RECURRENCES))
    create.add_argument("--default", choices=reviews.DEFAULTS, default=reviews.RECOMMENDATION,
                        help="the decision for items undecided at close "
                             "(default: each item's recommendation)")
    create.add_argument("--no-justification", action="store_true",
                        help="decisions need no justification")
    create.add_argument("--unused-days", type=bounded_int(1, 3650), metavar="N",
                        help="recommend revoking grants unused this long (default: the policy's)")
    command(rsub, "list", cmd_list, "list review campaigns")
    command(rsub, "show", cmd_show, "show a campaign's items and decisions").add_argument(
        "id", type=ids)
    decide = command(rsub, "decide", cmd_decide, "record a decision on one item (reviewer)")
    decide.add_argument("id", type=ids)
    decide.add_argument("item", type=ids)
    decide.add_argument("decision", choices=reviews.DECISIONS)
    decide.add_argument("--justification", metavar="TEXT")
    decide.add_argument("--permission", metavar="P", help="reduce: the narrower permission")
    decide.add_argument("--expires", metavar="YYYY-MM-DD", help="extend: the new expiry")
    command(rsub, "close", cmd_close,
            "close a campaign and apply its decisions (Administrator)").add_argument(
        "id", type=ids)
    rep = command(rsub, "report", cmd_report, "write a campaign's report as CSV or PDF")
    rep.add_argument("id", type=ids)
    out = rep.add_mutually_exclusive_group(required=True)
    out.add_argument("--csv", metavar="FILE")
    out.add_argument("--pdf", metavar="FILE")
