"""The step kinds of a ceremony script and their parameters, as data: each parameter has a check
(None when the value is good, else why not) and whether it is required."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .script_lines import plain_name

KEY_USAGES = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
              "key_agreement", "key_cert_sign", "crl_sign")

Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class ParamError:
    key: str  # the parameter (for its line); "" for a missing one
    message: str


def text(limit: int = 4096) -> Check:
    def check(value: Any) -> str | None:
        ok = isinstance(value, str) and value.strip() and len(value) <= limit
        return None if ok else f"must be text of 1 to {limit} characters"
    return check


def name(value: Any) -> str | None:
    return None if isinstance(value, str) and plain_name(value) else (
        "must be a plain name (letters, digits, '.', '-', '_'; no '/' or '..')")


def whole(low: int, high: int) -> Check:
    def check(value: Any) -> str | None:
        return None if type(value) is int and low <= value <= high else (
            f"must be a whole number from {low} to {high}")
    return check


def flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def names_list(value: Any) -> str | None:
    ok = (isinstance(value, list) and 0 < len(value) <= 16
          and all(isinstance(v, str) and v for v in value))
    return None if ok else "must be a list of names"


def serials(value: Any) -> str | None:
    ok = (isinstance(value, list) and len(value) <= 10_000
          and all(isinstance(v, str) and 0 < len(v) <= 64 for v in value))
    return None if ok else "must be a list of serial numbers in hex"


R, OPT = True, False  # required, optional
STEP_KINDS: Mapping[str, Mapping[str, tuple[Check, bool]]] = {
    "instruction": {"text": (text(), R)},
    "generate-key": {"label": (name, R), "type": (name, R)},
    "export-public-key": {"key": (name, R), "output": (name, R)},
    "create-csr": {"key": (name, R), "subject": (text(1024), R), "output": (name, R)},
    "self-signed-root": {"key": (name, R), "subject": (text(1024), R),
                         "days": (whole(1, 36500), R), "path_length": (whole(0, 10), OPT),
                         "key_usage": (names_list, OPT), "web_pki": (flag, OPT),
                         "output": (name, R)},
    "issue-certificate": {"key": (name, R), "issuer": (name, R), "csr": (name, R),
                          "days": (whole(1, 36500), R), "ca": (flag, OPT),
                          "path_length": (whole(0, 10), OPT), "key_usage": (names_list, OPT),
                          "web_pki": (flag, OPT), "output": (name, R)},
    "cross-certificate": {"key": (name, R), "issuer": (name, R), "certificate": (name, R),
                          "days": (whole(1, 36500), R), "path_length": (whole(0, 10), OPT),
                          "key_usage": (names_list, OPT), "web_pki": (flag, OPT),
                          "output": (name, R)},
    "crl-signer-certificate": {"key": (name, R), "issuer": (name, R), "csr": (name, R),
                               "days": (whole(1, 36500), R), "output": (name, R)},
    "issue-crl": {"key": (name, R), "issuer": (name, R), "revoked": (serials, OPT),
                  "number": (whole(0, 2**31), R), "days": (whole(1, 3650), R),
                  "output": (name, R)},
    "sign-file": {"key": (name, R), "input": (name, R), "output": (name, R)},
    "show-fingerprint": {"key": (name, OPT), "file": (name, OPT)},
    "create-shares": {"secret": (name, R), "threshold": (whole(2, 16), R),
                      "custodians": (name, R)},
    "verify-shares": {"set": (name, R)},
    "quorum-approval": {"text": (text(), R)},
}
