"""A secret's value as KV v2 data, its facts as custom metadata, and both read back checked.

Data (what ``bao kv get`` shows): ``value`` for a value or TOTP secret that is UTF-8 text,
``value_base64`` for other bytes, ``entry`` for an entry (its Strongroom entry document, JSON
text). Custom metadata (strings, never the value): ``strongroom-name``, ``strongroom-level``,
``strongroom-kind``, ``strongroom-tags`` (comma-separated), ``strongroom-version`` (the local
version published) and ``strongroom-vault`` (the publishing vault's id).

What comes back from a server is outside input: :func:`from_kv` accepts exactly one of those
keys holding a string, within the value size limit, and the kind's own checks (a TOTP URI, an
entry document); anything else is :class:`RemoteDataInvalid`, one sentence, nothing written.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import StrongroomError
from ..model import Classification, SecretInfo
from ..vault.secret_fields import MAX_VALUE_BYTES, check_kind_value, check_name, check_tags

VALUE, VALUE_B64, ENTRY = "value", "value_base64", "entry"
DATA_KEYS = (VALUE, VALUE_B64, ENTRY)
META_NAME, META_LEVEL, META_KIND = "strongroom-name", "strongroom-level", "strongroom-kind"
META_VERSION, META_VAULT = "strongroom-version", "strongroom-vault"
META_TAGS = "strongroom-tags"
MAX_META_VALUE = 512  # bytes, KV v2's limit on a custom metadata value
KINDS = ("value", "totp", "entry")


class RemoteDataInvalid(StrongroomError):
    """What a server holds at a path is not a value Strongroom can take; nothing was written."""


def to_kv(kind: str, value: bytes) -> dict[str, str]:
    """The KV data for a secret of ``kind`` with ``value``."""
    if kind == "entry":
        return {ENTRY: value.decode("utf-8")}
    try:
        return {VALUE: value.decode("utf-8")}
    except UnicodeDecodeError:
        return {VALUE_B64: base64.b64encode(value).decode("ascii")}


def from_kv(data: Any, kind: str, where: str) -> bytes:
    """The value KV ``data`` holds for a secret of ``kind``; RemoteDataInvalid otherwise."""
    if not isinstance(data, Mapping):
        raise RemoteDataInvalid(f"{where} holds no KV data object")
    keys = [k for k in data if k in DATA_KEYS]
    if any(k not in DATA_KEYS for k in data):  # their names are not shown: they are data too
        raise RemoteDataInvalid(f"{where} holds keys other than {', '.join(DATA_KEYS)}")
    if len(keys) != 1:
        raise RemoteDataInvalid(f"{where} must hold exactly one of: {', '.join(DATA_KEYS)}")
    key = keys[0]
    text = data[key]
    if not isinstance(text, str):
        raise RemoteDataInvalid(f"{where}: {key} is not a string")
    if len(text) > 2 * MAX_VALUE_BYTES:
        raise RemoteDataInvalid(f"{where}: {key} is larger than a secret may be")
    if (key == ENTRY) != (kind == "entry"):
        raise RemoteDataInvalid(f"{where} holds {key!r} but the secret is of kind {kind}")
    try:
        if key == VALUE_B64:
            value = base64.b64decode(text.encode("ascii"), validate=True)
        else:
            value = text.encode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        raise RemoteDataInvalid(f"{where}: {key} is not valid "
                                f"{'base64' if key == VALUE_B64 else 'text'}") from None
    try:
        return check_kind_value(kind, value)
    except StrongroomError as e:
        raise RemoteDataInvalid(f"{where} cannot be stored: {e}") from None


def metadata(vault_id: str, info: SecretInfo) -> dict[str, str]:
    """The custom metadata published with a secret (facts, never the value)."""
    meta = {META_NAME: info.name, META_LEVEL: info.classification.value, META_KIND: info.kind,
            META_VERSION: str(info.version), META_VAULT: vault_id}
    tags = ",".join(info.tags)
    if 0 < len(tags.encode()) <= MAX_META_VALUE:  # the server refuses empty or longer values
        meta[META_TAGS] = tags
    return meta


@dataclass(frozen=True)
class RemoteFacts:
    """What a path's custom metadata says, each fact None when absent or not valid."""

    name: str | None = None
    level: Classification | None = None
    kind: str | None = None
    version: int | None = None
    tags: tuple[str, ...] = ()


def parse_metadata(custom: Any) -> RemoteFacts:
    """The facts in a path's custom metadata; never raises (outside input)."""
    if not isinstance(custom, Mapping):
        return RemoteFacts()

    def text(key: str) -> str | None:
        value = custom.get(key)
        return value if isinstance(value, str) else None

    name = text(META_NAME)
    try:
        name = check_name(name) if name is not None else None
    except StrongroomError:
        name = None
    level = next((c for c in Classification if c.value == text(META_LEVEL)), None)
    kind = text(META_KIND) if text(META_KIND) in KINDS else None
    raw = text(META_VERSION)
    version = int(raw) if raw is not None and raw.isascii() and raw.isdigit() and len(raw) < 10 \
        else None
    try:
        tags = check_tags(t for t in (text(META_TAGS) or "").split(",") if t.strip())
    except StrongroomError:
        tags = ()
    return RemoteFacts(name, level, kind, version, tags)
