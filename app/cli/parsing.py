"""The parser pieces every command group shares, kept light: ``strongroom --help`` imports this
module and nothing of the vault."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn, Protocol

from ..errors import UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTEGRITY, EXIT_AUTH = 0, 1, 2, 3, 4
# app.unlock_methods.RECOVERY is the last one (a test holds them equal).
UNLOCK_CHOICES = ("fido2", "tpm", "keyring", "recovery")

Command = Callable[[Any], int]  # common.Command: a command's function, given the Context


class AddCommand(Protocol):
    """``command(parent, name, func, help)``: one subcommand with the common options."""

    def __call__(self, parent: Any, name: str, func: Command, help: str) -> Any: ...


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def check_text_arguments(args: argparse.Namespace) -> None:
    """Refuse an argument that is not valid UTF-8 (Python keeps such bytes as lone surrogates,
    which nothing downstream can store or compare) in one sentence, exit 2."""
    for name, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and any("\udc80" <= c <= "\udcff" for c in item):
                option = "a name" if name == "name" else f"--{name.replace('_', '-')}"
                raise UsageError(f"{option} is not valid UTF-8 text")


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``, or a one-line usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not between {low} and {high}")
        return value

    return parse


def subcommands(parser: Any, dest: str) -> Any:
    """The required ACTION of a command group (``strongroom secret ACTION``)."""
    return parser.add_subparsers(dest=dest, metavar="ACTION", required=True, parser_class=Parser)


def add_globals(parser: argparse.ArgumentParser, *, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--vault", metavar="DIR", default=default, help="vault directory")
    parser.add_argument(
        "--json", action="store_true", default=False if top else argparse.SUPPRESS,
        help="machine-readable output on stdout",
    )
    parser.add_argument(
        "--passphrase-fd", type=bounded_int(0, 2**31 - 1), metavar="N", default=default,
        help="read the passphrase from file descriptor N (one per line)",
    )
    parser.add_argument(
        "--pin-fd", type=bounded_int(0, 2**31 - 1), metavar="N", default=default,
        help="read a device or token PIN from file descriptor N (one per line)",
    )
    parser.add_argument(
        "--unlock", metavar="METHOD", default=default, choices=UNLOCK_CHOICES,
        help="open the vault with fido2, tpm, keyring or recovery shares instead of the "
        "passphrase",
    )
    parser.add_argument(
        "--operator", metavar="NAME", default=default,
        help="who is acting (default: the only operator, or the one last used here)",
    )
    parser.add_argument(
        "--approver", metavar="NAME", default=default,
        help="a second operator approving a critical operation (two-person rule)",
    )
    parser.add_argument(
        "--approver-passphrase-fd", type=bounded_int(0, 2**31 - 1), metavar="N",
        default=default, help="read the approver's passphrase from file descriptor N",
    )
    parser.add_argument(
        "--approver-unlock", metavar="METHOD", default=default, choices=("fido2",),
        help="the approver uses their security key instead of their passphrase",
    )
