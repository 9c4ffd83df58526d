"""``strongroom remote``: an OpenBao / HashiCorp Vault server as the shared store (KV v2).

``add`` checks the server (connect, log in, the KV mount is version 2) before anything is
stored; the token or AppRole secret-id comes from ``--token-fd N`` or a hidden prompt and is
kept as a vault secret (``remote/NAME/token``). ``publish`` and ``pull`` plan first (``--dry-run``
prints the plan and changes nothing), then write with check-and-set; a conflict is listed, never
overwritten, and makes the exit code 1. Exit codes: 0 ok, 1 failed (server down, TLS, permission,
sealed, not found, conflicts), 2 usage, 4 the server refused the credential, 6 a two-person
approval is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..model import Classification
from ..remotes import config, engines, planning, syncing
from ..remotes.config import Remote
from ..remotes.state import Item
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    AddCommand,
    Context,
    Prompter,
    bounded_int,
    have_terminal,
    subcommands,
)

CREDENTIAL_WHAT = {"token": "token", "approle": "AppRole secret-id"}


class _NotOnArgv(argparse.Action):
    """``--token X`` / ``--secret-id X``: refused without repeating X (argv shows in ps and
    shell history; argparse would also echo it in its error)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option: str | None = None
                 ) -> None:
        raise UsageError(f"{option} is not taken on the command line, where others can read it; "
                         "use --token-fd N or the prompt")


def _read_file(path: str, what: str, limit: int = 256 * 1024) -> str:
    try:
        data = Path(path).read_bytes()[: limit + 1]
    except OSError as e:
        raise UsageError(f"cannot read the {what} {path}: {e.strerror or 'unreadable'}") from None
    if len(data) > limit:
        raise UsageError(f"the {what} {path} is too large")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise UsageError(f"the {what} {path} is not a PEM file") from None


def _credential(ctx: Context, auth: str, name: str) -> bytes:
    args = ctx.args
    if auth == "cert":
        if not (args.client_cert and args.client_key):
            raise UsageError("--auth cert needs --client-cert FILE and --client-key FILE")
        key = _read_file(args.client_key, "client key")
        if "PRIVATE KEY-----" not in key:
            raise UsageError(f"the client key {args.client_key} is not a PEM private key")
        return key.encode()
    what = CREDENTIAL_WHAT[auth]
    fd = args.token_fd
    if fd is not None and fd in (args.passphrase_fd, args.approver_passphrase_fd):
        raise UsageError("--token-fd must be a descriptor of its own")
    if fd is None and not have_terminal():
        raise UsageError(f"no terminal to ask for the {what}; use --token-fd N")
    text = Prompter(fd, what=what).ask(0, f"{what[0].upper()}{what[1:]} for remote {name}: ")
    if any(c.isspace() for c in text.strip()) or not text.strip():
        raise UsageError(f"the {what} is one word")
    return text.strip().encode()


def _remote_from_args(ctx: Context) -> Remote:
    args = ctx.args
    name = config.check_name(args.name)
    settings: dict[str, Any] = {"prefix": config.check_prefix(args.prefix)}
    if args.ca:
        settings["ca_pem"] = config.check_pem(_read_file(args.ca, "CA file"), "CA file")
    if args.auth == "approle":
        if not args.role_id:
            raise UsageError("--auth approle needs --role-id ID")
        settings["role_id"] = args.role_id
    elif args.role_id:
        raise UsageError("--role-id goes with --auth approle")
    if args.auth == "cert":
        settings["client_cert_pem"] = config.check_pem(
            _read_file(args.client_cert or "", "client certificate"), "client certificate")
    elif args.client_cert or args.client_key:
        raise UsageError("--client-cert and --client-key go with --auth cert")
    if args.auth_mount:
        settings["auth_mount"] = config.check_mount(args.auth_mount, "auth")
    return Remote(name, config.check_urls(args.url), config.check_namespace(args.namespace),
                  config.check_mount(args.kv_mount, "KV"),
                  config.check_mount(args.transit_mount, "Transit"), args.auth, settings,
                  config.credential_name(name, args.auth))


def cmd_add(ctx: Context) -> int:
    remote = _remote_from_args(ctx)
    level = Classification.parse(ctx.args.level) if ctx.args.level else None
    credential = _credential(ctx, remote.auth, remote.name)
    engines.backend().kv(remote, credential).check()  # before the vault is even opened
    with ctx.unlocked() as vault:
        level = level or config.default_level(vault)
        approval = ctx.approval(vault, "secret.write", remote.credential_secret)
        stored = config.add_remote(vault, remote, credential, level, approval=approval)
    ctx.out.emit(stored.to_json(), f"Added remote {stored.name} ({', '.join(stored.urls)}, "
                 f"{stored.auth}); its credential is the secret {stored.credential_secret} "
                 f"({level.value}).")
    return EXIT_OK


def _describe(r: Remote) -> str:
    ns = f" namespace {r.namespace}" if r.namespace else ""
    return (f"{r.name}  {', '.join(r.urls)}{ns}  kv {r.kv_mount}/{r.prefix}  transit "
            f"{r.transit_mount}  auth {r.auth}  credential {r.credential_secret}")


def cmd_list(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        remotes = config.list_remotes(vault)
    ctx.out.emit([r.to_json() for r in remotes],
                 lambda: "\n".join(_describe(r) for r in remotes) or "No remotes.")
    return EXIT_OK


def cmd_show(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        remote = config.get_remote(vault, ctx.args.name)
    ctx.out.emit(remote.to_json(), _describe(remote))
    return EXIT_OK


def cmd_test(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        remote = config.get_remote(vault, ctx.args.name)
        engine = engines.open_kv(vault, remote,
                                 approval=ctx.approval(vault, "secret.reveal",
                                                       remote.credential_secret))
    engine.check()
    ctx.out.emit({"remote": remote.name, "ok": True},
                 f"Remote {remote.name}: logged in, {remote.kv_mount}/ is KV version 2.")
    return EXIT_OK


def cmd_remove(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        remote = config.get_remote(vault, ctx.args.name)
        approval = ctx.approval(vault, "secret.delete", remote.credential_secret)
        rows = config.remove_remote(vault, remote.name, approval=approval)
    ctx.out.emit({"remote": remote.name, "removed": True, "sync_rows": rows},
                 f"Removed remote {remote.name} and its credential secret (nothing on the server "
                 "was changed).")
    return EXIT_OK


def _selection(ctx: Context) -> planning.Selection:
    args = ctx.args
    level = Classification.parse(args.level) if args.level else None
    return planning.Selection(tuple(args.names or ()), args.tag, level, args.all)


def _line(item: Item) -> str:
    synced = f" (synced {item.synced.local_version}/{item.synced.remote_version})" \
        if item.synced else ""
    remote = item.remote_version or "-"
    return (f"{item.action.value:<8} {item.name}  {item.path}  local v{item.local_version} "
            f"remote v{remote}{synced}  {item.reason}")


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {a}" for a, n in counts.items() if n) or "nothing selected"


def _sync(ctx: Context, direction: str) -> int:
    args = ctx.args
    selection = _selection(ctx)
    selection.check()
    with ctx.unlocked() as vault:
        remote = config.get_remote(vault, args.name)
        engine = engines.open_kv(vault, remote)
        plan = planning.plan(vault, engine, direction, selection, args.prefer)
        if args.dry_run:
            ctx.out.emit({**plan.to_json(), "dry_run": True}, lambda: "\n".join(
                [_line(i) for i in plan.items]
                + [f"Dry run, nothing changed: {_summary(plan.counts())}."]))
            return EXIT_OK
        approval = ctx.approval(vault, plan.operation, plan.target) if plan.two_person \
            else None
        run = syncing.publish if direction == "publish" else syncing.pull
        result = run(vault, engine, plan, approval)
    verb = "Published to" if direction == "publish" else "Pulled from"
    ctx.out.emit({**result.to_json(), "dry_run": False}, lambda: "\n".join(
        [_line(i) for i in result.items] + [f"{verb} {remote.name}: {_summary(result.counts())}."]))
    if result.conflicts:
        print(f"strongroom: {len(result.conflicts)} secret(s) not synced (conflict or invalid "
              "data); nothing was written for them", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_publish(ctx: Context) -> int:
    return _sync(ctx, "publish")


def cmd_pull(ctx: Context) -> int:
    return _sync(ctx, "pull")


def cmd_status(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        remote = config.get_remote(vault, ctx.args.name)
        engine = engines.open_kv(vault, remote)
        items = planning.status(vault, engine)
    ctx.out.emit({"remote": remote.name, "items": [
        {**i.to_json(), "state": i.reason, "action": None} for i in items]},
        lambda: "\n".join(f"{i.reason:<15} {i.name}  {i.path}  local v{i.local_version} remote "
                          f"v{i.remote_version or '-'}" for i in items)
        or f"Nothing synced with {remote.name} yet.")
    return EXIT_OK


def register(sub: Any, command: AddCommand) -> None:
    """``strongroom remote add|list|show|test|remove|publish|pull|status``."""
    parser = sub.add_parser("remote", help="OpenBao / Vault servers: publish and pull secrets "
                            "(KV v2)")
    rsub = subcommands(parser, "remote_command")
    levels = "|".join(c.value for c in Classification)

    cp = command(rsub, "add", cmd_add, "add a remote after checking the server (connect, log in, "
                 "KV v2)")
    cp.add_argument("name", metavar="NAME")
    cp.add_argument("--url", action="append", required=True, metavar="URL",
                    help="the server, https://host:8200 (repeat for a cluster's nodes)")
    cp.add_argument("--namespace", default="", metavar="NS", help="an OpenBao/Vault namespace")
    cp.add_argument("--ca", metavar="FILE", help="the CA certificate(s) the server's TLS "
                    "certificate is checked against (PEM)")
    cp.add_argument("--kv-mount", default="secret", metavar="MOUNT", help="KV v2 mount")
    cp.add_argument("--transit-mount", default="transit", metavar="MOUNT",
                    help="Transit mount (for Transit keys)")
    cp.add_argument("--prefix", default=config.DEFAULT_PREFIX, metavar="PATH/",
                    help="where secrets go under the KV mount (default strongroom/)")
    cp.add_argument("--auth", required=True, choices=config.AUTH_METHODS)
    cp.add_argument("--role-id", metavar="ID", help="the AppRole role-id (--auth approle)")
    cp.add_argument("--auth-mount", metavar="MOUNT", help="the auth method's mount if not the "
                    "default (approle, cert)")
    cp.add_argument("--client-cert", metavar="FILE", help="client certificate (--auth cert)")
    cp.add_argument("--client-key", metavar="FILE", help="its private key, PEM (--auth cert); "
                    "stored in the vault as the credential")
    cp.add_argument("--token-fd", type=bounded_int(0, 2**31 - 1), metavar="N",
                    help="read the token or AppRole secret-id from file descriptor N")
    cp.add_argument("--level", metavar=levels, help="the credential secret's classification "
                    "(default: the highest level not under dual control)")
    for option in ("--token", "--secret-id"):
        cp.add_argument(option, action=_NotOnArgv, nargs="?", help=argparse.SUPPRESS)
    cp.allow_abbrev = False  # "--token-f" must not be taken for --token-fd, nor the reverse

    command(rsub, "list", cmd_list, "list the remotes")
    for name, func, text in (("show", cmd_show, "show one remote"),
                             ("test", cmd_test, "log in and check the KV mount"),
                             ("remove", cmd_remove, "forget a remote and its credential (the "
                              "server is not touched)"),
                             ("status", cmd_status, "each synced secret's state on both sides")):
        command(rsub, name, func, text).add_argument("name", metavar="NAME")

    for name, func, text, prefer in (
            ("publish", cmd_publish, "write secrets to the remote's KV v2 mount", "local"),
            ("pull", cmd_pull, "take the remote's newer versions as new local versions",
             "remote")):
        cp = command(rsub, name, func, text)
        cp.add_argument("name", metavar="NAME")
        cp.add_argument("--name", dest="names", action="extend", nargs="+", metavar="SECRET",
                        help="these secrets (--name a b, or --name repeated)")
        cp.add_argument("--tag", metavar="T", help="the secrets with this tag")
        cp.add_argument("--level", metavar=levels, help="the secrets of this level")
        cp.add_argument("--all", action="store_true", help="every secret")
        cp.add_argument("--dry-run", action="store_true",
                        help="list what would change (create/update/skip/conflict); change nothing")
        cp.add_argument("--prefer", choices=(prefer,),
                        help=f"resolve conflicts by taking the {prefer} side")
