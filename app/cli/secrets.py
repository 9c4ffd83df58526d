"""``strongroom secret …``: add, read, change, delete and list secrets (values from stdin).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import sys
from collections.abc import Sequence
from typing import Any

from .. import entries, totp
from ..errors import UsageError
from ..model import Classification, SecretInfo, parse_date
from ..vault import NewSecret
from ..vault.secret_fields import check_name, check_note, check_owner, check_tags
from .common import EXIT_OK, AddCommand, Context, bounded_int, read_value, subcommands


def _dates(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if getattr(args, "expires", None):
        out["expires"] = parse_date(args.expires, "expiry date")
    if getattr(args, "rotate_by", None):
        out["rotation_due"] = parse_date(args.rotate_by, "rotation date")
    today = dt.date.today()
    for key, what in (("expires", "expiry date"), ("rotation_due", "rotation date")):
        if key in out and out[key] < today:
            print(f"strongroom: note: the {what} {out[key].isoformat()} is already past; the "
                  "secret is listed as overdue", file=sys.stderr)
    return out


def _check_fields(args: argparse.Namespace) -> None:
    """What the vault would refuse, refused before the unlock writes anything."""
    check_name(args.name)
    check_tags(args.tag or ())
    if args.owner is not None:
        check_owner(args.owner)
    if args.note is not None:
        check_note(args.note)


def _overdue(day: str | None) -> bool:
    return day is not None and day < dt.date.today().isoformat()


def cmd_secret_add(ctx: Context) -> int:
    args = ctx.args
    dates = _dates(args)
    classification = Classification.parse(args.classification)
    _check_fields(args)
    # A piped value is read first, so empty input fails before the KDF and the audit log run.
    value = None if ctx.stdin.isatty() else read_value(ctx.stdin)
    with ctx.unlocked() as vault:
        value = value or read_value(ctx.stdin)
        info = vault.add_secret(
            NewSecret(
                name=args.name, value=value, classification=classification,
                tags=tuple(args.tag or ()), note=args.note or "", owner=args.owner,
                kind=args.kind, **dates,
            ),
            approval=ctx.approval(vault, "secret.write", args.name),
        )
    ctx.out.emit(info.to_json(), f"Added {info.name} ({info.classification.value}, version 1).")
    return EXIT_OK


def cmd_secret_get(ctx: Context) -> int:
    args = ctx.args
    with ctx.unlocked() as vault:
        info = vault.secret_info(args.name)
        if args.field and info.kind != "entry":
            raise UsageError(f"{info.name} is a {info.kind}, not an entry with fields")
        approval = ctx.approval(vault, "secret.reveal", args.name)
        value = vault.get_secret(args.name, args.version, approval=approval)
    obj: dict[str, Any] = {"name": info.name, "version": args.version or info.version,
                           "kind": info.kind}
    if info.kind == "entry":
        entry = entries.decode(value)
        if args.field:
            value = entry.get(args.field).encode()
            obj["field"], obj["value"] = args.field, value.decode()
        else:
            value = entry.password.encode()
            obj["entry"] = entry.to_json()
    if ctx.out.json:
        if "value" not in obj and "entry" not in obj:
            try:
                obj["value"] = value.decode("utf-8")
            except UnicodeDecodeError:
                obj["value_base64"] = base64.b64encode(value).decode()
        ctx.out.emit(obj, "")
    else:
        ctx.stdout.flush()
        sys.stdout.buffer.write(value)
        sys.stdout.buffer.flush()
    return EXIT_OK


def cmd_secret_totp(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        info = vault.secret_info(ctx.args.name)
        if info.kind not in ("totp", "entry"):
            raise UsageError(f"{info.name} is a plain value, not a TOTP seed")
        approval = ctx.approval(vault, "secret.reveal", ctx.args.name)
        value = vault.get_secret(ctx.args.name, purpose="totp", approval=approval)
    spec = (entries.decode(value).totp_spec() if info.kind == "entry"
            else totp.parse(value.decode()))
    if spec is None:
        raise UsageError(f"the entry {info.name} has no TOTP settings")
    now = dt.datetime.now(dt.UTC).timestamp()
    code, left = spec.code(now), spec.remaining(now)
    ctx.out.emit({"name": info.name, "code": code, "remaining_seconds": left, **spec.public()},
                 code)
    if not ctx.out.json:
        print(f"strongroom: valid for {left} more second(s)", file=sys.stderr)
    return EXIT_OK


def cmd_secret_update(ctx: Context) -> int:
    args = ctx.args
    dates = _dates(args)
    classification = Classification.parse(args.classification) if args.classification else None
    _check_fields(args)
    with ctx.unlocked() as vault:
        vault.secret_info(args.name)  # not found before asking for a value
        try:
            value = None if args.keep_value else read_value(ctx.stdin)
        except UsageError as e:
            raise UsageError(f"{e} (to change only the metadata, give --keep-value)") from None
        info = vault.update_secret(
            args.name, value, classification=classification,
            tags=args.tag, note=args.note, owner=args.owner, kind=args.kind, **dates,
            approval=ctx.approval(vault, "secret.write", args.name),
        )
    ctx.out.emit(info.to_json(), f"Updated {info.name} (now version {info.version}).")
    return EXIT_OK


def cmd_secret_rm(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        vault.delete_secret(ctx.args.name,
                            approval=ctx.approval(vault, "secret.delete", ctx.args.name))
    ctx.out.emit({"name": ctx.args.name, "deleted": True}, f"Deleted {ctx.args.name}.")
    return EXIT_OK


def cmd_secret_history(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        versions = vault.history(ctx.args.name)
    ctx.out.emit(
        {"name": ctx.args.name, "versions": [v.to_json() for v in versions]},
        lambda: "\n".join(
            f"v{v.version}  {v.created[:19].replace('T', ' ')}  {v.actor}  "
            f"{v.classification.value}" for v in versions
        ),
    )
    return EXIT_OK


def cmd_secret_list(ctx: Context) -> int:
    args = ctx.args
    level = Classification.parse(args.classification) if args.classification else None
    with ctx.unlocked() as vault:
        items = vault.list_secrets(search=args.search, classification=level, tag=args.tag)
    ctx.out.emit([s.to_json() for s in items], lambda: _secret_table(items))
    return EXIT_OK


def _secret_table(items: Sequence[SecretInfo]) -> str:
    if not items:
        return "(no secrets)"
    rows = [("NAME", "CLASS", "VER", "UPDATED", "EXPIRES", "TAGS")]
    for s in items:
        expires = s.expires or "-"
        if _overdue(s.expires):
            expires += " (expired)"
        elif _overdue(s.rotation_due):
            expires += " (rotation overdue)"
        rows.append(
            (s.name, s.classification.value, str(s.version), s.updated[:19].replace("T", " "),
             expires, ",".join(s.tags) or "-")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows
    )


def register(sub: Any, command: AddCommand) -> None:
    """``strongroom secret add|get|totp|update|rm|history|list``."""
    secret = sub.add_parser("secret", help="add, read, change and list secrets")
    ssub = subcommands(secret, "secret_command")
    levels = "|".join(c.value for c in Classification)

    def meta_options(cp: Any, *, defaults: bool) -> None:
        cp.add_argument("--classification", metavar=levels,
                        default="moderate" if defaults else None)
        cp.add_argument("--tag", action="append", metavar="T", help="repeatable")
        cp.add_argument("--note", metavar="TEXT")
        cp.add_argument("--owner", metavar="WHO")
        cp.add_argument("--expires", metavar="YYYY-MM-DD")
        cp.add_argument("--rotate-by", metavar="YYYY-MM-DD", help="rotation due date")

    kinds = "value: the bytes as given; totp: an otpauth:// URI or a base32 seed"
    add = command(ssub, "add", cmd_secret_add, "add a secret; its value is read from stdin")
    add.add_argument("name")
    meta_options(add, defaults=True)
    add.add_argument("--kind", choices=("value", "totp"), default="value", help=kinds)
    get = command(ssub, "get", cmd_secret_get,
                  "print a secret's value (an entry's password, or --field)")
    get.add_argument("name")
    get.add_argument("--version", type=bounded_int(1, 2**31 - 1), metavar="N")
    get.add_argument("--field", metavar="F",
                     help="an entry's field: username, url, notes, totp or a custom field")
    totp_cmd = command(ssub, "totp", cmd_secret_totp, "print a TOTP secret's current code")
    totp_cmd.add_argument("name")
    upd = command(ssub, "update", cmd_secret_update, "new version from stdin, or metadata")
    upd.add_argument("name")
    meta_options(upd, defaults=False)
    upd.add_argument("--kind", choices=("value", "totp"), help=kinds + " (with a new value)")
    upd.add_argument("--keep-value", action="store_true", help="change metadata only")
    rm = command(ssub, "rm", cmd_secret_rm, "delete a secret and its history")
    rm.add_argument("name")
    hist = command(ssub, "history", cmd_secret_history, "list a secret's versions")
    hist.add_argument("name")
    lst = command(ssub, "list", cmd_secret_list, "list secrets (never values)")
    lst.add_argument("--search", metavar="TERM")
    lst.add_argument("--classification", metavar=levels)
    lst.add_argument("--tag", metavar="T")
