"""One thread per TCTI owns the ESAPI context (ESAPI is not thread-safe, and a TPM without a
resource manager — swtpm, /dev/tpm0 — has room for three loaded objects shared by all callers).

The sealing source and every key store on a TCTI submit their work to the same single-worker
executor. The context is opened on first use and closed when the last holder (an open key store)
lets go, or after each call when nobody holds it.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from strongroom.app.errors import BackendUnavailable, DeviceNotFound, DeviceRemoved, UserCancelled
from strongroom.app.keyslots import StatusCallback

T = TypeVar("T")

ENV_TCTI = "STRONGROOM_TPM_TCTI"
TSS2_RC_LAYER_MASK = 0xFF0000
TSS2_TCTI_RC_LAYER = 10 << 16
DEVICE_TCTI = "device:/dev/tpmrm0"


def default_tcti() -> str:
    """``STRONGROOM_TPM_TCTI`` if set, else the kernel's resource-managed TPM device."""
    return os.environ.get(ENV_TCTI) or DEVICE_TCTI


def library() -> Any:
    """The ESAPI module (:mod:`._tss`), or BackendUnavailable with the reason it does not load."""
    if not sys.platform.startswith("linux"):
        raise BackendUnavailable(
            f"the TPM backend needs Linux (tpm2-pytss and libtss2); not available on {sys.platform}"
        )
    try:
        from . import _tss
    except ImportError as e:
        raise BackendUnavailable(f"the TPM library tpm2-pytss cannot be loaded ({e})") from e
    except OSError as e:  # libtss2 itself missing or broken
        raise BackendUnavailable(f"the TPM library libtss2 cannot be loaded ({e})") from e
    return _tss


def _transport_failed(e: BaseException) -> bool:
    """A TSS error raised by the TCTI layer (socket or device gone), not by the TPM."""
    rc = getattr(e, "rc", None)
    return isinstance(rc, int) and (rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER


class TpmWorker:
    """The thread that owns one TCTI's ESAPI context."""

    def __init__(self, tcti: str) -> None:
        self.tcti = tcti
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tpm")
        self._ctx: Any = None
        self._holders = 0
        self._lock = threading.Lock()
        self._thread: int | None = None

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(ctx, *args)`` on the worker thread and return its result (or raise)."""
        if threading.get_ident() == self._thread:  # already on it: waiting would deadlock
            return self._run(fn, args)
        return self._executor.submit(self._run, fn, args).result()

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        self._thread = threading.get_ident()
        ctx = self._context()
        try:
            return fn(ctx, *args)
        except Exception as e:
            if _transport_failed(e):
                # The TPM went away: drop the context so the next call reconnects.
                self._close(quiet=True)
                raise DeviceRemoved(f"the TPM at {self.tcti} stopped answering ({e})") from e
            raise
        finally:
            with self._lock:
                idle = self._holders == 0
            if idle:
                self._close()

    def _context(self) -> Any:
        if not threading.current_thread().name.startswith("tpm"):
            raise RuntimeError("ESAPI used outside the TPM worker thread")
        if self._ctx is None:
            tss = library()
            try:
                self._ctx = tss.open_context(self.tcti)
            except Exception as e:
                raise DeviceNotFound(
                    f"the TPM at {self.tcti} does not answer ({e})",
                    hint=f"check the device or set {ENV_TCTI}",
                ) from e
        return self._ctx

    def _close(self, quiet: bool = False) -> None:
        ctx, self._ctx = self._ctx, None
        if ctx is not None:
            try:
                ctx.close()
            except Exception:
                if not quiet:
                    raise

    def hold(self) -> None:
        """Keep the context open between calls (an open key store)."""
        with self._lock:
            self._holders += 1

    def release(self) -> None:
        with self._lock:
            self._holders = max(0, self._holders - 1)
            idle = self._holders == 0
        if idle:
            self._executor.submit(self._close).result()


_workers: dict[str, TpmWorker] = {}
_workers_lock = threading.Lock()


def worker_for(tcti: str) -> TpmWorker:
    with _workers_lock:
        worker = _workers.get(tcti)
        if worker is None:
            worker = _workers[tcti] = TpmWorker(tcti)
        return worker


def check_cancel(cancel: threading.Event | None) -> None:
    """UserCancelled once ``cancel`` is set (checked between TPM commands)."""
    if cancel is not None and cancel.is_set():
        raise UserCancelled()


def report(on_status: StatusCallback | None, text: str) -> None:
    """Tell ``on_status`` what the TPM is about to do (the UI shows it if it takes a while)."""
    if on_status is not None:
        on_status(text)
