"""The SlotSecretSource contract (app.unlock_methods): tests every unlock-method backend must pass.

Like keyring's ``BackendBasicTests`` and :mod:`helpers.keystore_contract`: subclass
:class:`SlotSourceContract` in a test module, set the class attributes and provide four
fixtures (any scope up to function)::

    class TestMySource(SlotSourceContract):
        KIND = "mykind"
        OPTIONS = {}              # enrol options for an ordinary slot
        PIN = None                # what the prompts answer when asked for a PIN
        KEEPS_OUTSIDE = False     # whether the slot keeps something outside the vault (forget)
        REFUSES_ENROLLED = False  # whether enrol can tell the device already holds a slot
        EDITS = {}                # param -> edited value (or a function of the old one), where
                                  # the generic edit does not fit

        @pytest.fixture
        def device(self): ...            # the simulated device (handed to the hooks below)
        @pytest.fixture
        def source(self, device): ...    # an available source on that device
        @pytest.fixture
        def other_source(self): ...      # another device of the same kind
        @pytest.fixture
        def unavailable(self): ...       # (a source that cannot run here, [words of its reason])

        def footprint(self, device): ...   # what the device holds, comparable with ==
        def user_waits(self, device): ...  # user waits the device started, or None if untold
        def stall(self, device): ...       # a Stall, or None when the backend never waits

Every public parameter of a slot is tampered with in turn (the generic edit in :func:`edited`
unless ``EDITS`` says otherwise): a slot the contract does not know how to edit fails the test,
so a new parameter needs a case.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.app.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BackingOff,
    HardwareError,
    StrongroomError,
    UsageError,
    UserCancelled,
    WrongDevice,
    WrongPassphrase,
)
from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.plugins import Availability
from strongroom.app.unlock_methods import (
    SECRET_BYTES,
    Enrolment,
    HardwareUnlocker,
    SlotRef,
    SlotSecretSource,
    load_source,
    needs_passphrase,
)
from strongroom.app.vault import Vault
from strongroom.app.vault.witness import backoff_file

from conftest import OTHER_PASSPHRASE, PASSPHRASE, make_vault

VAULT_ID = "contract-vault"
LABEL = "contract slot"
CANCEL_AFTER_S = 0.05
WAIT_LIMIT_S = 5.0
BACKOFF_FILE = "unlock-backoff.json"
HEADER_FILE = "header.json"


def _forget_failures(path: Path, vault_id: str) -> None:
    """Reset the failed-unlock count: both its copies (the vault's and the state dir's)."""
    (path / BACKOFF_FILE).unlink(missing_ok=True)
    backoff_file(vault_id, path).unlink(missing_ok=True)


# ----- prompts ----------------------------------------------------------------------------------


class RecordingPrompts:
    """app.unlock_methods.Prompts that answer every PIN request with ``pin`` (None cancels) and
    record each touch and PIN request."""

    def __init__(self, pin: str | None = None) -> None:
        self.pin = pin
        self.touches: list[str] = []
        self.pin_requests: list[tuple[str, int | None, bool]] = []

    @property
    def asked(self) -> int:
        return len(self.touches) + len(self.pin_requests)

    def prompt_touch(self, device: str) -> None:
        self.touches.append(device)

    def request_pin(self, device: str, retries: int | None, *, new: bool = False) -> str | None:
        self.pin_requests.append((device, retries, new))
        return self.pin


class CancellingPrompts(RecordingPrompts):
    """The user presses Cancel while the device waits: each prompt sets ``cancel`` from another
    thread shortly after it is shown; a PIN dialog stays open until then."""

    def __init__(self, cancel: threading.Event, pin: str | None = None) -> None:
        super().__init__(pin)
        self.cancel = cancel
        self.timers: list[threading.Timer] = []

    def _press_cancel_soon(self) -> None:
        timer = threading.Timer(CANCEL_AFTER_S, self.cancel.set)
        timer.start()
        self.timers.append(timer)

    def prompt_touch(self, device: str) -> None:
        super().prompt_touch(device)
        self._press_cancel_soon()

    def request_pin(self, device: str, retries: int | None, *, new: bool = False) -> str | None:
        answer = super().request_pin(device, retries, new=new)
        self._press_cancel_soon()
        self.cancel.wait(WAIT_LIMIT_S)
        return answer

    def join(self) -> None:
        for timer in self.timers:
            timer.join()


@dataclass(frozen=True)
class Stall:
    """How to make a backend wait for the user: enrol a slot with ``options`` (its PIN is
    ``pin``), then after ``begin()`` every use of the device waits until cancelled."""

    options: Mapping[str, Any]
    pin: str | None
    begin: Callable[[], None]


# ----- secrets in public places ----------------------------------------------------------------


def shown_forms(secret: bytes) -> list[str]:
    """The ways a secret could show up in text: hex, base64 and base64url (padded or not)."""
    forms = [secret.hex(), secret.hex().upper()]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(secret).decode("ascii")
        forms += [text, text.rstrip("=")]
    return forms


def assert_not_shown(secret: bytes, *places: str | bytes) -> None:
    """``secret`` appears in none of ``places``, raw or encoded."""
    forms = shown_forms(secret)
    for place in places:
        if isinstance(place, bytes):
            assert secret not in place
            place = place.decode("utf-8", "replace")
        for form in forms:
            assert form not in place, f"the secret is shown ({form[:8]}…)"


# ----- tampering -------------------------------------------------------------------------------


def edited(value: Any) -> Any:
    """A different value of the same shape (so a parser still takes it), or KeyError."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return [*value, max(value, default=7) + 1]
    if isinstance(value, str) and value:
        if len(value) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in value):
            return value[:-1] + ("0" if value[-1] != "0" else "1")
        with contextlib.suppress(binascii.Error, ValueError):
            raw = base64.b64decode(value.encode("ascii"), validate=True)
            if raw:
                return base64.b64encode(bytes([raw[0] ^ 0x01]) + raw[1:]).decode("ascii")
        return value + "-edited"
    raise KeyError(f"no generic edit for {value!r}")


WRONG_TYPES: tuple[Any, ...] = (None, 0, 1.5, True, "", [], {}, [1, "x"], {"a": 1})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=24)
    | st.binary(max_size=48).map(lambda b: base64.b64encode(b).decode("ascii")),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=6,
)


def same_type_as(value: Any) -> st.SearchStrategy[Any]:
    """Other values of ``value``'s JSON type (for text: any text, base64, hex, or an edit)."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-(2**40), 2**40)
    if isinstance(value, list):
        return st.lists(st.integers(-2, 40), max_size=4)
    if isinstance(value, str):
        return st.one_of(
            st.text(max_size=40),
            st.binary(max_size=96).map(lambda b: base64.b64encode(b).decode("ascii")),
            st.binary(max_size=48).map(bytes.hex),
            st.just(_garbled(value)),
        )
    return json_values


# ----- the contract ----------------------------------------------------------------------------


class SlotSourceContract:
    """Mixin: the behaviour every SlotSecretSource shows (see the module docstring)."""

    KIND: ClassVar[str]
    OPTIONS: ClassVar[Mapping[str, Any]] = {}
    PIN: ClassVar[str | None] = None
    KEEPS_OUTSIDE: ClassVar[bool] = False
    REFUSES_ENROLLED: ClassVar[bool] = False
    EDITS: ClassVar[Mapping[str, Any]] = {}  # param -> edited value, or a function making it

    # hooks ------------------------------------------------------------------------------------

    def footprint(self, device: Any) -> Hashable:
        """What the device holds now (credentials, entries, loaded objects)."""
        raise NotImplementedError

    def user_waits(self, device: Any) -> int | None:
        """How many times the device has started waiting for the user, if it can tell."""
        return None

    def stall(self, device: Any) -> Stall | None:
        """How to make the device wait for the user, or None if this backend never waits."""
        return None

    # helpers ----------------------------------------------------------------------------------

    def prompts(self) -> RecordingPrompts:
        return RecordingPrompts(self.PIN)

    def enrol(self, source: SlotSecretSource, **kwargs: Any) -> Enrolment:
        kwargs.setdefault("options", dict(self.OPTIONS))
        kwargs.setdefault("prompts", self.prompts())
        return source.enrol(vault_id=VAULT_ID, label=LABEL, **kwargs)

    def recover(self, source: SlotSecretSource, *refs: SlotRef, **kwargs: Any
                ) -> tuple[str, bytes]:
        kwargs.setdefault("prompts", self.prompts())
        return source.recover(list(refs), vault_id=VAULT_ID, **kwargs)

    def unlocker(self, source: SlotSecretSource, vault: Vault, **kwargs: Any) -> HardwareUnlocker:
        kwargs.setdefault("prompts", self.prompts())
        return HardwareUnlocker(source, vault.vault_id, **kwargs)

    def vault_with_slot(self, path: Path, source: SlotSecretSource, **kwargs: Any
                        ) -> tuple[str, Enrolment]:
        """A locked vault at ``path`` with one slot of this kind; (slot id, its enrolment)."""
        recorder = _Recorder(source)
        vault = make_vault(path)
        kwargs.setdefault("options", dict(self.OPTIONS))
        kwargs.setdefault("prompts", self.prompts())
        slot = vault.add_hardware_slot(recorder, label=LABEL, **kwargs)
        vault.lock()
        assert recorder.enrolment is not None
        return slot.id, recorder.enrolment

    # the port ---------------------------------------------------------------------------------

    def test_is_the_port_of_its_kind_and_found_through_the_entry_point(
        self, source: SlotSecretSource
    ) -> None:
        assert isinstance(source, SlotSecretSource)
        assert source.kind == self.KIND
        assert type(load_source(self.KIND)) is type(source)

    def test_available_says_ok_or_why_not(
        self, source: SlotSecretSource, unavailable: tuple[SlotSecretSource, list[str]]
    ) -> None:
        ok = source.available()
        assert isinstance(ok, Availability) and ok.ok is True
        missing, words = unavailable
        status = missing.available()
        assert isinstance(status, Availability) and status.ok is False
        assert status.reason and "\n" not in status.reason
        for word in words:
            assert word in status.reason, status.reason

    def test_an_unavailable_source_fails_with_an_app_error(
        self, source: SlotSecretSource, unavailable: tuple[SlotSecretSource, list[str]]
    ) -> None:
        ref = SlotRef("s", LABEL, self.enrol(source).params)
        missing, _ = unavailable
        with pytest.raises(HardwareError):
            self.enrol(missing)
        with pytest.raises(HardwareError):
            self.recover(missing, ref)

    def test_enrol_then_recover_gives_the_same_32_byte_secret(
        self, source: SlotSecretSource
    ) -> None:
        enrolment = self.enrol(source)
        assert isinstance(enrolment.secret, bytes) and len(enrolment.secret) == SECRET_BYTES
        params = json.loads(json.dumps(dict(enrolment.params)))  # plain JSON, as the header keeps
        assert params == dict(enrolment.params)
        assert self.recover(source, SlotRef("s1", LABEL, params)) == ("s1", enrolment.secret)
        # Again: the device gives the same secret every time.
        assert self.recover(source, SlotRef("s1", LABEL, params)) == ("s1", enrolment.secret)

    def test_each_enrolment_is_a_new_secret_and_recover_finds_its_slot(
        self, source: SlotSecretSource
    ) -> None:
        a, b = self.enrol(source), self.enrol(source)
        assert a.secret != b.secret and dict(a.params) != dict(b.params)
        ref_a, ref_b = SlotRef("a", "A", a.params), SlotRef("b", "B", b.params)
        assert self.recover(source, ref_b) == ("b", b.secret)
        assert self.recover(source, ref_a, ref_b) in {("a", a.secret), ("b", b.secret)}

    def test_a_slot_of_another_device_is_wrong_device_and_its_own_is_found(
        self, source: SlotSecretSource, other_source: SlotSecretSource
    ) -> None:
        theirs, ours = self.enrol(other_source), self.enrol(source)
        with pytest.raises(WrongDevice) as caught:
            self.recover(source, SlotRef("theirs", "other", theirs.params))
        assert_not_shown(theirs.secret, str(caught.value))
        found = self.recover(source, SlotRef("theirs", "other", theirs.params),
                             SlotRef("ours", "this", ours.params))
        assert found == ("ours", ours.secret)

    def test_no_slot_at_all_is_wrong_device(self, source: SlotSecretSource) -> None:
        with pytest.raises(WrongDevice):
            self.recover(source)

    def test_the_secret_is_in_no_param_repr_status_or_error(
        self, source: SlotSecretSource, other_source: SlotSecretSource
    ) -> None:
        statuses: list[str] = []
        enrolment = self.enrol(source, on_status=statuses.append)
        ref = SlotRef("s", LABEL, enrolment.params)
        self.recover(source, ref, on_status=statuses.append)
        places: list[str] = [json.dumps(dict(enrolment.params)), repr(enrolment.params),
                             repr(enrolment), str(enrolment), repr(ref), *statuses]
        refused = [SlotRef("s", LABEL, {**enrolment.params, param: _garbled(value)})
                   for param, value in enrolment.params.items()]
        for attempt_source, attempt in [(other_source, ref), *((source, r) for r in refused)]:
            try:
                self.recover(attempt_source, attempt)
            except StrongroomError as e:
                places += [str(e), repr(e)]
        assert len(places) > 6, "the other device refused the slot"
        assert_not_shown(enrolment.secret, *places)

    def test_on_status_is_told_what_happens(self, source: SlotSecretSource) -> None:
        enrol_statuses: list[str] = []
        enrolment = self.enrol(source, on_status=enrol_statuses.append)
        recover_statuses: list[str] = []
        self.recover(source, SlotRef("s", LABEL, enrolment.params),
                     on_status=recover_statuses.append)
        for statuses in (enrol_statuses, recover_statuses):
            assert statuses, "the UI is told what is happening"
            assert all(isinstance(s, str) and s.strip() for s in statuses)
        # None is accepted too (every other test passes no callback).

    def test_enrolled_slots_are_refused_or_make_a_new_secret(
        self, device: Any, source: SlotSecretSource
    ) -> None:
        first = self.enrol(source)
        ref = SlotRef("first", "first", first.params)
        if self.REFUSES_ENROLLED:
            before, waits = self.footprint(device), self.user_waits(device)
            prompts = self.prompts()
            with pytest.raises(AlreadyExists):
                self.enrol(source, enrolled=[ref], prompts=prompts)
            assert self.footprint(device) == before
            assert prompts.asked == 0 and self.user_waits(device) == waits
        else:
            second = self.enrol(source, enrolled=[ref])
            assert second.secret != first.secret
            assert self.recover(source, SlotRef("second", "", second.params))[1] == second.secret
        assert self.recover(source, ref) == ("first", first.secret)

    def test_forget_drops_only_what_is_kept_outside_the_vault(
        self, device: Any, source: SlotSecretSource
    ) -> None:
        before = self.footprint(device)
        enrolment = self.enrol(source)
        enrolled = self.footprint(device)
        ref = SlotRef("s", LABEL, enrolment.params)
        source.forget(ref)
        if self.KEEPS_OUTSIDE:
            assert enrolled != before, "enrolment kept something outside the vault"
            assert self.footprint(device) == before
            with pytest.raises(WrongDevice):
                self.recover(source, ref)
            source.forget(ref)  # already gone: not an error
        else:
            assert self.footprint(device) == enrolled
            assert self.recover(source, ref) == ("s", enrolment.secret)

    def test_a_cancel_set_before_the_call_is_honoured(
        self, device: Any, source: SlotSecretSource
    ) -> None:
        ref = SlotRef("s", LABEL, self.enrol(source).params)
        cancel = threading.Event()
        cancel.set()
        before, waits = self.footprint(device), self.user_waits(device)
        prompts = self.prompts()
        with pytest.raises(UserCancelled):
            self.enrol(source, cancel=cancel, prompts=prompts)
        with pytest.raises(UserCancelled):
            self.recover(source, ref, cancel=cancel, prompts=prompts)
        assert self.footprint(device) == before
        assert prompts.asked == 0 and self.user_waits(device) == waits

    def test_a_cancel_while_the_device_waits_is_honoured(
        self, device: Any, source: SlotSecretSource, tmp_path: Path
    ) -> None:
        stall = self.stall(device)
        if stall is None:
            pytest.skip(f"the {self.KIND} backend never waits for the user (no touch, no PIN)")
        self.vault_with_slot(tmp_path / "v", source, options=stall.options,
                             prompts=RecordingPrompts(stall.pin))
        stall.begin()
        vault = Vault.open(tmp_path / "v")
        cancel = threading.Event()
        waiting = CancellingPrompts(cancel, stall.pin)
        waits = self.user_waits(device)
        started = time.monotonic()
        with pytest.raises(UserCancelled):
            vault.unlock(self.unlocker(source, vault, prompts=waiting), cancel=cancel)
        waiting.join()
        assert time.monotonic() - started < WAIT_LIMIT_S
        assert not vault.unlocked
        assert waiting.asked == 1, "the cancel came while the device waited"
        if waits is not None:
            assert self.user_waits(device) == waits + 1

        # The same while enrolling (in another vault): nothing is added, to it or the device.
        other = make_vault(tmp_path / "w")
        before, header = self.footprint(device), other.header
        cancel = threading.Event()
        waiting = CancellingPrompts(cancel, stall.pin)
        with pytest.raises(UserCancelled):
            other.add_hardware_slot(source, label="cancelled", options=stall.options,
                                    prompts=waiting, cancel=cancel)
        waiting.join()
        assert waiting.asked == 1
        assert other.header == header and [s.kind for s in header.slots] == ["passphrase"]
        assert self.footprint(device) == before
        other.lock()

    def test_garbage_params_of_the_right_types_are_app_errors(
        self, source: SlotSecretSource
    ) -> None:
        """Each param kept, dropped or replaced by another value of its JSON type, extra params
        added: recover gives a secret or raises an app error, never a raw one."""
        enrolment = self.enrol(source)
        real = dict(enrolment.params)

        @settings(max_examples=60, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(st.data())
        def check(data: st.DataObject) -> None:
            params: dict[str, Any] = {}
            for key, value in sorted(real.items()):
                choice = data.draw(st.sampled_from(["keep", "drop", "replace"]), label=key)
                if choice == "keep":
                    params[key] = value
                elif choice == "replace":
                    params[key] = data.draw(same_type_as(value), label=f"{key} value")
            extra = data.draw(st.dictionaries(
                st.text(max_size=8).filter(lambda k: k not in real), json_values, max_size=2,
            ), label="extra")
            params.update(extra)
            try:
                slot_id, secret = self.recover(source, SlotRef("g", "garbage", params),
                                               prompts=RecordingPrompts(None))
            except StrongroomError as e:
                assert_not_shown(enrolment.secret, str(e))
            else:
                # The device may answer an edited slot (then the vault's unwrap refuses it).
                assert slot_id == "g" and isinstance(secret, bytes)
                assert len(secret) >= SECRET_BYTES

        check()

    def test_params_of_the_wrong_json_type_are_app_errors(
        self, source: SlotSecretSource
    ) -> None:
        """A header edited to hold null, a number, a list or an object where a param was: an app
        error (or, where the param is optional, a secret), never a raw exception."""
        enrolment = self.enrol(source)
        real = dict(enrolment.params)
        raw: list[str] = []
        for key, value in sorted(real.items()):
            for wrong in WRONG_TYPES:
                if type(wrong) is type(value):
                    continue
                try:
                    slot_id, secret = self.recover(
                        source, SlotRef("w", "wrong", {**real, key: wrong}),
                        prompts=RecordingPrompts(None),
                    )
                except StrongroomError:
                    continue
                except Exception as e:  # noqa: BLE001 - collected, then reported together
                    raw.append(f"{key}={wrong!r}: {type(e).__name__}: {e}")
                    continue
                assert slot_id == "w" and len(secret) >= SECRET_BYTES, (key, wrong)
        assert not raw, "raw exceptions escaped: " + "; ".join(raw)

    # through a vault --------------------------------------------------------------------------

    def test_a_slot_made_by_enrol_opens_the_vault_and_the_header_keeps_no_secret(
        self, device: Any, source: SlotSecretSource, tmp_path: Path
    ) -> None:
        path = tmp_path / "v"
        slot_id, enrolment = self.vault_with_slot(path, source)
        files = [p.read_bytes() for p in path.rglob("*") if p.is_file()]
        assert_not_shown(enrolment.secret, *files)
        held = self.footprint(device)

        vault = Vault.open(path)
        slot = vault.header.slot(slot_id)
        assert slot is not None and slot.kind == self.KIND
        assert dict(slot.params).items() >= dict(enrolment.params).items()
        vault.unlock(self.unlocker(source, vault))
        assert vault.unlocked
        [event] = vault.audit_events(action="vault.unlock")
        assert event.details == {"slot": slot_id, "kind": self.KIND}
        assert vault.header.slot(slot_id).last_used is not None

        vault.test_slot(slot_id, self.unlocker(source, vault))
        assert vault.header.slot(slot_id).last_tested is not None
        assert self.footprint(device) == held, "unlocking leaves the device as it was"
        vault.lock()

    def test_test_slot_with_another_device_is_wrong_device(
        self, source: SlotSecretSource, other_source: SlotSecretSource, tmp_path: Path
    ) -> None:
        slot_id, _ = self.vault_with_slot(tmp_path / "v", source)
        vault = Vault.open(tmp_path / "v")
        vault.unlock(self.unlocker(source, vault))
        tested = vault.header.slot(slot_id).last_tested
        with pytest.raises(WrongDevice):
            vault.test_slot(slot_id, self.unlocker(other_source, vault))
        assert vault.header.slot(slot_id).last_tested == tested
        outcomes = [e.outcome for e in vault.audit_events(action="keyslot.test")]
        assert outcomes == ["failed"]
        vault.lock()
        with pytest.raises(WrongDevice):
            Vault.open(tmp_path / "v").unlock(self.unlocker(other_source, vault))

    def test_every_edited_slot_param_keeps_the_vault_shut(
        self, source: SlotSecretSource, tmp_path: Path
    ) -> None:
        path = tmp_path / "v"
        slot_id, enrolment = self.vault_with_slot(path, source)
        original = (path / HEADER_FILE).read_text()
        header = json.loads(original)
        [index] = [i for i, s in enumerate(header["slots"]) if s["id"] == slot_id]
        params = header["slots"][index]["params"]
        assert set(self.EDITS) <= set(params), "EDITS names a param the slot does not have"
        for param, value in sorted(params.items()):
            edit = self.EDITS.get(param, edited)
            new = edit(value) if callable(edit) else edit
            assert new != value
            changed = json.loads(original)
            changed["slots"][index]["params"][param] = new
            (path / HEADER_FILE).write_text(json.dumps(changed))
            _forget_failures(path, header["vault_id"])  # each attempt is judged on its own
            vault = Vault.open(path)
            with pytest.raises(AuthenticationFailed) as caught:
                vault.unlock(self.unlocker(source, vault))
            assert not isinstance(caught.value, BackingOff)
            assert not vault.unlocked, param
            assert_not_shown(enrolment.secret, str(caught.value))
        # Control: the unedited header still opens, so each refusal above was the edit's.
        (path / HEADER_FILE).write_text(original)
        _forget_failures(path, header["vault_id"])
        vault = Vault.open(path)
        vault.unlock(self.unlocker(source, vault))
        assert vault.unlocked
        vault.lock()

    def test_params_moved_from_another_vault_do_not_open(
        self, source: SlotSecretSource, tmp_path: Path
    ) -> None:
        one_id, _ = self.vault_with_slot(tmp_path / "one", source)
        two_id, _ = self.vault_with_slot(tmp_path / "two", source)
        one, two = (json.loads((tmp_path / n / HEADER_FILE).read_text()) for n in ("one", "two"))
        [theirs] = [s["params"] for s in two["slots"] if s["id"] == two_id]
        for s in one["slots"]:
            if s["id"] == one_id:
                s["params"] = theirs
        (tmp_path / "one" / HEADER_FILE).write_text(json.dumps(one))
        vault = Vault.open(tmp_path / "one")
        with pytest.raises(AuthenticationFailed):
            vault.unlock(self.unlocker(source, vault))
        assert not vault.unlocked

    def test_remove_slot_forgets_it(
        self, device: Any, source: SlotSecretSource, tmp_path: Path
    ) -> None:
        before = self.footprint(device)
        vault = make_vault(tmp_path / "v")
        slot = vault.add_hardware_slot(source, label=LABEL, options=dict(self.OPTIONS),
                                       prompts=self.prompts())
        enrolled = self.footprint(device)
        vault.remove_slot(slot.id, source)
        assert [s.kind for s in vault.header.slots] == ["passphrase"]
        assert [e.target for e in vault.audit_events(action="keyslot.remove")] == [slot.id]
        assert self.footprint(device) == (before if self.KEEPS_OUTSIDE else enrolled)
        vault.lock()

    def test_two_factor_needs_the_device_and_the_passphrase(
        self, device: Any, source: SlotSecretSource, other_source: SlotSecretSource,
        tmp_path: Path,
    ) -> None:
        path = tmp_path / "v"
        vault = make_vault(path)
        before, waits = self.footprint(device), self.user_waits(device)
        prompts = self.prompts()
        with pytest.raises(WrongPassphrase):
            vault.add_hardware_slot(source, label="typo", options=dict(self.OPTIONS),
                                    prompts=prompts,
                                    passphrase=normalize_passphrase(OTHER_PASSPHRASE))
        assert [s.kind for s in vault.header.slots] == ["passphrase"]
        assert self.footprint(device) == before, "the passphrase is checked before enrolling"
        assert prompts.asked == 0 and self.user_waits(device) == waits
        slot = vault.add_hardware_slot(source, label="2fa", options=dict(self.OPTIONS),
                                       prompts=self.prompts(),
                                       passphrase=normalize_passphrase(PASSPHRASE))
        assert needs_passphrase(slot)
        vault.lock()

        reopened = Vault.open(path)
        with pytest.raises(UsageError, match="also needs the passphrase"):
            reopened.unlock(self.unlocker(source, reopened))
        with pytest.raises(AuthenticationFailed):
            reopened.unlock(self.unlocker(source, reopened,
                                          passphrase=normalize_passphrase(OTHER_PASSPHRASE)))
        with pytest.raises(WrongDevice):
            reopened.unlock(self.unlocker(other_source, reopened,
                                          passphrase=normalize_passphrase(PASSPHRASE)))
        assert not reopened.unlocked
        reopened.unlock(self.unlocker(source, reopened,
                                      passphrase=normalize_passphrase(PASSPHRASE)))
        assert reopened.unlocked
        reopened.lock()


# ----- small helpers ---------------------------------------------------------------------------


class _Recorder:
    """Passes a source through and keeps the last enrolment (to look for its secret later)."""

    def __init__(self, source: SlotSecretSource) -> None:
        self._source = source
        self.kind = source.kind
        self.enrolment: Enrolment | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def enrol(self, **kwargs: Any) -> Enrolment:
        self.enrolment = self._source.enrol(**kwargs)
        return self.enrolment


def _garbled(value: Any) -> Any:
    try:
        return edited(value)
    except KeyError:
        return None

