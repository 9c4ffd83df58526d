"""TOTP seeds (RFC 6238): parsing otpauth:// URIs and bare base32 seeds, and the current code.

A TOTP secret's stored value is its canonical otpauth URI. Codes come from ``pyotp``; this module
only reads and checks the parameters, so a bad seed is one clear sentence before anything is stored.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from .errors import UsageError

if TYPE_CHECKING:
    import pyotp

ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
DIGITS = (6, 7, 8)
MAX_PERIOD = 3600
MAX_SEED_CHARS = 1024
_PARAMETERS = {"secret", "issuer", "algorithm", "digits", "period"}


@dataclass(frozen=True)
class TotpSpec:
    """One TOTP generator: the base32 seed and its parameters."""

    secret: str = field(repr=False)
    algorithm: str = "SHA1"
    digits: int = 6
    period: int = 30
    issuer: str = ""
    account: str = ""

    def uri(self) -> str:
        label = quote(self.account or "strongroom", safe="")
        if self.issuer:
            label = quote(self.issuer, safe="") + ":" + label
        query: dict[str, Any] = {"secret": self.secret}
        if self.issuer:
            query["issuer"] = self.issuer
        query |= {"algorithm": self.algorithm, "digits": self.digits, "period": self.period}
        return f"otpauth://totp/{label}?{urlencode(query, quote_via=quote)}"

    def code(self, at: dt.datetime | float | None = None) -> str:
        """The code valid at ``at`` (a datetime or a Unix time; default now)."""
        moment = time.time() if at is None else at
        if isinstance(moment, dt.datetime):
            moment = moment.timestamp()
        return _generator(self).at(int(moment))

    def remaining(self, at: float | None = None) -> int:
        """Seconds until the code changes."""
        now = int(time.time() if at is None else at)
        return self.period - now % self.period

    def public(self) -> dict[str, Any]:
        """The parameters without the seed, for listings and audit details."""
        return {"algorithm": self.algorithm, "digits": self.digits, "period": self.period,
                "issuer": self.issuer, "account": self.account}


@functools.cache
def _totp_class() -> type[pyotp.TOTP]:
    """pyotp's TOTP taking 80-bit seeds, made on first use: most commands never make a code,
    and importing pyotp costs every one of them."""
    import pyotp

    class Totp(pyotp.TOTP):
        # pyotp asks for 112 bits (NIST SP 800-63B-4); many services still issue 80-bit seeds,
        # which RFC 4226 allows, and a custodian must keep the seeds that exist.
        # normalise_seed refuses less.
        min_secret_length_bits = 80

    return Totp


def _generator(spec: TotpSpec) -> pyotp.TOTP:
    return _totp_class()(spec.secret, digits=spec.digits, digest=ALGORITHMS[spec.algorithm],
                         interval=spec.period)


def normalise_seed(text: str) -> str:
    """A base32 seed as RFC 4648 upper case without padding or spaces; refused if not base32."""
    seed = "".join(text.split()).replace("-", "").upper().rstrip("=")
    if not seed or len(seed) > MAX_SEED_CHARS:
        raise UsageError(f"a TOTP seed must be 1 to {MAX_SEED_CHARS} base32 characters")
    try:
        raw = base64.b32decode(seed + "=" * (-len(seed) % 8))
    except (binascii.Error, ValueError):
        raise UsageError("the TOTP seed is not base32 (letters A-Z and digits 2-7)") from None
    if len(raw) < 10:
        raise UsageError("the TOTP seed is shorter than 80 bits; RFC 4226 asks for at least 128")
    return seed


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"the TOTP {what} {value!r} is not a whole number") from None


def parse(text: str, *, issuer: str = "", account: str = "") -> TotpSpec:
    """A TOTP from an ``otpauth://totp/…`` URI or a bare base32 seed (SHA-1, 6 digits, 30 s)."""
    text = text.strip()
    if not text.lower().startswith("otpauth:"):
        return make(text, issuer=issuer, account=account)
    parts = urlsplit(text)
    if parts.netloc.lower() != "totp":
        raise UsageError(f"only otpauth://totp URIs are TOTP seeds, not {parts.netloc or '?'!r}")
    label = parts.path.lstrip("/")
    label_issuer, _, label_account = label.partition(":") if ":" in label else ("", "", label)
    values: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        key = key.lower()
        if key in _PARAMETERS and key in values:
            raise UsageError(f"the otpauth URI gives {key!r} twice")
        values[key] = value
    if "secret" not in values:
        raise UsageError("the otpauth URI has no secret parameter")
    return make(values["secret"], values.get("algorithm", "SHA1"),
                _int(values.get("digits", "6"), "digit count"),
                _int(values.get("period", "30"), "period"),
                issuer=values.get("issuer") or unquote(label_issuer) or issuer,
                account=unquote(label_account) or account)


def make(seed: str, algorithm: str = "SHA1", digits: int = 6, period: int = 30, *,
         issuer: str = "", account: str = "") -> TotpSpec:
    """A checked TOTP: base32 seed, SHA1/SHA256/SHA512, 6 to 8 digits, a period in seconds."""
    algorithm = algorithm.upper().replace("-", "")
    if algorithm not in ALGORITHMS:
        raise UsageError(f"unknown TOTP algorithm {algorithm!r}; use SHA1, SHA256 or SHA512")
    if digits not in DIGITS:
        raise UsageError("a TOTP code has 6, 7 or 8 digits")
    if not 1 <= period <= MAX_PERIOD:
        raise UsageError(f"a TOTP period is 1 to {MAX_PERIOD} seconds")
    return TotpSpec(normalise_seed(seed), algorithm, digits, period, issuer, account)


def from_keepass(seed: str, settings: str) -> TotpSpec:
    """KeePassXC's legacy fields: ``TOTP Seed`` and ``TOTP Settings`` ("30;6" or "30;8")."""
    period_text, _, digits_text = settings.partition(";")
    if digits_text.strip().upper() == "S":
        raise UsageError("Steam Guard codes (TOTP Settings '…;S') are not TOTP; not imported")
    return make(seed, digits=_int(digits_text or "6", "digit count"),
                period=_int(period_text or "30", "period"))
