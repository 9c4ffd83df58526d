"""Passphrase quality: refuse the ones a guesser finds quickly, and say why (zxcvbn)."""

from __future__ import annotations

from zxcvbn import zxcvbn

from .errors import Refused

MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable: moderate protection from offline attacks"
MIN_LENGTH = 10


def weakness(passphrase: str) -> str | None:
    """One sentence on why ``passphrase`` is too weak, or None if it is acceptable."""
    if len(passphrase) < MIN_LENGTH:
        return f"the passphrase is shorter than {MIN_LENGTH} characters"
    result = zxcvbn(passphrase[:100])  # zxcvbn is quadratic; the first 100 characters decide
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result.get("feedback") or {}
    reason = feedback.get("warning") or "it would be guessed quickly"
    suggestions = " ".join(feedback.get("suggestions") or [])
    text = f"the passphrase is too weak: {reason.rstrip('.')}"
    return f"{text}. {suggestions}".strip() if suggestions else text


def require_strong(passphrase: str) -> None:
    reason = weakness(passphrase)
    if reason is not None:
        raise Refused(reason)
