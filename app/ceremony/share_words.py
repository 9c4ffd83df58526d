"""SLIP-39 share mnemonics as people type them: parsed defensively into one canonical form.

A share comes from outside (a custodian's paper, typed at a prompt or piped in), so any text is
either one valid single-group share or one :class:`InvalidShare` sentence. No message ever quotes
a word of what was typed: a mistyped word is still most of a share.
"""

from __future__ import annotations

import unicodedata

import shamir_mnemonic

from ..errors import UsageError

WORD_INDEX_MAP: dict[str, int] = shamir_mnemonic.wordlist.WORD_INDEX_MAP

MIN_WORDS = 20  # a 128-bit share; a 256-bit one (what Strongroom makes) has 33
MAX_WORDS = 59  # a 512-bit share, the most SLIP-39 holds
MAX_CHARS = 2000  # far above 59 words of at most 8 letters and their spacing

# Rows of words when a share is shown to its custodian.
WORDS_PER_ROW = 4


class InvalidShare(UsageError):
    """Text that is not a share Strongroom can use: the message says what is wrong, never which
    words were typed."""


def parse_share(text: str) -> shamir_mnemonic.Share:
    """The one SLIP-39 share in ``text`` (words in any case, any whitespace between them)."""
    if not isinstance(text, str):
        raise InvalidShare("a share is text: its words separated by spaces")
    if len(text) > MAX_CHARS:
        raise InvalidShare(f"a share is at most {MAX_WORDS} words; this text is far longer")
    words = unicodedata.normalize("NFKC", text).casefold().split()
    if not words:
        raise InvalidShare("the share is empty")
    for number, word in enumerate(words, 1):
        if word not in WORD_INDEX_MAP:
            raise InvalidShare(f"word {number} of the share is not a SLIP-39 word; check its "
                               "spelling against the custodian's copy")
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        raise InvalidShare(f"a share has {MIN_WORDS} to {MAX_WORDS} words (Strongroom's have "
                           f"33); this one has {len(words)}")
    try:
        share = shamir_mnemonic.Share.from_mnemonic(" ".join(words))
    except (shamir_mnemonic.MnemonicError, ValueError, OverflowError):
        raise InvalidShare("the share's checksum does not match: a word is wrong, missing or "
                           "out of order") from None
    if share.group_count != 1 or share.group_threshold != 1 or share.group_index != 0:
        raise InvalidShare("this share is from a multi-group SLIP-39 backup; Strongroom's "
                           "shares are single-group")
    return share


def canonical(text: str) -> str:
    """``text`` as one share's words in lower case, single-spaced (what commitments cover)."""
    return str(parse_share(text).mnemonic())


def rows(mnemonic: str, per_row: int = WORDS_PER_ROW) -> list[str]:
    """A share's words numbered in rows, for a custodian to copy by hand."""
    words = mnemonic.split()
    width = max(len(w) for w in words)
    out = []
    for start in range(0, len(words), per_row):
        out.append("  ".join(f"{n:>2}. {w:<{width}}" for n, w in
                             enumerate(words[start:start + per_row], start + 1)).rstrip())
    return out
