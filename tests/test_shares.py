"""SLIP-39 share sets (app/ceremony/shares.py, share_words.py): M-of-N splits, commitments that
check a share without combining anything, drills on a fixed clock, nothing of a share in the
header or the audit log, and typed-in shares fuzzed."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from pathlib import Path

import pytest
import shamir_mnemonic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.app.access import operator_admin
from strongroom.app.ceremony import recovery, shares
from strongroom.app.ceremony.share_words import InvalidShare, canonical, parse_share, rows
from strongroom.app.errors import AccessDenied, AuthenticationFailed, NotFound, UsageError
from strongroom.app.keyslots import PassphraseUnlocker, normalize_passphrase
from strongroom.app.vault import Vault

from conftest import FAST_KDF_MS, PASSPHRASE

T0 = dt.datetime(2027, 1, 4, 9, 0, tzinfo=dt.UTC)
NAMES = ["alice", "bob", "carol"]
WORDS = frozenset(shamir_mnemonic.wordlist.WORDLIST)


class FakeClock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> dt.datetime:
        return self.t

    def day(self, n: int) -> None:
        self.t = T0 + dt.timedelta(days=n)


def split(threshold: int = 2, names: list[str] = NAMES, secret: bytes | None = None
          ) -> tuple[shares.ShareSet, list[shares.IssuedShare], bytes]:
    secret = secret or secrets.token_bytes(32)
    share_set, issued = shares.split(secret, threshold, names, purpose="test", created="x",
                                     iteration_exponent=0)
    return share_set, issued, secret


def one_line(e: BaseException) -> str:
    text = str(e)
    assert text and "\n" not in text
    return text


# ----- splitting and combining --------------------------------------------------------------------


def test_exactly_m_shares_combine_in_any_order_and_subset() -> None:
    _, issued, secret = split(3, ["a", "b", "c", "d", "e"])
    words = [s.mnemonic for s in issued]
    assert recovery.combine(words[:3]) == secret
    assert recovery.combine([words[4], words[1], words[2]]) == secret
    assert [s.index for s in issued] == [1, 2, 3, 4, 5]
    assert [s.custodian for s in issued] == ["a", "b", "c", "d", "e"]
    assert all(len(s.mnemonic.split()) == 33 for s in issued)


def test_m_minus_one_shares_are_refused_in_one_sentence() -> None:
    _, issued, _ = split(3, ["a", "b", "c", "d"])
    with pytest.raises(AuthenticationFailed) as e:
        recovery.combine([s.mnemonic for s in issued[:2]])
    assert "exactly 3" in one_line(e.value)
    with pytest.raises(AuthenticationFailed, match="exactly 3"):  # M + 1 is not M either
        recovery.combine([s.mnemonic for s in issued])
    with pytest.raises(AuthenticationFailed, match="twice"):
        recovery.combine([issued[0].mnemonic, issued[0].mnemonic.upper(), issued[1].mnemonic])
    with pytest.raises(AuthenticationFailed, match="no recovery shares"):
        recovery.combine([])


def test_a_share_of_another_set_is_refused() -> None:
    _, mine, _ = split()
    _, theirs, _ = split()
    with pytest.raises(AuthenticationFailed) as e:
        recovery.combine([mine[0].mnemonic, theirs[1].mnemonic])
    assert "share 2" in one_line(e.value) and "another share set" in str(e.value)


FIXED_WORDS = set(re.findall(r"[a-z]+", (Path(__file__).resolve().parents[1] / "app" / "ceremony"
                                           / "share_words.py").read_text().lower()))


def test_a_mangled_word_is_refused_in_one_sentence_that_quotes_no_word() -> None:
    _, issued, _ = split()
    words = issued[0].mnemonic.split()
    for bad in ([*words[:10], "notaword", *words[11:]],              # not a SLIP-39 word
                [*words[:10], next(w for w in sorted(WORDS) if w != words[10]), *words[11:]],
                [*words[:10], words[11], words[10], *words[12:]],   # two words swapped
                words[:-1]):                                        # one word missing
        with pytest.raises(InvalidShare) as e:
            parse_share(" ".join(bad))
        message = one_line(e.value)
        # The sentence's own words may happen to be SLIP-39 words too ("check", "copy"): what
        # must not appear is a word of this share beyond those of the fixed wording.
        quoted = set(re.findall(r"[a-z]+", message.lower())) - FIXED_WORDS
        assert not quoted & set(words), message
        with pytest.raises(AuthenticationFailed) as e2:
            recovery.combine([" ".join(bad), issued[1].mnemonic])
        assert one_line(e2.value).startswith("share 1: ")


def test_split_refuses_bad_sets() -> None:
    for threshold, names in ((1, NAMES), (4, NAMES), (2, ["alone"]), (2, ["a", "A "]),
                             (2, ["a", ""]), (2, ["a", "b\u202e"]), (2, [f"c{i}" for i in
                                                                       range(17)])):
        with pytest.raises(UsageError) as e:
            shares.split(b"k" * 32, threshold, names, purpose="t", created="x")
        one_line(e.value)
    with pytest.raises(UsageError):
        shares.split(b"short", 2, NAMES, purpose="t", created="x")


# ----- commitments --------------------------------------------------------------------------------


def test_commitments_check_a_share_without_combining(monkeypatch: pytest.MonkeyPatch) -> None:
    share_set, issued, _ = split()

    def no_combining(*_: object, **__: object) -> bytes:
        raise AssertionError("a check must not combine shares")

    monkeypatch.setattr(shamir_mnemonic, "combine_mnemonics", no_combining)
    for s in issued:
        messy = "  " + "\n".join(w.upper() if i % 2 else w for i, w in
                                enumerate(s.mnemonic.split())) + "\t"
        assert shares.match(share_set, messy).index == s.index
        assert canonical(messy) == s.mnemonic
    other_set, other, _ = split()
    with pytest.raises(shares.ShareMismatch) as e:
        shares.match(share_set, other[0].mnemonic)
    assert share_set.id in one_line(e.value)
    # The same share under another set id or index commits to something else.
    h = share_set.holders[0]
    assert shares.commitment(share_set.id, 1, h.salt, issued[0].mnemonic) == h.commitment
    assert shares.commitment(other_set.id, 1, h.salt, issued[0].mnemonic) != h.commitment
    assert shares.commitment(share_set.id, 2, h.salt, issued[0].mnemonic) != h.commitment


# ----- in a vault: drills, leaks, roles -----------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def made(tmp_path: Path, clock: FakeClock) -> tuple[Vault, recovery.RecoverySetup]:
    v = Vault.create(tmp_path / "v", normalize_passphrase(PASSPHRASE), kdf_time_ms=FAST_KDF_MS,
                     clock=clock, actor="alice")
    setup = recovery.create_recovery_slot(v, 2, NAMES, drill_days=30, iteration_exponent=0)
    yield v, setup
    v.lock()


def test_check_share_names_the_holder_and_refuses_others(made) -> None:
    v, setup = made
    set_id = setup.share_set.id
    assert [shares.check_share(v, set_id, s.mnemonic) for s in setup.shares] == [1, 2, 3]
    with pytest.raises(NotFound):
        shares.check_share(v, "nosuchset", setup.shares[0].mnemonic)
    _, foreign, _ = split()
    with pytest.raises(shares.ShareMismatch):
        shares.check_share(v, set_id, foreign[0].mnemonic)
    with pytest.raises(InvalidShare):
        shares.check_share(v, set_id, "academic acid")


def test_drills_record_last_drill_and_flag_overdue_on_a_fixed_clock(made, clock) -> None:
    v, setup = made
    set_id = setup.share_set.id
    assert shares.drills_due(v, T0 + dt.timedelta(days=29)) == []
    clock.day(10)
    held = shares.drill(v, set_id, "BOB", setup.shares[1].mnemonic)
    assert held.index == 2 and held.last_drill == "2027-01-14T09:00:00.000000Z"
    # alice and carol were due 30 days after the set was made; bob 30 days after his drill.
    due = shares.drills_due(v, T0 + dt.timedelta(days=35))
    assert [(d.custodian, d.last_drill, d.due, d.flags) for d in due] == [
        ("alice", None, "2027-02-03", ("overdue",)), ("carol", None, "2027-02-03", ("overdue",))]
    assert [d.custodian for d in shares.drills_due(v, T0 + dt.timedelta(days=41))] == NAMES
    statuses = shares.drill_statuses(shares.get_set(v, set_id), T0 + dt.timedelta(days=35))
    assert [s.overdue for s in statuses] == [True, False, True]
    assert statuses[1].to_json()["last_drill"] == held.last_drill

    # A wrong share is a failed drill, audited, and changes no date.
    clock.day(11)
    with pytest.raises(shares.ShareMismatch, match="holder 2"):
        shares.drill(v, set_id, "alice", setup.shares[1].mnemonic)
    with pytest.raises(InvalidShare):
        shares.drill(v, set_id, "carol", "not a share")
    with pytest.raises(NotFound):
        shares.drill(v, set_id, "mallory", setup.shares[0].mnemonic)
    events = v.audit_events(action="shares.drill")
    assert [(e.outcome, e.details["custodian"], e.details["index"]) for e in events] == [
        ("failed", "carol", 3), ("failed", "alice", 1), ("ok", "bob", 2)]
    assert [h.last_drill for h in shares.get_set(v, set_id).holders] == [
        None, held.last_drill, None]
    # The drill is the recovery slot's test: unlock-method list shows its date.
    slot = v.header.slot(setup.slot.id)
    assert slot is not None and slot.last_tested == held.last_drill

    # Once its keyslot is removed the set is retired: no drill is due any more.
    v.remove_slot(setup.slot.id, rekey=False)
    assert shares.is_retired(v, shares.get_set(v, set_id))
    assert shares.drills_due(v, T0 + dt.timedelta(days=400)) == []


def test_nothing_of_a_share_is_in_the_header_or_the_audit_log(made, clock) -> None:
    v, setup = made
    set_id = setup.share_set.id
    shares.drill(v, set_id, "alice", setup.shares[0].mnemonic)
    with pytest.raises(shares.ShareMismatch):
        shares.drill(v, set_id, "carol", setup.shares[1].mnemonic)
    v.lock()
    v.unlock(recovery.RecoveryUnlocker([setup.shares[2].mnemonic, setup.shares[0].mnemonic]))
    assert v.unlocked and v._unlocked_keys.slot_id == setup.slot.id

    header_text = v.header_path.read_text()
    events = v.audit_events()
    assert {"keyslot.add", "shares.create", "shares.drill", "vault.unlock"} <= {
        e.action for e in events}
    log_text = json.dumps([[e.action, e.target, e.details] for e in events])
    share_words = {w for s in setup.shares for w in s.mnemonic.split()}
    for name, text in (("header", header_text), ("audit log", log_text)):
        tokens = set(re.findall(r"[a-z]+", text.lower()))
        # Field names and Strongroom's own vocabulary that happen to be SLIP-39 words.
        leaked = (tokens & share_words) - {"memory", "kind", "salt", "index", "level", "critical",
                                           "public"}
        assert not leaked, f"{name} holds share words {sorted(leaked)}"
        for s in setup.shares:
            words = s.mnemonic.split()
            assert not any(" ".join(words[i:i + 2]) in text.lower() for i in range(len(words)))
            value = parse_share(s.mnemonic).value
            assert value.hex() not in text and value.hex().upper() not in text
    # The commitments are stored, never the shares; nothing in them is a share's words.
    stored = shares.get_set(v, set_id)
    assert all(len(h.commitment) == 32 and len(h.salt) == 16 for h in stored.holders)


def test_only_an_administrator_creates_a_recovery_slot(made) -> None:
    v, _ = made
    operator_admin.add_operator(v, "bob", b"bob pass phrase 1", roles=["Custodian"],
                                kdf_time_ms=FAST_KDF_MS)
    before = len(v.header.slots)
    v.lock()
    v.unlock(PassphraseUnlocker.from_text("bob pass phrase 1"), operator="bob")
    with pytest.raises(AccessDenied) as e:
        recovery.create_recovery_slot(v, 2, NAMES, iteration_exponent=0)
    assert "operators.manage" in one_line(e.value)
    assert len(v.header.slots) == before
    with pytest.raises(AccessDenied):
        shares.create_share_set(v, b"s" * 32, 2, NAMES, purpose="other")


def test_a_plain_share_set_is_kept_as_commitments_and_audited(made) -> None:
    v, _ = made
    share_set, issued = shares.create_share_set(v, b"s" * 32, 2, ["dan", "eve"],
                                                purpose="backup-key", iteration_exponent=0)
    assert shares.get_set(v, share_set.id) == share_set
    assert shares.check_share(v, share_set.id, issued[1].mnemonic) == 2
    [event] = v.audit_events(action="shares.create", target=share_set.id)
    assert event.details["custodians"] == ["dan", "eve"] and event.details["slot"] is None
    assert rows(issued[0].mnemonic)[0].startswith(" 1. ")


# ----- typed-in shares, fuzzed --------------------------------------------------------------------


_, FUZZ_SHARES, _ = split(2, ["x", "y"], secret=bytes(range(32)))
GOOD = FUZZ_SHARES[0].mnemonic
GOOD_WORDS = GOOD.split()


def parses_or_refuses(text: str) -> object:
    try:
        share = parse_share(text)
    except InvalidShare as e:
        one_line(e)
        return None
    assert share.mnemonic() == canonical(text)
    return share


@settings(max_examples=400, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400) | st.lists(st.sampled_from(sorted(WORDS)), max_size=60).map(
    " ".join))
def test_any_text_is_a_share_or_one_clear_error(text: str) -> None:
    parses_or_refuses(text)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(["lower", "upper", "title"]), min_size=33, max_size=33),
       st.lists(st.sampled_from([" ", "  ", "\t", "\n", "\u3000"]), min_size=34, max_size=34))
def test_case_and_spacing_do_not_matter(cases: list[str], gaps: list[str]) -> None:
    typed = gaps[0] + "".join(getattr(w, c)() + g for w, c, g in
                              zip(GOOD_WORDS, cases, gaps[1:], strict=True))
    assert canonical(typed) == GOOD


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.integers(0, 32), st.sampled_from(sorted(WORDS)),
       st.sampled_from(["replace", "insert", "delete", "swap"]))
def test_a_changed_word_never_passes_as_the_share(position: int, word: str, how: str) -> None:
    words = list(GOOD_WORDS)
    if how == "replace":
        words[position] = word
    elif how == "insert":
        words.insert(position, word)
    elif how == "delete":
        del words[position]
    else:
        other = (position + 1) % len(words)
        words[position], words[other] = words[other], words[position]
    changed = words != GOOD_WORDS
    share = parses_or_refuses(" ".join(words))
    if changed:
        assert share is None
    else:
        assert share is not None and share.mnemonic() == GOOD
