"""Forward the audit events a destination has not acknowledged, once each and in order.

A run reads up to ``batch`` events after the cursor, sends them on one connection, closes it
cleanly (transport.py says what that acknowledges), and only then moves the cursor to the last
event of the batch, in a transaction of its own; then the next batch. A failure leaves the cursor
at the last acknowledged batch, so the next run starts there. What can repeat: a batch the
receiver read but whose close we never saw (it died, or we did, between its read and our cursor
write) is sent again. A receiver drops such repeats by seq (verify.py does).

A run that acknowledged events records one ``audit.forward`` event (destination and seq range),
unless every event it sent was itself an ``audit.forward``: so forwarding its own record does not
make another one, and following an idle log stays idle.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from ..audit import Outcome
from ..fsutil import storage_error
from ..vault.session import VaultSession
from . import store
from .store import Cursor, ForwardSettings
from .syslog import Header, frame, is_header_token, message
from .transport import SETTLE, Connection, ForwardFailed, tls_context

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one run at a time is not enforced there
    fcntl = None  # type: ignore[assignment]

FORWARD_ACTION = "audit.forward"
DEFAULT_BATCH = 1000
MAX_BATCH = 100_000


@dataclass(frozen=True)
class ForwardReport:
    """What one run acknowledged: the seq range (None: nothing), events, octets, batches."""

    name: str
    to: str
    transport: str
    events: int
    first_seq: int | None
    last_seq: int | None
    octets: int
    batches: int
    cursor_seq: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "to": self.to, "transport": self.transport,
                "events": self.events, "first_seq": self.first_seq, "last_seq": self.last_seq,
                "octets": self.octets, "batches": self.batches, "cursor_seq": self.cursor_seq}


@functools.lru_cache(maxsize=1)
def local_hostname() -> str:
    """This machine's name as RFC 5424 HOSTNAME, or ``-`` if it is not printable ASCII (looked
    up once a process: getfqdn may ask DNS)."""
    name = socket.getfqdn() or socket.gethostname()
    return name if is_header_token(name, 255) else "-"


def forward(
    vault: VaultSession,
    name: str,
    settings: ForwardSettings | None = None,
    *,
    batch: int = DEFAULT_BATCH,
    cancel: threading.Event | None = None,
    on_status: Callable[[str], None] | None = None,
) -> ForwardReport:
    """Send every event after ``name``'s cursor; raises ForwardFailed (cursor at the last
    acknowledged batch) or VaultTampered (the log under the cursor changed). ``settings``: the
    destination as given now; new or changed, it is saved with the first acknowledged batch."""
    with _one_run(vault, name):
        return _forward(vault, name, settings, batch=batch, cancel=cancel, on_status=on_status)


class ForwardBusy(ForwardFailed):
    """Another run (a console, a --follow) is forwarding to the same destination now."""


@contextlib.contextmanager
def _one_run(vault: VaultSession, name: str) -> Iterator[None]:
    """Hold the destination's run lock (a file beside the vault), or ForwardBusy: two runs from
    one cursor would send the same events twice."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    path = vault.path / f".forward-{hashlib.sha256(name.encode()).hexdigest()[:16]}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise storage_error(e, path.name) from e
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ForwardBusy(f"another run is forwarding to {name!r} now; try again when it "
                              "has finished") from None
        yield
    finally:
        os.close(fd)


def _forward(vault: VaultSession, name: str, settings: ForwardSettings | None, *, batch: int,
             cancel: threading.Event | None,
             on_status: Callable[[str], None] | None) -> ForwardReport:
    saved = store.find(vault, name)
    if settings is None:
        cur = store.cursor(vault, name)
        settings = cur.settings
    else:
        cur = replace(saved, settings=settings) if saved else store.unsaved(name, settings)
    to_save = saved is None or not store.same(saved.settings, settings)
    dest = settings.destination
    context = tls_context(dest) if dest.tls else None  # a bad CA file fails before sending
    header = Header(hostname=local_hostname(), app_name=settings.app_name,
                    procid=str(os.getpid()), facility=settings.facility)
    first: int | None = None
    events = octets = batches = 0
    only_own = True
    try:
        while cancel is None or not cancel.is_set():
            todo = store.pending(vault, cur, batch)
            if not todo:
                break
            connection = Connection(dest, context, settle=SETTLE if not batches else 0.0)
            octets += connection.send([frame(message(e, header)) for e in todo])
            connection.close_cleanly()
            last = todo[-1]
            if to_save:
                store.save(vault, name, settings, seq=last.seq, digest=last.hash)
                to_save = False
            else:
                store.advance(vault, name, last.seq, last.hash)
            cur = replace(cur, last_seq=last.seq, last_hash=last.hash)
            first = todo[0].seq if first is None else first
            events += len(todo)
            batches += 1
            only_own = only_own and all(e.action == FORWARD_ACTION for e in todo)
            if on_status is not None:
                on_status(f"{events} events sent to {dest.address} (up to event {last.seq})")
    except ForwardFailed as e:
        if events and not only_own:
            _record(vault, cur, first, events, Outcome.Failed, str(e))
        raise
    if to_save:  # nothing was pending: a changed destination is kept all the same
        store.save(vault, name, settings)
    report = ForwardReport(name, dest.address, dest.transport, events, first,
                           cur.last_seq if events else None, octets, batches, cur.last_seq)
    if events and not only_own:
        _record(vault, cur, first, events, Outcome.Ok, "")
    return report


def _record(vault: VaultSession, cur: Cursor, first: int | None, events: int,
            outcome: Outcome, error: str) -> None:
    details: dict[str, Any] = {"to": cur.settings.destination.address,
                               "transport": cur.settings.destination.transport,
                               "first_seq": first, "last_seq": cur.last_seq, "events": events}
    if error:
        details["error"] = error
    vault.record(FORWARD_ACTION, cur.name, outcome, details)


def follow(
    vault: VaultSession,
    name: str,
    settings: ForwardSettings | None = None,
    *,
    cancel: threading.Event,
    interval: float = 2.0,
    batch: int = DEFAULT_BATCH,
    on_report: Callable[[ForwardReport], None] | None = None,
    on_status: Callable[[str], None] | None = None,
) -> None:
    """Forward, then poll for new events every ``interval`` seconds until ``cancel`` is set.
    A receiver that is down is retried (the wait doubling up to a minute); each failure is
    reported through ``on_status``. Anything else (the log changed under the cursor) ends it."""
    wait = interval
    while not cancel.is_set():
        try:
            report = forward(vault, name, settings, batch=batch, cancel=cancel)
        except ForwardFailed as e:
            if on_status is not None:
                on_status(f"{e}; retrying in {wait:g} s")
            cancel.wait(wait)
            wait = min(wait * 2, 60.0)
            continue
        wait = interval
        if report.events and on_report is not None:
            on_report(report)
        cancel.wait(interval)


__all__ = ["DEFAULT_BATCH", "FORWARD_ACTION", "ForwardBusy", "ForwardReport", "follow", "forward"]
