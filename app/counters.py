"""The monotonic-counter port: a counter outside the disk that only ever goes up (a TPM NV index).

A vault bound to one records in its header the value it was written with (vault/counter.py), so
a vault folder put back from an older copy is behind the counter even when everything on disk,
the rollback witness included, was put back or deleted too. Backends are found through the
``strongroom.backends`` entry points (``tpm-counter``); this module never imports them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .errors import BackendUnavailable
from .keyslots import StatusCallback
from .plugins import BACKENDS_GROUP, Availability, load_backend

DEFAULT_BACKEND = "tpm-counter"
AUTH_BYTES = 32  # the counter's own authorisation value: random, kept inside the vault database


@dataclass(frozen=True)
class CounterRef:
    """Where a counter lives: the backend (its entry point name), its handle there (a TPM NV
    index), the identity of the device that holds it, so that a counter at the same handle on
    another device is told apart, and what to call it in a sentence ("TPM NV index 0x…")."""

    backend: str
    handle: int
    device: str
    label: str


@runtime_checkable
class MonotonicCounter(Protocol):
    """A port implemented in ``backends/``: counters that can be read and incremented, never
    decremented or set. Every method that waits on the device takes ``cancel`` and
    ``on_status``; ``auth`` is the counter's authorisation value (:data:`AUTH_BYTES` bytes),
    without which it can be neither read nor moved."""

    name: str  # the entry point the backend is found under; CounterRef.backend

    def available(self) -> Availability:
        """Whether counters can be made and used here, and why not."""
        ...

    def create(self, *, auth: bytes, cancel: threading.Event | None = None,
               on_status: StatusCallback | None = None) -> CounterRef:
        """A new counter, already counted once (so it can be read); never one that exists."""
        ...

    def read(self, ref: CounterRef, *, auth: bytes, cancel: threading.Event | None = None,
             on_status: StatusCallback | None = None) -> int:
        """The counter's value; CounterGone when ``ref`` names no counter here that ``auth``
        opens (removed, device cleared, another device)."""
        ...

    def increment(self, ref: CounterRef, *, auth: bytes, cancel: threading.Event | None = None,
                  on_status: StatusCallback | None = None) -> int:
        """Add one and return the new value (CounterGone as :meth:`read`)."""
        ...

    def forget(self, ref: CounterRef, *, auth: bytes, cancel: threading.Event | None = None,
               on_status: StatusCallback | None = None) -> None:
        """Remove the counter from the device (nothing when it is gone already); refuses one
        that ``auth`` does not open or that lives on another device."""
        ...


def load_counter(name: str = DEFAULT_BACKEND) -> MonotonicCounter:
    """The installed counter backend ``name``, found through its entry point."""
    factory = load_backend(BACKENDS_GROUP, name, missing=BackendUnavailable(
        f"no monotonic counter backend {name!r} is installed (entry point "
        f"{BACKENDS_GROUP}:{name})"
    ))
    counter: MonotonicCounter = factory()
    return counter
