"""One worker thread per PKCS#11 module: it owns the library handle and every session.

PKCS#11 sessions are not thread-safe, so (like Electrum's hardware-wallet thread) every call
into a module runs on that module's one daemon worker thread; other threads queue work and wait
on its result. :func:`assert_on_worker` guards the code that must only run there.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError
from typing import Any, TypeVar

from strongroom.app.errors import UserCancelled

T = TypeVar("T")

_workers: dict[str, ModuleWorker] = {}
_workers_lock = threading.Lock()
_local = threading.local()


class Call:
    """One call waiting for the worker: a result or exception, waited on with a plain lock
    (cheaper than a Future's condition when thousands of signatures go through one by one)."""

    __slots__ = ("_args", "_cancelled", "_done", "_error", "_fn", "_kwargs", "_result")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any]) -> None:
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._done = threading.Lock()
        self._done.acquire()
        self._result: Any = None
        self._error: BaseException | None = None
        self._cancelled = False

    def _run(self) -> None:
        try:
            if self._cancelled:
                self._error = CancelledError()
            else:
                self._result = self._fn(*self._args, **self._kwargs)
        except BaseException as e:  # noqa: BLE001 - handed to the waiting caller
            self._error = e
        finally:
            self._fn = self._args = self._kwargs = None  # type: ignore[assignment]
            self._done.release()

    def cancel(self) -> None:
        """Skip the call if the worker has not started it yet."""
        self._cancelled = True

    def result(self) -> Any:
        with self._done:
            pass
        if self._error is not None:
            raise self._error
        return self._result


class ModuleWorker:
    """The single thread that talks to one PKCS#11 module (keyed by the library's real path)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._queue: queue.SimpleQueue[Call] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._loop, name=f"pkcs11:{os.path.basename(key)}", daemon=True
        )
        self._thread.start()

    def _loop(self) -> None:
        _local.worker_key = self.key
        while True:
            self._queue.get()._run()

    def on_worker(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Call:
        """Queue ``fn`` for the worker; wait with ``.result()`` (or drop it with ``.cancel()``)."""
        call = Call(fn, args, kwargs)
        self._queue.put(call)
        return call

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the worker and wait for its result (directly when already on it)."""
        if self.on_worker():
            return fn(*args, **kwargs)
        result: T = self.submit(fn, *args, **kwargs).result()
        return result


def module_key(path: str) -> str:
    """The identity of a module: its real path, so two links to one library share a worker."""
    return os.path.realpath(path)


def worker_for(path: str) -> ModuleWorker:
    """The worker of the module at ``path`` (created on first use, kept for the process)."""
    key = module_key(path)
    with _workers_lock:
        worker = _workers.get(key)
        if worker is None:
            worker = _workers[key] = ModuleWorker(key)
        return worker


def assert_on_worker(key: str) -> None:
    """Fail loudly when PKCS#11 code for module ``key`` runs on any thread but its worker."""
    current = getattr(_local, "worker_key", None)
    if current != key:
        raise AssertionError(
            f"PKCS#11 call for {key} on thread {threading.current_thread().name}, "
            "not on its module worker"
        )


def check_cancel(cancel: threading.Event | None, what: str) -> None:
    """UserCancelled("<what> cancelled") once ``cancel`` is set: between steps, on either side."""
    if cancel is not None and cancel.is_set():
        raise UserCancelled(f"{what} cancelled")
