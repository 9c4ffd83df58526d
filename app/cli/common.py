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
from typing import TYPE_CHECKING, Any, TextIO

from .. import unlock_methods
from ..errors import UsageError, UserCancelled
from ..keyslots import KeyslotUnlocker, PassphraseUnlocker, normalize_passphrase
from ..paths import resolve_vault_dir
from ..unlock_methods import RECOVERY, HardwareUnlocker, needs_passphrase
from . import parsing

if TYPE_CHECKING:  # the vault and access stack: imported by the commands that open a vault
    from ..access.approvals import Approval
    from ..ceremony.recovery import RecoveryUnlocker
    from ..vault import Vault

# The parser pieces live in .parsing (light, for --help); the groups take them from here.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = parsing.EXIT_OK, parsing.EXIT_FAILED, parsing.EXIT_USAGE
EXIT_INTEGRITY, EXIT_AUTH, UNLOCK_CHOICES = (parsing.EXIT_INTEGRITY, parsing.EXIT_AUTH,
                                             parsing.UNLOCK_CHOICES)
AddCommand = parsing.AddCommand
Command = Callable[["Context"], int]
Parser = parsing.Parser
add_globals, bounded_int, subcommands = (parsing.add_globals, parsing.bounded_int,
                                         parsing.subcommands)
check_text_arguments = parsing.check_text_arguments
Opener = Callable[["Vault", KeyslotUnlocker], object]  # unlocks a vault (Vault.unlock by default)


def version() -> str:
    from .. import about  # importlib.metadata only when the version is asked for

    return about.strongroom_version()


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
        from ..access import last_operator
        from ..vault import Vault

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
                if isinstance(unlocker, HardwareUnlocker):
                    unlocker.passphrase = None
                else:
                    unlocker.forget()
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
        from ..access import approvals

        return approvals.approve(vault, operation, target, name, unlocker)

    def unlocker(self) -> PassphraseUnlocker:
        return PassphraseUnlocker.from_text(self.prompter.ask(0, "Passphrase of the backup: "))


def hardware_unlocker(ctx: Context, vault: Vault) -> HardwareUnlocker | RecoveryUnlocker:
    """The unlocker ``--unlock KIND`` asks for; the passphrase too if a slot is two-factor;
    for ``recovery``, M shares: one per ``--passphrase-fd`` line, or a hidden prompt each."""
    kind = ctx.args.unlock
    slots = [s for s in vault.header.slots if s.kind == kind]
    if kind == RECOVERY:
        from ..ceremony.recovery import RecoveryUnlocker, shares_needed  # SLIP-39: on use only

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
