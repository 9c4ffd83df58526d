"""The TPM monotonic counter: an NV counter index (app.counters.MonotonicCounter).

Entry point ``tpm-counter``. A counter is defined in the owner's NV range (0x01800000 upwards)
at the first free index after a random start, never over one that exists (the TPM itself refuses
to define an index twice), and counted once at once so that it can be read. Its authorisation
value is the caller's (a vault keeps it inside its encrypted database); see :mod:`._nv` for the
attributes and why. The reference names the TPM by its owner storage key, so a counter read on
another TPM, or after this one was cleared, says so instead of "not found".
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from typing import Any

from strongroom.app.counters import AUTH_BYTES, CounterRef
from strongroom.app.errors import (
    BackendUnavailable,
    CounterGone,
    HardwareError,
    UsageError,
)
from strongroom.app.keyslots import StatusCallback
from strongroom.app.plugins import Availability

from ._worker import TpmWorker, check_cancel, default_tcti, library, report, worker_for

NAME = "tpm-counter"
DEFINE_ATTEMPTS = 8  # another process may take the index we chose between listing and defining
OWNER_AUTH_HINT = (
    "the TPM's owner hierarchy has an authorisation value set or is disabled; Strongroom "
    "defines and removes its counter with the owner hierarchy's empty authorisation"
)


def _index_name(index: int) -> str:
    return f"NV index 0x{index:08x}"


class TpmCounter:
    """app.counters.MonotonicCounter on the TPM at ``tcti`` (default: STRONGROOM_TPM_TCTI, else
    the kernel's resource manager)."""

    name = NAME

    def __init__(self, tcti: str | None = None) -> None:
        self.tcti = tcti or default_tcti()

    @property
    def _worker(self) -> TpmWorker:
        return worker_for(self.tcti)

    def available(self) -> Availability:
        try:
            tss = library()
            facts = self._worker.call(tss.facts)
        except HardwareError as e:
            return Availability(False, str(e))
        except Exception as e:  # noqa: BLE001 - any TPM error means: not usable here
            return Availability(False, f"the TPM at {self.tcti} does not answer ({e})")
        if facts.owner_auth_set:
            return Availability(False, OWNER_AUTH_HINT)
        return Availability(True)

    # ----- the port --------------------------------------------------------------------------

    def create(self, *, auth: bytes, cancel: threading.Event | None = None,
               on_status: StatusCallback | None = None) -> CounterRef:
        _check_auth(auth)
        tss, nv = self._libraries()
        check_cancel(cancel)
        report(on_status, "Defining a monotonic counter in the TPM")
        taken = self._call(tss, nv, "list its NV indexes", None, nv.defined)
        span = nv.OWNER_LAST - nv.OWNER_FIRST + 1
        start = secrets.randbelow(span)
        free = (nv.OWNER_FIRST + (start + i) % span for i in range(span))
        for _ in range(DEFINE_ATTEMPTS):
            index = next((i for i in free if i not in taken), None)
            if index is None:
                break
            try:
                device = self._worker.call(nv.define, index, auth)
            except tss.TSS2_Exception as e:
                if tss.error_code(e) == int(tss.TPM2_RC.NV_DEFINED):
                    continue  # taken since we looked: never over an index that exists
                raise self._error(tss, nv, e, "define a counter", None) from e
            break
        else:
            index = None
        if index is None:
            raise HardwareError("the TPM has no free index in its owner NV range for a counter")
        ref = CounterRef(NAME, index, device, f"TPM {_index_name(index)}")
        try:
            check_cancel(cancel)
            self._call(tss, nv, "count the new counter once", ref, nv.increment, index, auth)
            check_cancel(cancel)  # a counter made after a cancel is not kept
        except BaseException:
            with contextlib.suppress(Exception):
                self._worker.call(nv.undefine, index, None)
            raise
        return ref

    def read(self, ref: CounterRef, *, auth: bytes, cancel: threading.Event | None = None,
             on_status: StatusCallback | None = None) -> int:
        tss, nv = self._open(ref, auth, cancel)
        report(on_status, "Reading the vault's TPM counter")
        value: int = self._call(tss, nv, "read the counter", ref, nv.read, ref.handle, auth)
        return value

    def increment(self, ref: CounterRef, *, auth: bytes, cancel: threading.Event | None = None,
                  on_status: StatusCallback | None = None) -> int:
        tss, nv = self._open(ref, auth, cancel)
        report(on_status, "Counting this write in the TPM")
        value: int = self._call(tss, nv, "increment the counter", ref, nv.increment,
                                ref.handle, auth)
        return value

    def forget(self, ref: CounterRef, *, auth: bytes, cancel: threading.Event | None = None,
               on_status: StatusCallback | None = None) -> None:
        tss, nv = self._open(ref, auth, cancel)
        report(on_status, "Removing the counter from the TPM")
        ours = self._call(tss, nv, "identify itself", None, nv.device_id)
        if ours != ref.device:
            raise CounterGone(f"the counter at {_index_name(ref.handle)} was made on another TPM "
                              "(or this one was cleared since); nothing was removed")
        try:
            self._worker.call(nv.undefine, ref.handle, auth)
        except tss.TSS2_Exception as e:
            if tss.error_code(e) == int(tss.TPM2_RC.HANDLE):
                return  # gone already
            raise self._error(tss, nv, e, "remove the counter", ref) from e

    # ----- helpers ---------------------------------------------------------------------------

    def _libraries(self) -> tuple[Any, Any]:
        tss = library()
        try:
            from . import _nv
        except ImportError as e:  # pragma: no cover - the same library _tss loaded
            raise BackendUnavailable(f"the TPM library tpm2-pytss cannot be loaded ({e})") from e
        return tss, _nv

    def _open(self, ref: CounterRef, auth: bytes, cancel: threading.Event | None) \
            -> tuple[Any, Any]:
        if ref.backend != NAME:
            raise UsageError(f"the counter belongs to the {ref.backend!r} backend, not {NAME!r}")
        _check_auth(auth)
        check_cancel(cancel)
        return self._libraries()

    def _call(self, tss: Any, nv: Any, what: str, ref: CounterRef | None, fn: Any,
              *args: Any) -> Any:
        try:
            return self._worker.call(fn, *args)
        except tss.TSS2_Exception as e:
            raise self._error(tss, nv, e, what, ref) from e

    def _error(self, tss: Any, nv: Any, e: Any, what: str, ref: CounterRef | None) \
            -> HardwareError:
        """A TPM error as one sentence; for a counter that is not there as made, CounterGone
        saying whether this is the TPM it was made on."""
        code = tss.error_code(e)
        rc = tss.TPM2_RC
        if code in (int(rc.NV_RATE), int(rc.RETRY), int(rc.NV_UNAVAILABLE)):
            return HardwareError(f"the TPM could not {what} now: it is limiting NV writes or busy "
                                 f"({e}); try again in a moment")
        if code == int(rc.NV_SPACE):
            return HardwareError("the TPM has no NV space left for a counter")
        if ref is None:
            if code in (int(rc.BAD_AUTH), int(rc.AUTH_FAIL), int(rc.HIERARCHY)):
                return HardwareError(f"the TPM could not {what}: {OWNER_AUTH_HINT}")
            return HardwareError(f"the TPM could not {what} ({e})")
        where = _index_name(ref.handle)
        if code in (int(rc.HANDLE), int(rc.BAD_AUTH), int(rc.AUTH_FAIL),
                    int(rc.NV_UNINITIALIZED), int(rc.ATTRIBUTES), int(rc.NV_AUTHORIZATION)):
            try:
                same = self._worker.call(nv.device_id) == ref.device
            except Exception:  # noqa: BLE001 - the identity only chooses the sentence
                same = True
            if not same:
                return CounterGone(f"the counter at {where} was made on another TPM than this "
                                   "one (or this TPM was cleared since)")
            if code == int(rc.HANDLE):
                return CounterGone(f"{where} is no longer defined on this TPM (removed, or the "
                                   "TPM was cleared)")
            return CounterGone(f"{where} on this TPM is not the counter that was made there "
                               "(it was removed and replaced)")
        return HardwareError(f"the TPM could not {what} at {where} ({e})")


def _check_auth(auth: bytes) -> None:
    if len(auth) != AUTH_BYTES:
        raise UsageError(f"a counter's authorisation value is {AUTH_BYTES} bytes")
