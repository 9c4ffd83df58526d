"""The console's full integrity check, in the background after each unlock.

Unlock reads only what it needs (README, Integrity of the database), so the console checks every
page's HMAC and SQLite's structure once per unlock on the worker, as a quiet task (no busy bar),
and says so only when something is wrong: one sentence, with what to do. A result that arrives
after the vault was locked (or another unlock) is dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from strongroom.app.errors import StrongroomError
from strongroom.app.vault import Vault

from .workers import TaskRunner, user_message

PAGE_HINT = ("Run 'strongroom vault check' to see it again; if it persists, restore the latest "
             "verified backup.")


def damaged_message(problems: list[str]) -> str:
    first = problems[0] if problems else "unknown"
    return (f"The vault file failed its full integrity check ({len(problems)} problem(s); first: "
            f"{first[:120]}). {PAGE_HINT}")


def start(runner: TaskRunner, vault: Vault, current: Callable[[], Vault | None],
          error: Callable[[str], None]) -> None:
    """Check ``vault`` in full on the worker; ``error`` says what is wrong, if anything, while
    ``current()`` is still that vault."""

    def done(problems: list[str]) -> None:
        if problems and current() is vault:
            error(damaged_message(problems))

    def failed(e: BaseException) -> None:
        if current() is vault and isinstance(e, StrongroomError) and vault.unlocked:
            error(f"{user_message(e)} {PAGE_HINT}")

    runner.submit("full integrity check", lambda _c, _p: vault.integrity_check(),
                  on_success=done, on_error=failed, quiet=True)
