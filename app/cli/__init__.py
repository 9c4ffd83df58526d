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
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import about
from ..errors import StrongroomError, UsageError, UserCancelled
from ..plugins import FRONTENDS_GROUP, load_backend
from . import (
    audit,
    backup,
    ceremony,
    check,
    export,
    grants,
    importing,
    keys,
    operators,
    reviews,
    secrets,
    shares,
    unlock,
    vault,
)
from .common import (
    EXIT_FAILED,
    Command,
    Context,
    Parser,
    add_globals,
    check_text_arguments,
    version,
)

log = logging.getLogger("strongroom")

# Each group adds its commands, in the order `strongroom --help` lists them.
REGISTER = (vault.register_init, secrets.register, vault.register, audit.register, backup.register,
            unlock.register, shares.register, reviews.register, operators.register, grants.register,
            ceremony.register, keys.register, check.register, importing.register,
            export.register)


def cmd_console(ctx: Context) -> int:
    """Open the desktop console, which a front-end package registers as an entry point."""
    launch: Callable[[Path], int] = load_backend(FRONTENDS_GROUP, "console", missing=UsageError(
        "the console is not installed (no strongroom.frontends entry point); use the "
        "commands ('strongroom --help')"
    ))
    return launch(ctx.vault_dir)


def build_parser() -> argparse.ArgumentParser:
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

    def command(parent: Any, name: str, func: Command, help: str) -> Any:
        cp = parent.add_parser(name, help=help, parents=[common], description=help)
        cp.set_defaults(func=func)
        return cp

    for register in REGISTER:
        register(sub, command)
    return p


def show_version(verbose: bool, as_json: bool) -> int:
    """``strongroom X``; with --verbose the licence and the libraries' versions (None: absent)."""
    if as_json:
        out: dict[str, Any] = {"strongroom": version()}
        if verbose:
            out |= {"licence": about.licence(),
                    "components": {c.name: c.version for c in about.components()}}
        print(json.dumps(out))
    else:
        print("\n".join(about.report()) if verbose else f"strongroom {version()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="strongroom: %(levelname)s: %(message)s")
    words = list(sys.argv[1:] if argv is None else argv)
    # Known before parsing, so that a usage error under --json is JSON too.
    json_mode = "--json" in words[: words.index("--") if "--" in words else len(words)]
    try:
        args = build_parser().parse_args(words)
        check_text_arguments(args)
        if args.show_version:
            return show_version(args.verbose, args.json)
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
