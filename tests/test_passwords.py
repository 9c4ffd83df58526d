"""The password generator: lengths, classes, allowed characters, entropy figures, word mode."""

from __future__ import annotations

import math
import re
import string
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.app.errors import UsageError
from strongroom.app.secret_generator import (
    DIGITS,
    LOOKALIKES,
    LOWER,
    MAX_LENGTH,
    SYMBOLS,
    UPPER,
    CharacterPolicy,
    count_valid,
    generate_passphrase,
    generate_password,
    passphrase_entropy,
    password_entropy,
    wordlist,
)

CLASSES = {"lower": LOWER, "upper": UPPER, "digits": DIGITS, "symbols": SYMBOLS}


@st.composite
def policies(draw: st.DrawFn) -> CharacterPolicy:
    chosen = draw(st.sets(st.sampled_from(sorted(CLASSES)), min_size=1))
    length = draw(st.integers(min_value=max(4, len(chosen)), max_value=80))
    return CharacterPolicy(
        length=length, exclude_lookalikes=draw(st.booleans()),
        **{name: name in chosen for name in CLASSES},
    )


@settings(max_examples=200, deadline=None)
@given(policies())
def test_password_has_the_length_every_class_and_only_allowed_characters(
    policy: CharacterPolicy,
) -> None:
    value = generate_password(policy).value
    assert len(value) == policy.length
    allowed = set("".join(policy.classes()))
    assert set(value) <= allowed
    for name, chars in CLASSES.items():
        present = any(c in chars for c in value)
        assert present == getattr(policy, name), name
    if policy.exclude_lookalikes:
        assert not set(value) & LOOKALIKES


def test_default_password_is_strong_and_reports_its_entropy() -> None:
    generated = generate_password()
    assert len(generated.value) == 24
    # 24 characters of 94 minus the strings missing a class: a little under 24 * log2(94).
    assert 155 < generated.entropy_bits < 24 * math.log2(94)
    assert generated.value not in repr(generated)


def test_entropy_counts_exactly_the_strings_that_hold_every_class() -> None:
    # Brute force over a tiny alphabet: 'ab' and '12', length 3.
    alphabet = "ab12"
    valid = [
        s for s in ("".join(p) for p in product(alphabet, repeat=3))
        if set(s) & set("ab") and set(s) & set("12")
    ]
    assert count_valid((2, 2), 3) == len(valid) == 48
    only_lower = CharacterPolicy(length=10, upper=False, digits=False, symbols=False)
    assert password_entropy(only_lower) == pytest.approx(10 * math.log2(26))


def test_excluding_lookalikes_lowers_the_entropy() -> None:
    plain = password_entropy(CharacterPolicy(length=20))
    strict = password_entropy(CharacterPolicy(length=20, exclude_lookalikes=True))
    assert strict < plain


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (CharacterPolicy(lower=False, upper=False, digits=False, symbols=False),
         "at least one kind"),
        (CharacterPolicy(length=3), "4 to"),
        (CharacterPolicy(length=MAX_LENGTH + 1), "4 to"),
        (CharacterPolicy(length=4, symbols=True), None),  # four classes fit in four characters
    ],
)
def test_impossible_settings_are_refused_with_a_clear_sentence(
    policy: CharacterPolicy, message: str | None
) -> None:
    if message is None:
        assert len(generate_password(policy).value) == 4
        return
    with pytest.raises(UsageError, match=message):
        generate_password(policy)


def test_the_word_list_is_plain_words_without_duplicates() -> None:
    words = wordlist()
    assert len(words) == 7776 - 4  # EFF's Long Wordlist less drop-down, felt-tip, t-shirt, yo-yo
    assert len(set(words)) == len(words)
    assert all(re.fullmatch(r"[a-z]{3,9}", w) for w in words)
    assert {"abacus", "zoom", "jigsaw"} <= set(words)
    assert not {"t-shirt", "yo-yo"} & set(words)


def test_the_shipped_eff_list_is_the_published_one() -> None:
    """7,776 distinct words (6^5 dice rolls) in the published, alphabetical order, and the
    licence it is used under travels with it."""
    from strongroom.app import eff_wordlist

    assert len(eff_wordlist.WORDS) == 6**5 == len(set(eff_wordlist.WORDS))
    assert list(eff_wordlist.WORDS) == sorted(eff_wordlist.WORDS)
    assert eff_wordlist.WORDS[:3] == ("abacus", "abdomen", "abdominal")
    assert eff_wordlist.WORDS[-2:] == ("zoology", "zoom")
    assert "CC BY 3.0 US" in (eff_wordlist.__doc__ or "")


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=3, max_value=12), st.sampled_from(["-", " ", ".", "_", "42"]))
def test_passphrase_uses_the_list_and_reports_its_entropy(words: int, sep: str) -> None:
    generated = generate_passphrase(words, sep)
    parts = generated.value.split(sep)
    assert len(parts) == words
    pool = set(wordlist())
    assert all(p in pool for p in parts)
    assert generated.entropy_bits == pytest.approx(words * math.log2(len(wordlist())))
    assert generated.entropy_bits == passphrase_entropy(words)


@pytest.mark.parametrize(("words", "sep"), [(2, "-"), (65, "-"), (6, ""), (6, "x"), (6, "----")])
def test_passphrase_refuses_impossible_settings(words: int, sep: str) -> None:
    with pytest.raises(UsageError):
        generate_passphrase(words, sep)


def test_generated_values_differ() -> None:
    assert len({generate_password().value for _ in range(50)}) == 50
    assert len({generate_passphrase().value for _ in range(50)}) == 50
    assert set(SYMBOLS) <= set(string.printable) and " " not in SYMBOLS
