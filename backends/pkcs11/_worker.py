"""One worker thread per PKCS#11 module: it owns the library handle and every session.

PKCS#11 sessions are not thread-safe, so (like Electrum's hardware-wallet thread) every call
into a module runs on that module's single-worker executor; other threads submit work and wait on
the future. :func:`assert_on_worker` guards the code that must only run there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_workers: dict[str, ModuleWorker] = {}
_workers_lock = threading.Lock()
_local = threading.local()


class ModuleWorker:
    """The single thread that talks to one PKCS#11 module (keyed by the library's real path)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix=f"pkcs11:{os.path.basename(key)}",
            initializer=self._mark,
        )

    def _mark(self) -> None:
        _local.worker_key = self.key

    def on_worker(self) -> bool:
        return getattr(_local, "worker_key", None) == self.key

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn`` on the worker; the caller may wait on the future or not."""
        return self._executor.submit(fn, *args, **kwargs)

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` on the worker and wait for its result (directly when already on it)."""
        if self.on_worker():
            return fn(*args, **kwargs)
        return self._executor.submit(fn, *args, **kwargs).result()


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
