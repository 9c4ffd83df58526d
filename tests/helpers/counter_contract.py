"""The contract of app.counters.MonotonicCounter, run against every counter backend.

A test class mixes :class:`CounterContract` in and provides two fixtures: ``counter`` (the backend
on a device that answers) and ``unreachable`` (the same backend where no device answers). Each
test forgets what it creates. What only one backend can show (the TPM's NV attributes, another
TPM, an index that exists) stays in that backend's own tests.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import pytest

from strongroom.app.counters import AUTH_BYTES, CounterRef, MonotonicCounter, load_counter
from strongroom.app.errors import CounterGone, HardwareError, UsageError, UserCancelled


def new_auth() -> bytes:
    return secrets.token_bytes(AUTH_BYTES)


class CounterContract:
    """What every MonotonicCounter does (see the module docstring for the fixtures)."""

    @pytest.fixture
    def made(self, counter: MonotonicCounter) -> Iterator[tuple[CounterRef, bytes]]:
        auth = new_auth()
        ref = counter.create(auth=auth)
        yield ref, auth
        counter.forget(ref, auth=auth)

    def test_it_is_the_port_and_its_entry_point_names_it(self, counter) -> None:
        assert isinstance(counter, MonotonicCounter)
        assert type(load_counter(counter.name)) is type(counter)
        assert counter.available().ok

    def test_unavailable_says_why_in_one_line(self, unreachable) -> None:
        status = unreachable.available()
        assert not status.ok and status.reason and "\n" not in status.reason

    def test_a_new_counter_reads_and_counts_up_by_one(self, counter, made) -> None:
        ref, auth = made
        assert ref.backend == counter.name and ref.label and ref.device
        start = counter.read(ref, auth=auth)
        assert start >= 1  # counted once when made, so it can be read at all
        for step in range(1, 4):
            assert counter.increment(ref, auth=auth) == start + step
            assert counter.read(ref, auth=auth) == start + step

    def test_two_counters_are_apart(self, counter, made) -> None:
        ref, auth = made
        other_auth = new_auth()
        other = counter.create(auth=other_auth)
        try:
            assert other.handle != ref.handle
            before = counter.read(other, auth=other_auth)
            counter.increment(ref, auth=auth)
            assert counter.read(other, auth=other_auth) == before
        finally:
            counter.forget(other, auth=other_auth)

    def test_another_auth_value_neither_reads_nor_moves_it(self, counter, made) -> None:
        ref, auth = made
        before = counter.read(ref, auth=auth)
        with pytest.raises(CounterGone):
            counter.read(ref, auth=new_auth())
        with pytest.raises(CounterGone):
            counter.increment(ref, auth=new_auth())
        with pytest.raises(CounterGone):
            counter.forget(ref, auth=new_auth())
        assert counter.read(ref, auth=auth) == before

    def test_an_auth_value_of_the_wrong_size_is_a_usage_error(self, counter, made) -> None:
        ref, _ = made
        with pytest.raises(UsageError):
            counter.read(ref, auth=b"short")
        with pytest.raises(UsageError):
            counter.create(auth=b"")

    def test_forget_removes_it_and_a_second_forget_is_nothing(self, counter) -> None:
        auth = new_auth()
        ref = counter.create(auth=auth)
        counter.forget(ref, auth=auth)
        with pytest.raises(CounterGone, match="no longer defined"):
            counter.read(ref, auth=auth)
        with pytest.raises(CounterGone):
            counter.increment(ref, auth=auth)
        counter.forget(ref, auth=auth)

    def test_a_set_cancel_stops_each_call_before_the_device_changes(self, counter, made) -> None:
        ref, auth = made
        cancel = threading.Event()
        cancel.set()
        before = counter.read(ref, auth=auth)
        for call in (lambda: counter.create(auth=new_auth(), cancel=cancel),
                     lambda: counter.increment(ref, auth=auth, cancel=cancel),
                     lambda: counter.read(ref, auth=auth, cancel=cancel),
                     lambda: counter.forget(ref, auth=auth, cancel=cancel)):
            with pytest.raises(UserCancelled):
                call()
        assert counter.read(ref, auth=auth) == before

    def test_it_says_what_it_is_doing(self, counter) -> None:
        said: list[str] = []
        auth = new_auth()
        ref = counter.create(auth=auth, on_status=said.append)
        counter.increment(ref, auth=auth, on_status=said.append)
        counter.forget(ref, auth=auth, on_status=said.append)
        assert len(said) >= 3 and all(isinstance(s, str) and s for s in said)

    def test_no_device_is_a_hardware_error_in_one_line(self, unreachable, counter, made) -> None:
        ref, auth = made
        for call in (lambda: unreachable.read(ref, auth=auth),
                     lambda: unreachable.increment(ref, auth=auth),
                     lambda: unreachable.create(auth=new_auth())):
            with pytest.raises(HardwareError) as caught:
                call()
            assert "\n" not in str(caught.value)
        assert counter.read(ref, auth=auth) >= 1
