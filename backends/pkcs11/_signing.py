"""Signing with one key of a Pkcs11KeyStore: the loop on the worker and the stream that feeds it.

:func:`sign_on_token` signs a chunk of token inputs on the module's worker thread (the store runs
it under its session guard); :func:`pipelined` hands a stream of messages to it :data:`CHUNK` at a
time with two chunks in flight, so the next digests are computed on the calling thread while the
token signs; :func:`signing_status` says a token may wait for a touch or a PIN pad.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from strongroom.app.keys.ports import KeyInfo, ProgressCallback
from strongroom.app.keyslots import StatusCallback

from . import _keys
from ._objects import TokenObjects
from ._worker import Call, check_cancel

# Messages are handed to the worker in chunks: few thread hops, prompt cancel and progress.
CHUNK = 32


def sign_on_token(
    objects: TokenObjects,
    key: KeyInfo,
    plan: _keys.SignPlan,
    inputs: list[bytes],
    cancel: threading.Event | None,
) -> list[bytes]:
    priv = objects.private(key)
    out = []
    for data in inputs:
        check_cancel(cancel, "signing")
        out.append(bytes(priv.sign(data, mechanism=plan.mechanism,
                                   mechanism_param=plan.param)))
    return out


def pipelined(
    plan: _keys.SignPlan,
    items: Iterator[bytes],
    prehashed: bool,
    total: int,
    cancel: threading.Event | None,
    on_progress: ProgressCallback | None,
    submit: Callable[[list[bytes]], Call],
) -> Iterator[bytes]:
    """The signatures of ``items`` in order; ``submit`` sends a chunk of token inputs to the
    worker (:func:`sign_on_token`), ``on_progress(done, total)`` runs on the calling thread."""
    done = 0

    def next_chunk() -> Call | None:
        chunk = [plan.token_input(data, prehashed) for _, data in zip(range(CHUNK), items,
                                                                          strict=False)]
        if not chunk:
            return None
        return submit(chunk)

    # Two chunks in flight: the next digests are computed while the token signs. Whatever
    # ends the loop (cancel, an error, the caller dropping the iterator) drops queued work.
    check_cancel(cancel, "signing")
    pending = next_chunk()
    following: Call | None = None
    try:
        while pending is not None:
            following = next_chunk()
            signatures = pending.result()
            for raw in signatures:
                check_cancel(cancel, "signing")
                yield plan.finish(raw)
                done += 1
                if on_progress is not None:
                    on_progress(done, total)
            pending, following = following, None
    finally:
        for call in (pending, following):
            if call is not None:
                call.cancel()


def signing_status(on_status: StatusCallback | None, where: str) -> None:
    """A token may wait for a touch or a PIN pad before it signs."""
    if on_status is not None:
        on_status(f"Signing on {where} (touch or confirm on the token if it asks)")
