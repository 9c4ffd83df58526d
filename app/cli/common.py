"""What every command group shares: the parser class, the context, prompts, output, exit codes.

Exit codes: 0 ok · 1 failed · 2 usage error · 3 integrity failure · 4 authentication failed or
backing off. Every expected failure is one line on stderr. Passphrases come from a terminal prompt
or ``--passphrase-fd N``; PINs from ``--pin-fd N`` or a prompt; secret values from stdin; never
from argv or the environment.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, Protocol, TextIO

from .. import about, unlock_methods
from ..access import approvals, last_operator
from ..access.approvals import Approval
from ..ceremony.recovery import RecoveryUnlocker, shares_needed
from ..errors import UsageError, UserCancelled
from ..keyslots import KeyslotUnlocker, PassphraseUnlocker, normalize_passphrase
from ..paths import resolve_vault_dir
from ..unlock_methods import RECOVERY, HardwareUnlocker, needs_passphrase
from ..vault import Vault

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTEGRITY, EXIT_AUTH = 0, 1, 2, 3, 4
UNLOCK_CHOICES = ("fido2", "tpm", "keyring", RECOVERY)

Command = Callable[["Context"], int]
Opener = Callable[[Vault, KeyslotUnlocker], object]  # unlocks a vault (Vault.unlock by default)


class AddCommand(Protocol):
    """``command(parent, name, func, help)``: one subcommand with the common options."""

    def __call__(self, parent: Any, name: str, func: Command, help: str) -> Any: ...


def version() -> str:
    return about.strongroom_version()


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


# ----- input -----------------------------------------------------------------------------------


class Prompter:
    """Reads passphrases from ``--passphrase-fd`` (one per line) or asks on the terminal."""

    def __init__(self, fd: int | None, what: str = "passphrase") -> None:
        self.fd = fd
        self.what = what
        self._lines: list[str] | None = None

    def _fd_lines(self) -> list[str]:
        if self._lines is None:
            assert self.fd is not None  # noqa: S101 - only called when an fd was given
            try:
                with os.fdopen(os.dup(self.fd), "rb") as f:
                    data = f.read(64 * 1024)
            except OSError:
                raise UsageError(f"file descriptor {self.fd} is not open for reading") from None
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise UsageError(f"the {self.what} is not valid UTF-8") from None
            self._lines = text.splitlines()
        return self._lines

    def ask_optional(self, index: int, prompt: str) -> str:
        """Like :meth:`ask`, but an empty line (or an empty answer, or no line left on the fd)
        is "" — someone passing their turn."""
        if self.fd is not None:
            lines = self._fd_lines()
            return lines[index] if index < len(lines) else ""
        if not have_terminal():
            raise UsageError(f"no terminal to ask for the {self.what}; use --passphrase-fd N")
        return getpass.getpass(prompt)

    def ask(self, index: int, prompt: str, *, confirm: bool = False) -> str:
        """The ``index``-th passphrase (0-based line on the fd), or prompted on the terminal."""
        if self.fd is not None:
            lines = self._fd_lines()
            if index >= len(lines) or not lines[index]:
                raise UsageError(
                    f"expected {'a' if index == 0 else 'a second'} {self.what} on line "
                    f"{index + 1} of file descriptor {self.fd}"
                )
            return lines[index]
        if not have_terminal():
            option = "--pin-fd" if self.what == "PIN" else "--passphrase-fd"
            raise UsageError(f"no terminal to ask for the {self.what}; use {option} N")
        first = getpass.getpass(prompt)
        if not first:
            raise UsageError(f"no {self.what} given")
        if confirm and getpass.getpass("Repeat to confirm: ") != first:
            raise UsageError("the two passphrases differ")
        return first


def have_terminal() -> bool:
    try:
        with open("/dev/tty", "rb"):
            return True
    except OSError:
        return sys.stdin.isatty()


def read_value(stdin: Any) -> bytes:
    """The secret value: stdin byte-for-byte when piped, or a hidden prompt on a terminal."""
    if stdin.isatty():
        first = getpass.getpass("Secret value: ")
        if getpass.getpass("Repeat: ") != first:
            raise UsageError("the two values differ")
        return first.encode()
    data: bytes = stdin.buffer.read()
    if not data:
        raise UsageError("no secret value on standard input")
    return data


class CliPrompts:
    """app.unlock_methods.Prompts on a terminal: touch notes on stderr, PINs from --pin-fd."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def prompt_touch(self, device: str) -> None:
        print(f"Touch your security key ({device})…", file=sys.stderr, flush=True)

    def request_pin(self, device: str, retries: int | None, *, new: bool = False) -> str | None:
        left = "" if retries is None else f" ({retries} attempts left)"
        prompt = f"New PIN for {device}: " if new else f"PIN for {device}{left}: "
        return self.ctx.next_pin(prompt, confirm=new)


# ----- output ----------------------------------------------------------------------------------


class Output:
    def __init__(self, json_mode: bool, out: TextIO) -> None:
        self.json = json_mode
        self.out = out

    def emit(self, obj: Any, text: str | Callable[[], str]) -> None:
        if self.json:
            self.out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        else:
            self.out.write((text() if callable(text) else text) + "\n")


# ----- the context every command gets -----------------------------------------------------------


class Context:
    def __init__(self, args: argparse.Namespace, stdin: Any, stdout: TextIO) -> None:
        self.args = args
        self.stdin = stdin
        self.stdout = stdout
        self.vault_dir = resolve_vault_dir(args.vault)
        self.prompter = Prompter(args.passphrase_fd)
        self._pins: Prompter | None = None
        self._pins_asked = 0
        self.out = Output(args.json, stdout)

    def next_pin(self, prompt: str, *, confirm: bool = False) -> str:
        """The next PIN: ``--pin-fd`` gives one per line in the order they are asked (the
        unlock device's first, then the token's), or a hidden prompt asks for each."""
        if self._pins is None:
            self._pins = Prompter(self.args.pin_fd, what="PIN")
        pin = self._pins.ask(self._pins_asked, prompt, confirm=confirm)
        self._pins_asked += 1
        return pin

    def unlocked(self, open_with: Opener | None = None) -> Vault:
        """The vault, unlocked by ``--unlock METHOD`` or the passphrase (``open_with(vault,
        unlocker)`` instead of ``vault.unlock(unlocker)`` when given), as ``--operator``; without
        it, the one last used on this machine is tried first, then the others."""
        vault = Vault.open(self.vault_dir)
        operator = self.args.operator
        usual = operator or last_operator.recall(vault.header)

        def unlock(v: Vault, unlocker: KeyslotUnlocker) -> object:
            if open_with is not None:
                return open_with(v, unlocker)
            v.unlock(unlocker, operator=operator, prefer=usual)
            return None

        if self.args.unlock:
            unlocker = hardware_unlocker(self, vault)
            try:
                unlock(vault, unlocker)
            except UserCancelled:
                raise
            finally:
                if isinstance(unlocker, RecoveryUnlocker):
                    unlocker.forget()
                else:
                    unlocker.passphrase = None
        else:
            who = f" ({usual})" if usual and len(vault.header.operators) > 1 else ""
            passphrase = self.prompter.ask(0, f"Vault passphrase{who}: ")
            unlock(vault, PassphraseUnlocker.from_text(passphrase))
        last_operator.remember(vault.header, vault.actor)
        return vault

    def approval(self, vault: Vault, operation: str, target: str) -> Approval | None:
        """The approval of ``--approver NAME`` for this operation: their passphrase from
        ``--approver-passphrase-fd N`` or a prompt, or their security key with
        ``--approver-unlock fido2``. None without ``--approver``."""
        name = self.args.approver
        if not name:
            return None
        unlocker: KeyslotUnlocker
        if self.args.approver_unlock:
            unlocker = HardwareUnlocker(
                unlock_methods.load_source(self.args.approver_unlock), vault.vault_id,
                prompts=CliPrompts(self))
        else:
            prompter = Prompter(self.args.approver_passphrase_fd, what="approver's passphrase")
            unlocker = PassphraseUnlocker.from_text(
                prompter.ask(0, f"Passphrase of {name}, approving: "))
        return approvals.approve(vault, operation, target, name, unlocker)

    def unlocker(self) -> PassphraseUnlocker:
        return PassphraseUnlocker.from_text(self.prompter.ask(0, "Passphrase of the backup: "))


def hardware_unlocker(ctx: Context, vault: Vault) -> HardwareUnlocker | RecoveryUnlocker:
    """The unlocker ``--unlock KIND`` asks for; the passphrase too if a slot is two-factor;
    for ``recovery``, M shares: one per ``--passphrase-fd`` line, or a hidden prompt each."""
    kind = ctx.args.unlock
    slots = [s for s in vault.header.slots if s.kind == kind]
    if kind == RECOVERY:
        return RecoveryUnlocker(recovery_shares(ctx.prompter, shares_needed(slots)))
    passphrase = None
    if any(needs_passphrase(s) for s in slots):
        passphrase = normalize_passphrase(ctx.prompter.ask(0, "Vault passphrase: "))
    return HardwareUnlocker(
        unlock_methods.load_source(kind), vault.vault_id, prompts=CliPrompts(ctx),
        passphrase=passphrase,
    )


def recovery_shares(prompter: Prompter, needed: int) -> list[str]:
    """Up to ``needed`` shares; fewer lines on the fd give fewer (the unlock then says so)."""
    shares: list[str] = []
    for i in range(needed):
        try:
            shares.append(prompter.ask(i, f"Recovery share {i + 1} of {needed}: "))
        except UsageError:
            if prompter.fd is None or not shares:
                raise
            break
    return shares


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
