"""Dump and load evidence bundles: one ``evidence.json`` per directory, format in model.py.

``--dump-evidence DIR`` writes what a machine collected so it can become a test fixture or be
re-judged elsewhere (``--evidence DIR``). Before writing, :func:`redact` replaces:

- user names: the current user's (``$USER``, ``$LOGNAME``, ``$SUDO_USER``, the login name) as a
  whole word anywhere, and the values of ``user``/``login``/``owner``/``Requested-By`` fields
  (``User=alice``, apt's ``Requested-By: alice (1000)``) → ``<user>`` (root, nobody and guest
  are kept: they are not people, and guest is what a check looks for);
- home directories: ``/home/<name>``, ``/Users/<name>``, ``/var/home/<name>``, ``/root``-less
  ``C:\\Users\\<name>`` → the same path with ``<user>``;
- serial numbers and hardware ids: values after ``Serial Number``/``SerialNumber``/``serial``/
  ``Hardware UUID``/``Provisioning UDID`` labels (text, ``key: value``, ``key=value`` and JSON),
  and every UUID (8-4-4-4-12 hex, case kept, as ``00000000-0000-0000-0000-000000000000``) and
  32-hex-digit id (LUKS dm uuids) → zeros of the same shape;
- the host name → ``<host>`` (the bundle's ``host`` and anywhere in the text).

Kinds, exit codes, error words and the shape of every output are kept, so a redacted bundle still
judges the same way. Loading checks the format and every item; a directory or file that does
not exist is a usage error (exit 2), a file that is not a valid bundle an integrity error (3).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import re
import socket
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, UsageError
from .model import (
    EVIDENCE_FORMAT,
    OS,
    CommandEvidence,
    Evidence,
    EvidenceBundle,
    FileEvidence,
    RegistryEvidence,
    evidence_from_json,
    evidence_to_json,
)

EVIDENCE_FILE = "evidence.json"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 32  # a bundle nests 4 deep (bundle, items, item, argv); this leaves room
USER_MARK = "<user>"
HOST_MARK = "<host>"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


class EvidenceInvalid(IntegrityError):
    """An evidence file is not a bundle Strongroom can judge (bad JSON, format or item)."""


# ----- JSON ------------------------------------------------------------------------------------


def bundle_to_json(bundle: EvidenceBundle) -> dict[str, Any]:
    return {
        "format": EVIDENCE_FORMAT,
        "os": bundle.os.value,
        "collected": bundle.collected,
        "host": bundle.host,
        "items": {k: evidence_to_json(v) for k, v in sorted(bundle.items.items())},
    }


def bundle_from_json(obj: Any, where: str = "evidence") -> EvidenceBundle:
    """Parse a bundle; every problem is an EvidenceInvalid naming ``where``."""
    if not isinstance(obj, dict):
        raise EvidenceInvalid(f"{where} is not a JSON object")
    fmt = obj.get("format")
    if fmt != EVIDENCE_FORMAT or isinstance(fmt, bool):
        raise EvidenceInvalid(f"{where} has evidence format {_shown(fmt)}; this Strongroom "
                              f"reads format {EVIDENCE_FORMAT}")
    try:
        os_ = OS(obj.get("os"))
    except (ValueError, TypeError):
        raise EvidenceInvalid(f"{where}: unknown os {_shown(obj.get('os'))} "
                              f"(one of {', '.join(o.value for o in OS)})") from None
    items_raw = obj.get("items")
    if not isinstance(items_raw, dict):
        raise EvidenceInvalid(f"{where}: 'items' must be an object of evidence id -> item")
    items: dict[str, Evidence] = {}
    for key, raw in items_raw.items():
        if not isinstance(raw, dict):
            raise EvidenceInvalid(f"{where}: item {_shown(key)} is not an object")
        try:
            items[str(key)] = evidence_from_json(raw)
        except ValueError as e:
            raise EvidenceInvalid(f"{where}: item {_shown(key)}: {e}") from None
    collected = obj.get("collected", "")
    host = obj.get("host", "")
    if not isinstance(collected, str) or not isinstance(host, str):
        raise EvidenceInvalid(f"{where}: 'collected' and 'host' must be text")
    if collected and collected_time(collected) is None:
        raise EvidenceInvalid(f"{where}: 'collected' is not an ISO 8601 time with a UTC offset "
                              f"({_shown(collected)})")
    return EvidenceBundle(os=os_, collected=collected, items=items, host=host)


def _shown(value: Any) -> str:
    """A value from the file in an error message: short, one line, never a nested structure."""
    if value is None or isinstance(value, bool | int | float | str):
        text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge number"
        return text if len(text) <= 60 else text[:59] + "…"
    return f"a JSON {'object' if isinstance(value, dict) else 'array'}"


def collected_time(text: str) -> dt.datetime | None:
    """A bundle's ``collected`` stamp ("2026-11-23T10:00:00Z") as an aware UTC datetime; None
    when it is empty, not ISO 8601, or has no UTC offset."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return None if moment.tzinfo is None else moment.astimezone(dt.UTC)


# ----- files -----------------------------------------------------------------------------------


def evidence_path(location: str | Path) -> Path:
    """DIR/evidence.json for a directory; a path to a .json file is taken as it is."""
    path = Path(location).expanduser()
    if path.suffix == ".json" and not path.is_dir():
        return path
    return path / EVIDENCE_FILE


def load_bundle(location: str | Path) -> EvidenceBundle:
    path = evidence_path(location)
    if not path.parent.is_dir():
        raise UsageError(f"evidence directory {path.parent} does not exist")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BUNDLE_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"no {path.name} in {path.parent}") from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > MAX_BUNDLE_BYTES:
        raise EvidenceInvalid(f"{path} is larger than {MAX_BUNDLE_BYTES // (1024 * 1024)} MiB")
    return bundle_from_bytes(data, str(path))


def bundle_from_bytes(data: bytes, where: str = "evidence") -> EvidenceBundle:
    """Parse the bytes of an evidence file; every problem is one EvidenceInvalid sentence."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EvidenceInvalid(
            f"{where} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})"
        ) from None
    too_deep = EvidenceInvalid(f"{where} nests arrays or objects more than {MAX_DEPTH} levels "
                               "deep; an evidence file needs 4")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise EvidenceInvalid(f"{where} is not valid JSON ({e.msg} at line {e.lineno}, "
                              f"column {e.colno})") from None
    except RecursionError:  # the parser ran out of stack: far deeper than MAX_DEPTH
        raise too_deep from None
    except ValueError as e:
        why = ("a number has more than 4,300 digits" if "integer string conversion" in str(e)
               else shorten_error(e))
        raise EvidenceInvalid(f"{where} is not JSON Strongroom can read ({why})") from None
    if nesting_depth(obj) > MAX_DEPTH:
        raise too_deep
    return bundle_from_json(obj, where)


def nesting_depth(value: Any) -> int:
    """How deeply lists and dicts nest in a parsed JSON value (without recursing)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1)
                         for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def shorten_error(error: Exception) -> str:
    """An exception's message as one short phrase."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 100 else text[:99] + "…"


def dump_bundle(bundle: EvidenceBundle, location: str | Path, *, redacted: bool = True) -> Path:
    """Write the bundle (redacted unless told otherwise) to DIR/evidence.json, atomically."""
    path = evidence_path(location)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create {path.parent}: {e.strerror or e}") from None
    if redacted:
        bundle = redact(bundle)
    text = json.dumps(bundle_to_json(bundle), indent=1, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".evidence-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None
    return path


# ----- redaction -------------------------------------------------------------------------------

_HOME = re.compile(
    r"(?P<pre>/(?:var/)?home/|/Users/|[A-Za-z]:\\\\?Users\\\\?)(?P<name>[^/\\\s\"':]+)"
)
_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_HEX32 = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{32}(?![0-9a-fA-F])")
_SERIAL = re.compile(
    r"(?P<key>\b(?:serial[ _-]?number|serialnumber|serial|hardware uuid|provisioning udid)"
    r"\"?\s*[:=]\s*\"?)(?P<value>[^\s\",}]+)",
    re.IGNORECASE,
)
_USER_FIELD = re.compile(
    r"(?P<key>\b(?:user|login|owner|requested-by)\"?\s*[:=]\s*\"?)(?P<value>[A-Za-z0-9._-]+)",
    re.IGNORECASE,
)
_KEEP_USERS = {"root", "nobody", "guest", "0"}


def local_names() -> tuple[list[str], str]:
    """The user names and host name of this machine that a dump must not carry."""
    names = {os.environ.get(k, "") for k in ("USER", "LOGNAME", "SUDO_USER", "USERNAME")}
    with contextlib.suppress(Exception):
        names.add(getpass.getuser())
    users = sorted(n for n in names if len(n) >= 2 and n not in _KEEP_USERS)
    return users, socket.gethostname()


def redact_text(text: str, users: Iterable[str] = (), host: str = "") -> str:
    if not text:
        return text
    text = _HOME.sub(lambda m: m.group("pre") + USER_MARK, text)
    text = _SERIAL.sub(lambda m: m.group("key") + "<serial>", text)
    text = _USER_FIELD.sub(
        lambda m: m.group(0) if m.group("value") in _KEEP_USERS else m.group("key") + USER_MARK,
        text,
    )
    text = _UUID.sub(ZERO_UUID, text)
    text = _HEX32.sub("0" * 32, text)
    for name in users:
        text = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", USER_MARK, text)
    if host and len(host) >= 2 and host not in ("localhost",):
        text = re.sub(rf"(?<![\w.-]){re.escape(host)}(?![\w-])", HOST_MARK, text)
    return text


def redact_item(item: Evidence, users: Iterable[str] = (), host: str = "") -> Evidence:
    users = list(users)

    def r(text: str) -> str:
        return redact_text(text, users, host)

    if isinstance(item, CommandEvidence):
        return replace(item, argv=tuple(r(a) for a in item.argv), stdout=r(item.stdout),
                       stderr=r(item.stderr))
    if isinstance(item, FileEvidence):
        return replace(item, path=r(item.path),
                       content=None if item.content is None else r(item.content))
    if isinstance(item, RegistryEvidence):
        value = r(item.value) if isinstance(item.value, str) else item.value
        return replace(item, key=r(item.key), value=value)
    return item  # pragma: no cover - the three kinds above are all there are


def redact(bundle: EvidenceBundle, users: Iterable[str] | None = None,
           host: str | None = None) -> EvidenceBundle:
    """The bundle with user names, home paths, serials, UUIDs and the host name replaced."""
    if users is None or host is None:
        local_users, local_host = local_names()
        users = local_users if users is None else users
        host = local_host if host is None else host
    names = [n for n in users if n]
    hosts = {h for h in (host, bundle.host) if h}
    items = {}
    for key, item in bundle.items.items():
        for h in hosts or {""}:
            item = redact_item(item, names, h)
        items[key] = item
    return replace(bundle, items=items, host=HOST_MARK if bundle.host else "")
