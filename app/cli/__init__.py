"""The ``strongroom`` command line: a contract scripts rely on (names, output, exit codes).

One module per command group, each with a ``register(sub, command)`` that adds its subcommands:
``vault`` (init, passphrase, rotate), ``secrets``, ``audit`` (with ``checkpoints``), ``backup``,
``unlock`` (unlock methods), ``keys`` (with ``tokens`` and ``certificates``) and ``check``.
``common`` holds what they share: the parser class, the context, prompts, output, exit codes.
Nothing in a group imports this module.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import StrongroomError, UsageError, UserCancelled
from .parsing import EXIT_FAILED, Parser, add_globals, check_text_arguments

log = logging.getLogger("strongroom")

# The top-level commands in the order `strongroom --help` lists them: name, help, and the group
# module and function that register it (a function may register several commands in a row).
# Only the chosen command's module is imported; tests/test_cli_lazy.py holds this table equal to
# what the modules register.
COMMANDS: tuple[tuple[str, str, str, str], ...] = (
    ("init", "create a vault", "vault", "register_init"),
    ("secret", "add, read, change and list secrets", "secrets", "register"),
    ("passphrase", "change the passphrase", "vault", "register"),
    ("rotate", "rotate the master key and data keys", "vault", "register"),
    ("vault", "the vault folder as a whole", "vault", "register"),
    ("audit", "verify, show, export and forward the audit log", "audit", "register"),
    ("backup", "create, verify and restore backups", "backup", "register"),
    ("unlock-method", "list, add, test and remove unlock methods", "unlock", "register"),
    ("shares", "SLIP-39 share sets: the recovery keyslot, drills", "shares", "register"),
    ("review", "access reviews: campaigns, decisions, reports", "reviews", "register"),
    ("operator", "the operators who share this vault", "operators", "register"),
    ("grant", "who may do what on which secret, tag, level, key, token", "grants", "register"),
    ("policy", "the access policy: two-person rule, device-health gate", "grants", "register"),
    ("ceremony", "offline key ceremonies: validate, run, verify", "ceremony", "register"),
    ("keys", "hardware keys: list, generate, sign, verify, CSRs", "keys", "register"),
    ("check", "endpoint compliance self-checks (no vault needed; exit 0 pass, 1 fail, "
     "5 unknown)", "check", "register"),
    ("import", "import secrets from KeePass, Bitwarden or CSV", "importing", "register"),
    ("export", "export secrets to KeePass KDBX 4 or an archive", "export", "register"),
    ("remote", "OpenBao / Vault servers: publish and pull secrets (KV v2)", "remote",
     "register"),
)
ALL = frozenset(name for name, *_ in COMMANDS)


def cmd_console(ctx: Any) -> int:
    """Open the desktop console, which a front-end package registers as an entry point."""
    from ..plugins import FRONTENDS_GROUP, load_backend

    launch: Callable[[Path], int] = load_backend(FRONTENDS_GROUP, "console", missing=UsageError(
        "the console is not installed (no strongroom.frontends entry point); use the "
        "commands ('strongroom --help')"
    ))
    return launch(ctx.vault_dir)


def build_parser(full: frozenset[str] = ALL) -> argparse.ArgumentParser:
    """The parser; only the groups of the commands in ``full`` are registered, the others only
    named (with their help), so that their modules are not imported."""
    common = Parser(add_help=False)
    add_globals(common, top=False)
    p = Parser(prog="strongroom", description="Strongroom: a local secrets and key custodian.")
    add_globals(p, top=True)
    p.add_argument("--version", action="store_true", dest="show_version",
                   help="print the version and exit")
    p.add_argument("--verbose", action="store_true",
                   help="with --version: also the licence and the versions of SQLCipher, "
                   "cryptography, PySide6 and the hardware libraries")
    p.set_defaults(func=cmd_console)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def command(parent: Any, name: str, func: Any, help: str) -> Any:
        cp = parent.add_parser(name, help=help, parents=[common], description=help)
        cp.set_defaults(func=func)
        return cp

    groups = {(module, function) for name, _, module, function in COMMANDS if name in full}
    registered: set[tuple[str, str]] = set()
    for name, help, module, function in COMMANDS:
        if (module, function) not in groups:
            # Unknown options land in the extras, so that any command line finds its command.
            sub.add_parser(name, help=help, add_help=False).set_defaults(named_only=name)
        elif (module, function) not in registered:
            registered.add((module, function))
            group = importlib.import_module(f"{__name__}.{module}")
            getattr(group, function)(sub, command)
    return p


def parse(words: list[str]) -> argparse.Namespace:
    """Find the command with a parser that only names them, then parse with its group's."""
    try:
        first, _ = build_parser(frozenset()).parse_known_args(words)
    except UsageError:  # the parser with every group says what is wrong, as it always did
        return build_parser().parse_args(words)
    chosen = getattr(first, "named_only", None)
    return build_parser(frozenset() if chosen is None else frozenset({chosen})).parse_args(words)


def show_version(verbose: bool, as_json: bool) -> int:
    """``strongroom X``; with --verbose the licence and the libraries' versions (None: absent)."""
    from .. import about

    if as_json:
        out: dict[str, Any] = {"strongroom": about.strongroom_version()}
        if verbose:
            out |= {"licence": about.licence(),
                    "components": {c.name: c.version for c in about.components()}}
        print(json.dumps(out))
    else:
        print("\n".join(about.report()) if verbose else f"strongroom {about.strongroom_version()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="strongroom: %(levelname)s: %(message)s")
    words = list(sys.argv[1:] if argv is None else argv)
    # Known before parsing, so that a usage error under --json is JSON too.
    json_mode = "--json" in words[: words.index("--") if "--" in words else len(words)]
    try:
        args = parse(words)
        check_text_arguments(args)
        if args.show_version:
            return show_version(args.verbose, args.json)
        from .common import Context

        ctx = Context(args, sys.stdin, sys.stdout)
        return int(args.func(ctx))
    except UserCancelled:
        return fail(json_mode, "UserCancelled", EXIT_FAILED, "cancelled", quiet=True)
    except StrongroomError as e:
        return fail(json_mode, type(e).__name__, e.exit_code, str(e))
    except KeyboardInterrupt:
        return fail(json_mode, "KeyboardInterrupt", 130, "interrupted")
    except BrokenPipeError:
        return EXIT_FAILED
    except Exception as e:
        if os.environ.get("STRONGROOM_DEBUG"):
            raise
        return fail(json_mode, "InternalError", EXIT_FAILED,
                    f"internal error ({type(e).__name__}); rerun with STRONGROOM_DEBUG=1 for "
                    "details")


def fail(json_mode: bool, error: str, code: int, message: str, *, quiet: bool = False) -> int:
    """Report a failure: one line on stderr, and under --json one object on stdout too."""
    if not quiet:
        print(f"strongroom: {message}", file=sys.stderr)
    if json_mode:
        with contextlib.suppress(OSError):
            print(json.dumps({"error": error, "exit_code": code, "message": message}),
                  flush=True)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
