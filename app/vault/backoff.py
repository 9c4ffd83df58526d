"""Online brute-force protection: failed unlocks are recorded beside the vault and delay the next.

The record is plain JSON (it must be readable while locked). Deleting it only removes the delay
for an attacker who can already write the vault directory; the failures are also written into the
audit log at the next successful unlock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackingOff
from ..fsutil import atomic_write
from ..model import iso, parse_iso

FREE_ATTEMPTS = 2
MAX_DELAY_S = 3600.0


def delay_after(failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive failures: 0, 0, then 2, 4, 8 … up to 1 h."""
    if failures <= FREE_ATTEMPTS:
        return 0.0
    return min(2.0 ** (failures - FREE_ATTEMPTS), MAX_DELAY_S)


@dataclass(frozen=True)
class BackoffState:
    failures: int = 0
    first_failure: str | None = None
    last_failure: str | None = None


class Backoff:
    def __init__(self, path: Path) -> None:
        self.path = path

    def state(self) -> BackoffState:
        try:
            obj = json.loads(self.path.read_text())
            return BackoffState(
                int(obj["failures"]), str(obj["first_failure"]), str(obj["last_failure"])
            )
        except FileNotFoundError:
            return BackoffState()
        except (ValueError, KeyError, TypeError, OSError):
            # An unreadable record must not become a way around the delay: assume the worst
            # plausible state it could have held that still lets a person in soon.
            return BackoffState(FREE_ATTEMPTS + 1, None, None)

    def check(self, now: dt.datetime) -> None:
        """Raise BackingOff if the delay after the recorded failures has not yet passed."""
        state = self.state()
        delay = delay_after(state.failures)
        if delay <= 0:
            return
        if state.last_failure is None:
            last = dt.datetime.fromtimestamp(self.path.stat().st_mtime, dt.UTC)
        else:
            last = parse_iso(state.last_failure)
        remaining = delay - (now - last).total_seconds()
        if remaining > 0:
            raise BackingOff(remaining, state.failures)

    def record_failure(self, now: dt.datetime) -> BackoffState:
        state = self.state()
        stamp = iso(now)
        new = BackoffState(state.failures + 1, state.first_failure or stamp, stamp)
        atomic_write(
            self.path,
            json.dumps(
                {
                    "failures": new.failures,
                    "first_failure": new.first_failure,
                    "last_failure": new.last_failure,
                }
            ).encode(),
        )
        return new

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
