"""Password and passphrase generator: ``secrets``-based, with the entropy of what it produced.

Character passwords are drawn uniformly from the strings of the chosen length over the chosen
alphabet that hold at least one character of every chosen class (rejection sampling), so the
entropy reported is exactly log2 of the number of such strings. Passphrases are words drawn
uniformly and independently from EFF's Long Wordlist (app/eff_wordlist.py, CC BY 3.0 US).
"""

from __future__ import annotations

import functools
import math
import re
import secrets
import string
from dataclasses import dataclass, field
from itertools import combinations

from .errors import UsageError

LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
DIGITS = string.digits
SYMBOLS = string.punctuation  # the 32 printable ASCII symbols; no space
LOOKALIKES = frozenset("0Oo1lI|`'\"")  # characters easily taken for one another

MIN_LENGTH = 4  # room for one character of each of the four classes
MAX_LENGTH = 1024
MIN_WORDS = 3
MAX_WORDS = 64
# EFF's four hyphenated words (drop-down, felt-tip, t-shirt, yo-yo) are left out: with "-" as the
# separator "felt-tip-drop-down" would read as two different word sequences.
WORD_PATTERN = re.compile(r"[a-z]{3,9}")


@dataclass(frozen=True)
class Generated:
    """A generated secret and how many bits of entropy the generator put into it."""

    value: str = field(repr=False)
    entropy_bits: float


@dataclass(frozen=True)
class CharacterPolicy:
    """Which character classes a password draws from; each chosen class appears at least once."""

    length: int = 24
    lower: bool = True
    upper: bool = True
    digits: bool = True
    symbols: bool = True
    exclude_lookalikes: bool = False

    def classes(self) -> tuple[str, ...]:
        """The chosen classes, each without the look-alikes if those are excluded."""
        chosen = [
            chars
            for chars, wanted in (
                (LOWER, self.lower), (UPPER, self.upper), (DIGITS, self.digits),
                (SYMBOLS, self.symbols),
            )
            if wanted
        ]
        if self.exclude_lookalikes:
            chosen = ["".join(c for c in chars if c not in LOOKALIKES) for chars in chosen]
        return tuple(chosen)

    def check(self) -> tuple[str, ...]:
        """The classes to draw from, or a UsageError that says why these settings cannot work."""
        classes = self.classes()
        if not classes:
            raise UsageError("choose at least one kind of character for the password")
        if not MIN_LENGTH <= self.length <= MAX_LENGTH:
            raise UsageError(
                f"a generated password must be {MIN_LENGTH} to {MAX_LENGTH} characters long"
            )
        return classes


def count_valid(sizes: tuple[int, ...], length: int) -> int:
    """Strings of ``length`` over the union of the classes that miss none (inclusion-exclusion)."""
    total = sum(sizes)
    count = 0
    for k in range(len(sizes) + 1):
        for missing in combinations(sizes, k):
            count += (-1) ** k * (total - sum(missing)) ** length
    return count


def password_entropy(policy: CharacterPolicy) -> float:
    """Bits of entropy of a password the policy generates (log2 of the number it can produce)."""
    classes = policy.check()
    return math.log2(count_valid(tuple(len(c) for c in classes), policy.length))


def generate_password(policy: CharacterPolicy | None = None) -> Generated:
    """A random password that holds at least one character of every class the policy chooses."""
    policy = policy or CharacterPolicy()
    classes = policy.check()
    alphabet = "".join(classes)
    class_sets = [frozenset(c) for c in classes]
    while True:  # rejection keeps the draw uniform; worst case (length = classes) accepts ~1 in 15
        value = "".join(secrets.choice(alphabet) for _ in range(policy.length))
        if all(not chars.isdisjoint(value) for chars in class_sets):
            return Generated(value, password_entropy(policy))


@functools.cache
def wordlist() -> tuple[str, ...]:
    """EFF's Long Wordlist without its four hyphenated words: 7,772 distinct a-z words."""
    from .eff_wordlist import WORDS  # loaded on first use only

    return tuple(w for w in WORDS if WORD_PATTERN.fullmatch(w))


def passphrase_entropy(words: int) -> float:
    """Bits of entropy of a passphrase of ``words`` words drawn from :func:`wordlist`."""
    return words * math.log2(len(wordlist()))


def generate_passphrase(words: int = 6, separator: str = "-") -> Generated:
    """``words`` random words joined by ``separator`` (which must hold no letters)."""
    if not MIN_WORDS <= words <= MAX_WORDS:
        raise UsageError(f"a passphrase must have {MIN_WORDS} to {MAX_WORDS} words")
    if not 1 <= len(separator) <= 3 or any(c.isalpha() for c in separator):
        raise UsageError("the word separator must be 1 to 3 characters and hold no letters")
    pool = wordlist()
    value = separator.join(secrets.choice(pool) for _ in range(words))
    return Generated(value, passphrase_entropy(words))


__all__ = [
    "CharacterPolicy",
    "Generated",
    "count_valid",
    "generate_passphrase",
    "generate_password",
    "passphrase_entropy",
    "password_entropy",
    "wordlist",
]
