"""Rollback layer 3: the vault bound to a monotonic counter off the disk (a TPM NV index).

Layers 1 and 2 compare what is on disk: the database with its header, the folder with a witness
in the state directory. Someone who puts back a whole older folder *and* deletes the witness gets
past both. A counter in the TPM cannot be put back: ``vault counter enable`` defines one and
records in the header (MAC'd under the master key) which counter it is and its value; from then
on every header write increments it first and records the new value. Unlock requires the header's
value to equal the counter's, so a folder put back from any earlier state is behind it.

The crash window: a write announces the value it is about to reach (``next``) in the header it
writes before committing (session ``_announce``), then commits, increments, and writes the header
with the new value. A crash between the increment and that header write leaves a header one
behind the counter that says so, which unlock accepts; an older header one behind does not say
so and is refused. Only a copy of a header announcing a step (taken while a write was in flight,
or after one failed before committing) passes one step back, until the next write.

The counter's authorisation value is random and kept in the encrypted database (``meta``), so
only someone who can open the vault can move it (the counter only counts up whoever moves it:
the value guards against a process that can reach the TPM but not the vault making the vault
refuse to open). A counter that cannot be read when the header names one (no TPM, another TPM,
the counter removed) refuses the vault as an unverifiable rollback: a missing TPM never turns
the check off in silence; ``vault accept-rollback`` unbinds the counter on purpose.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import weakref
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from ..audit import Outcome
from ..counters import AUTH_BYTES, DEFAULT_BACKEND, CounterRef, MonotonicCounter, load_counter
from ..errors import (
    AlreadyExists,
    BackendUnavailable,
    CounterGone,
    HardwareError,
    NotFound,
    RollbackDetected,
    RollbackUnverifiable,
    StrongroomError,
)
from ..header import CounterBinding, Header
from ..keyslots import StatusCallback
from .consistency import NOT_OPENED
from .layout import VaultKeys

AUTH_KEY = "counter_auth"  # the meta row holding the counter's authorisation value (hex)
UNBINDS = ("the vault was not opened (if the counter is gone for good: strongroom vault "
           "accept-rollback opens the vault as it is and unbinds the counter)")

log = logging.getLogger("strongroom")


class Host(Protocol):
    """What this module needs of a vault session (session.py calls in, so it cannot import it)."""

    header: Header
    accepted_rollback: RollbackDetected | None

    @property
    def vault_id(self) -> str: ...

    @property
    def header_path(self) -> Path: ...

    @property
    def _unlocked_keys(self) -> VaultKeys: ...

    def _read(self) -> AbstractContextManager[Any]: ...

    def _write(self, anchor: bool = True,
               header_master: bytes | None = None) -> AbstractContextManager[Any]: ...

    def _fresh_header(self) -> Header: ...

    def _save_header(self, header: Header) -> None: ...

    def _event(self, action: str, target: str, outcome: Outcome = Outcome.Ok,
               details: dict[str, Any] | None = None) -> None: ...


# Per session: the counter backend once loaded, and sessions whose binding is dropped at the next
# header write without a check (a backup restored as a new folder: vault/restore.py).
_backends: weakref.WeakKeyDictionary[Any, MonotonicCounter] = weakref.WeakKeyDictionary()
_detached: weakref.WeakSet[Any] = weakref.WeakSet()


@dataclass(frozen=True)
class CounterStatus:
    """The binding the header records and, when it can be read, the counter's value now."""

    binding: CounterBinding | None
    value: int | None = None
    problem: str | None = None


# ----- what the session calls ------------------------------------------------------------------


def check(vault: Host) -> None:
    """At unlock, after the other rollback checks: the header's value against the counter."""
    binding = vault.header.counter
    if binding is None or vault in _detached:
        return
    ref = binding.ref
    try:
        auth = _stored_auth(vault)
        if auth is None:
            raise CounterGone("the vault database holds no authorisation value for it")
        value = _backend(vault, ref).read(ref, auth=auth)
    except HardwareError as e:
        reason = str(e).replace("\n", " ")
        raise RollbackUnverifiable(
            f"this vault's monotonic counter ({ref.label}) cannot be checked: {reason}; "
            f"{UNBINDS}", "vault folder", 0,
        ) from e
    if value in (binding.value, binding.next):
        return
    if value > binding.value:
        n = value - binding.value
        raise RollbackDetected(
            f"this vault folder is {n} write(s) behind its monotonic counter ({ref.label}), "
            f"which only counts up: it was put back from an older copy (rollback); {NOT_OPENED}",
            "vault folder", n,
        )
    n = binding.value - value
    raise RollbackDetected(
        f"this vault's monotonic counter ({ref.label}) is {n} write(s) behind the vault folder: "
        f"the TPM's own state was put back (a snapshot of a virtual or software TPM); "
        f"{NOT_OPENED}", "counter", n,
    )


def announce(header: Header) -> Header:
    """Before a commit: the value the counter will reach, so that a crash after the increment
    is not taken for a rollback."""
    binding = header.counter
    return header if binding is None else replace(
        header, counter=replace(binding, next=binding.value + 1)
    )


def advance(vault: Host, header: Header) -> Header:
    """At every header write: increment the counter and record the value it reached.

    A failed increment does not fail the write (it has committed): the header keeps the old value
    and announces the next, so unlock accepts the counter at either, and the warning says so.
    """
    binding = header.counter
    if binding is None:
        return header
    if vault in _detached or isinstance(vault.accepted_rollback, RollbackUnverifiable):
        return replace(header, counter=None)
    auth = _stored_auth(vault)
    if auth is None:  # an older database put back on purpose, from before the binding
        log.warning("the vault database holds no authorisation for its %s: the vault is no "
                    "longer bound to it", binding.ref.label)
        return replace(header, counter=None)
    _announce_on_disk(vault, binding)
    try:
        value = _backend(vault, binding.ref).increment(binding.ref, auth=auth)
    except HardwareError as e:
        log.warning("this write was not counted by the vault's %s: %s", binding.ref.label, e)
        return replace(header, counter=replace(binding, next=binding.value + 1))
    return replace(header, counter=CounterBinding(binding.ref, value))


def detach(vault: Host) -> None:
    """Unlock ``vault`` without its counter and drop the binding at its first header write: a
    backup restored as a new folder is a copy of its own (the counter stays the original's)."""
    _detached.add(vault)


# ----- the vault's verbs (bound on Vault) --------------------------------------------------------


def enable_counter(vault: Host, *, backend: str = DEFAULT_BACKEND,
                   cancel: threading.Event | None = None,
                   on_status: StatusCallback | None = None) -> CounterBinding:
    """Make a monotonic counter and bind the vault to it (audited)."""
    current = vault._fresh_header().counter
    if current is not None:
        raise AlreadyExists(f"this vault is already bound to a monotonic counter "
                            f"({current.ref.label})")
    counter = load_counter(backend)
    ready = counter.available()
    if not ready.ok:
        raise BackendUnavailable(f"no monotonic counter can be made here: {ready.reason}")
    auth = secrets.token_bytes(AUTH_BYTES)
    ref = counter.create(auth=auth, cancel=cancel, on_status=on_status)
    try:
        value = counter.read(ref, auth=auth)
        with vault._write(anchor=False) as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                         (AUTH_KEY, auth.hex()))
            vault._event("vault.counter.enable", vault.vault_id, details=_facts(ref))
    except BaseException:
        with contextlib.suppress(Exception):
            counter.forget(ref, auth=auth)
        raise
    _backends[vault] = counter
    vault._save_header(replace(vault._fresh_header(), counter=CounterBinding(ref, value)))
    binding = vault.header.counter
    assert binding is not None  # noqa: S101 - just written
    return binding


def disable_counter(vault: Host, *, cancel: threading.Event | None = None,
                    on_status: StatusCallback | None = None) -> tuple[CounterBinding, str | None]:
    """Unbind the vault (audited), then remove the counter from its device. Returns the binding
    and, when the device kept the counter, why."""
    binding = vault._fresh_header().counter
    if binding is None:
        raise NotFound("this vault is not bound to a monotonic counter")
    auth = _stored_auth(vault)
    with vault._write(anchor=False) as conn:
        conn.execute("DELETE FROM meta WHERE key = ?", (AUTH_KEY,))
        vault._event("vault.counter.disable", vault.vault_id, details=_facts(binding.ref))
    vault._save_header(replace(vault._fresh_header(), counter=None))
    try:
        if auth is None:
            raise CounterGone("the vault database holds no authorisation value for it")
        _backend(vault, binding.ref).forget(binding.ref, auth=auth, cancel=cancel,
                                            on_status=on_status)
    except HardwareError as e:
        log.warning("the vault is unbound, but its %s was not removed: %s", binding.ref.label, e)
        return binding, str(e)
    return binding, None


def counter_status(vault: Host) -> CounterStatus:
    """The header's binding and the counter's value now (or why it cannot be read)."""
    binding = vault._fresh_header().counter
    if binding is None:
        return CounterStatus(None)
    try:
        auth = _stored_auth(vault)
        if auth is None:
            raise CounterGone("the vault database holds no authorisation value for it")
        return CounterStatus(binding, _backend(vault, binding.ref).read(binding.ref, auth=auth))
    except HardwareError as e:
        return CounterStatus(binding, None, str(e))


# ----- helpers -----------------------------------------------------------------------------------


def _facts(ref: CounterRef) -> dict[str, Any]:
    return {"backend": ref.backend, "handle": f"0x{ref.handle:08x}", "device": ref.device}


def _backend(vault: Host, ref: CounterRef) -> MonotonicCounter:
    counter = _backends.get(vault)
    if counter is None or counter.name != ref.backend:
        counter = _backends[vault] = load_counter(ref.backend)
    return counter


def _stored_auth(vault: Host) -> bytes | None:
    with vault._read() as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (AUTH_KEY,)).fetchone()
    try:
        auth = bytes.fromhex(row[0]) if row is not None else None
    except ValueError:
        auth = None
    return auth if auth is not None and len(auth) == AUTH_BYTES else None


def _announce_on_disk(vault: Host, binding: CounterBinding) -> None:
    """Make sure the header on disk announces the next value before the counter moves (session
    ``_announce`` did, unless this header write follows no commit)."""
    with contextlib.suppress(StrongroomError, OSError):  # the write below replaces it anyway
        on_disk = Header.load(vault.header_path)
        if on_disk.counter is not None and on_disk.counter.ref == binding.ref \
                and on_disk.counter.next is None \
                and on_disk.mac_ok(vault._unlocked_keys.master):
            announce(on_disk).sealed(vault._unlocked_keys.master).save(vault.header_path)
