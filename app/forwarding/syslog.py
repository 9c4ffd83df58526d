"""RFC 5424 syslog messages for audit events, framed by octet counting (RFC 6587 section 3.4.1).

One message per event::

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [strongroom@32473 seq="…" outcome="…"] MSG

PRI is ``facility * 8 + severity``: the facility is chosen (default 13, "log audit"), the severity
follows the outcome (:data:`SEVERITY_BY_OUTCOME`). TIMESTAMP is the event's own time. MSGID is
the action when it is 1-32 printable US-ASCII characters, else ``-``. The structured data repeats
seq, action and outcome for receivers that filter without parsing JSON; its values are escaped as
RFC 5424 section 6.3.3 says (``"`` ``\\`` ``]``), and control characters in them become U+FFFD, so
a relay that escapes controls cannot change them. 32473 is the private enterprise number RFC 5612
reserves for documentation: the SD-ID is a label, not a registration.

MSG is the event as one compact JSON object in US-ASCII (``\\uXXXX`` escapes), so no relay can
alter it by re-encoding or escaping control characters; it carries the chain hash and the
previous hash (docs/audit-forwarding.md says how a receiver verifies the chain). The frame is
``LEN SP MESSAGE``, LEN the message's length in octets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

SD_ID = "strongroom@32473"
WIRE_VERSION = 1


class Severity(Enum):
    """RFC 5424 severities (the ones used here)."""

    Warning = 4
    Notice = 5
    Informational = 6


# The outcome of an event decides its severity (a refusal by policy ranks above a failure);
# an outcome not listed is a Notice.
SEVERITY_BY_OUTCOME: Mapping[str, Severity] = {
    "ok": Severity.Informational,
    "failed": Severity.Notice,
    "denied": Severity.Warning,
}
FACILITY_AUDIT = 13  # "log audit" in RFC 5424's table; 10 (authpriv) and 16-23 (local0-7) also fit
FACILITIES = range(24)
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})"
)


@dataclass(frozen=True)
class WireEvent:
    """One audit event as forwarded: the stored fields, the previous hash and its own hash."""

    vault: str
    seq: int
    ts: str
    actor: str
    action: str
    target: str
    outcome: str
    details: dict[str, Any]
    prev: bytes
    hash: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "v": WIRE_VERSION, "vault": self.vault, "seq": self.seq, "ts": self.ts,
            "actor": self.actor, "action": self.action, "target": self.target,
            "outcome": self.outcome, "details": self.details,
            "prev": self.prev.hex(), "hash": self.hash.hex(),
        }


@dataclass(frozen=True)
class Header:
    """The parts of the RFC 5424 header that are the same for every message of a run."""

    hostname: str = "-"
    app_name: str = "strongroom"
    procid: str = "-"
    facility: int = FACILITY_AUDIT

    def __post_init__(self) -> None:
        for field, text, limit in (("hostname", self.hostname, 255),
                                   ("app name", self.app_name, 48), ("procid", self.procid, 128)):
            if not is_header_token(text, limit):
                raise ValueError(f"the {field} must be 1 to {limit} printable US-ASCII "
                                 "characters without spaces")
        if self.facility not in FACILITIES:
            raise ValueError("the facility must be a number from 0 to 23")


def is_header_token(text: str, limit: int) -> bool:
    """An RFC 5424 header field: 1..``limit`` characters from ``!`` to ``~`` (PRINTUSASCII)."""
    return 0 < len(text) <= limit and all("!" <= c <= "~" for c in text)


def pri(facility: int, outcome: str) -> int:
    return facility * 8 + SEVERITY_BY_OUTCOME.get(outcome, Severity.Notice).value


def timestamp(ts: str) -> str:
    """The event's time if it is a TIMESTAMP RFC 5424 accepts (at most 6 fraction digits, ``Z``
    or an offset), else ``-`` (the time is in MSG in any case)."""
    return ts if _TIMESTAMP.fullmatch(ts) else "-"


def sd_value(text: str) -> str:
    """A PARAM-VALUE: ``"``, ``\\`` and ``]`` escaped; C0, DEL and C1 controls made U+FFFD."""
    out = []
    for c in text:
        if c in '"\\]':
            out.append("\\" + c)
        elif c < " " or "\x7f" <= c <= "\x9f":
            out.append("\ufffd")
        else:
            out.append(c)
    return "".join(out)


def payload(event: WireEvent) -> bytes:
    """MSG: the event as compact US-ASCII JSON, keys in a fixed order."""
    return json.dumps(event.to_json(), ensure_ascii=True, separators=(",", ":")).encode("ascii")


def message(event: WireEvent, header: Header) -> bytes:
    """The whole RFC 5424 message for ``event`` (UTF-8; no trailing newline)."""
    msgid = event.action if is_header_token(event.action, 32) else "-"
    sd = (f'[{SD_ID} seq="{event.seq}" action="{sd_value(event.action)}" '
          f'outcome="{sd_value(event.outcome)}"]')
    head = (f"<{pri(header.facility, event.outcome)}>1 {timestamp(event.ts)} {header.hostname} "
            f"{header.app_name} {header.procid} {msgid} {sd} ")
    return head.encode("utf-8") + payload(event)


def frame(msg: bytes) -> bytes:
    """Octet-counting framing: the length in octets, a space, the message."""
    return b"%d %s" % (len(msg), msg)


__all__ = [
    "FACILITY_AUDIT",
    "SD_ID",
    "SEVERITY_BY_OUTCOME",
    "Header",
    "Severity",
    "WireEvent",
    "frame",
    "message",
    "payload",
    "pri",
    "sd_value",
]
