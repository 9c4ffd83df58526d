"""Online brute-force protection: unlock attempts are serialised, counted and delayed.

An attempt holds a lock file in the vault folder from the delay check to the verdict, so parallel
guesses queue instead of racing past one count. It is counted as a failure *before* the key
derivation runs (a process killed mid-attempt has failed) and given back if it succeeds. The
count is kept twice, beside the vault and in the user's state directory next to the rollback
witness, and the larger one rules, so deleting one file does not reset it. A record that exists
but cannot be read or written refuses the attempt: the passphrase is not tried. The failures are
written into the audit log at the next successful unlock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackingOff, BackoffUnusable, StorageError
from ..fsutil import atomic_write, exclusive_lock
from ..model import iso, parse_iso

FREE_ATTEMPTS = 2
MAX_DELAY_S = 3600.0
MAX_RECORD_BYTES = 4096


def delay_after(failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive failures: 0, 0, then 2, 4, 8 … up to 1 h."""
    if failures <= FREE_ATTEMPTS:
        return 0.0
    # 2 ** 12 s is past the cap already; a count of 1,026 or more would overflow a float.
    return min(2.0 ** min(failures - FREE_ATTEMPTS, 12), MAX_DELAY_S)


@dataclass(frozen=True)
class BackoffState:
    failures: int = 0
    first_failure: str | None = None
    last_failure: str | None = None


@dataclass
class Attempt:
    """One unlock attempt in progress: ``failed`` stays recorded if the attempt is refused
    (``refused`` set before the refusal is raised) or never ends (the process is killed)."""

    before: BackoffState
    failed: BackoffState
    refused: bool = False


class Backoff:
    def __init__(self, path: Path, mirror: Path | None = None, lock: Path | None = None) -> None:
        self.path = path
        self.mirror = mirror
        self.lock_path = lock or path.with_name(path.name + ".lock")

    def _records(self) -> list[Path]:
        return [self.path] if self.mirror is None else [self.path, self.mirror]

    def state(self) -> BackoffState:
        """The larger of the two records; Refused if one exists but cannot be read."""
        states = [_read(p) for p in self._records()]
        return max(states, key=lambda s: s.failures)

    def check(self, now: dt.datetime, state: BackoffState | None = None) -> None:
        """Raise BackingOff if the delay after the recorded failures has not yet passed."""
        state = state or self.state()
        delay = delay_after(state.failures)
        if delay <= 0:
            return
        last = parse_iso(state.last_failure) if state.last_failure else now
        remaining = delay - (now - last).total_seconds()
        if remaining > 0:
            raise BackingOff(remaining, state.failures)

    @contextlib.contextmanager
    def attempt(self, now: dt.datetime) -> Iterator[Attempt]:
        """Serialise one attempt: check the delay, count it failed, give it back unless refused."""
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(exclusive_lock(self.lock_path))
            except OSError as e:
                raise BackoffUnusable(
                    f"the unlock lock {self.lock_path.name} cannot be taken "
                    f"({e.strerror or type(e).__name__}); the passphrase was not tried"
                ) from e
            before = self.state()
            self.check(now, before)
            stamp = iso(now)
            attempt = Attempt(before, BackoffState(before.failures + 1,
                                                   before.first_failure or stamp, stamp))
            self._write(attempt.failed)
            try:
                yield attempt
            finally:
                # Opened, or stopped short of a verdict (no device, cancelled): not a guess.
                if not attempt.refused:
                    self._write(before)

    def record_failure(self, now: dt.datetime) -> BackoffState:
        """Count a failure outside an unlock (a wrong current passphrase at a change)."""
        state = self.state()
        stamp = iso(now)
        new = BackoffState(state.failures + 1, state.first_failure or stamp, stamp)
        self._write(new)
        return new

    def clear(self) -> None:
        self._write(BackoffState())

    def _write(self, state: BackoffState) -> None:
        for path in self._records():
            try:
                if state.failures == 0:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    continue
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                atomic_write(path, json.dumps({
                    "failures": state.failures,
                    "first_failure": state.first_failure,
                    "last_failure": state.last_failure,
                }).encode())
            except StorageError:
                raise  # the disk is full, or read-only: said as such; nothing was tried
            except OSError as e:
                raise BackoffUnusable(
                    f"the unlock back-off record {path} cannot be written "
                    f"({e.strerror or type(e).__name__}); the passphrase was not tried"
                ) from e


def _read(path: Path) -> BackoffState:
    try:
        with path.open("rb") as f:
            obj = json.loads(f.read(MAX_RECORD_BYTES))
        failures = obj["failures"]
        if type(failures) is not int or failures < 0:
            raise ValueError("not a count")
        first, last = obj["first_failure"], obj["last_failure"]
        if last is not None and parse_iso(str(last)).tzinfo is None:
            raise ValueError("a time without its zone")
        return BackoffState(failures, None if first is None else str(first),
                            None if last is None else str(last))
    except FileNotFoundError:
        return BackoffState()
    except (OSError, ValueError, KeyError, TypeError, RecursionError, StorageError) as e:
        raise BackoffUnusable(
            f"the unlock back-off record {path} cannot be read ({type(e).__name__}); the "
            "passphrase was not tried: remove it only if you know why it is damaged"
        ) from e
