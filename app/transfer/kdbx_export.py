"""Export to a KeePass KDBX 4 file (pykeepass), so that nobody is locked in.

The file is KDBX 4.0 with AES-256 and Argon2id (pykeepass's blank database uses Argon2d; the KDF
is switched here), at least 64 MiB and 3 passes (tuned to ``kdf_time_ms`` like a passphrase
keyslot). KeePassXC and KeePass 2 open it. Each secret becomes one entry:

* the name's prefix (before the last ``/``) is the group path, the rest the title;
* ``entry`` kind: username, password, URL, notes, custom fields (protected ones stay protected),
  attachments and the TOTP as KeePassXC's ``otp`` attribute (an otpauth URI);
* ``value`` kind: the value is the password, or if it is not text (not UTF-8, or characters XML
  cannot hold) the attachment ``value.bin`` with a note saying so;
* ``totp`` kind: the ``otp`` attribute;
* tags are KDBX tags, the expiry date the entry's expiry (23:59:59 UTC that day), and the
  metadata a KDBX has no place for goes into custom fields named ``Strongroom …``
  (classification, kind, owner, note, rotation due, entry type), which travel with the entry
  (``import kdbx`` takes back the kind, entry type, note and rotation date; kdbx.py).

A custom field whose name a KDBX reserves (Title, UserName, Password, URL, Notes, otp or one of
the ``Strongroom …`` names) is written as ``NAME (field)``, and a repeated attachment name as
``NAME (2)``; each is a warning in the result.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pykeepass import PyKeePass  # type: ignore[import-untyped]
from pykeepass.entry import Entry as KdbxEntry  # type: ignore[import-untyped]
from pykeepass.kdbx_parsing.kdbx4 import kdf_uuids  # type: ignore[import-untyped]
from pykeepass.pykeepass import BLANK_DATABASE_LOCATION, BLANK_DATABASE_PASSWORD  # type: ignore[import-untyped]

from .. import entries
from ..access.approvals import Approval
from ..crypto import Argon2Params, calibrate_argon2
from ..errors import UsageError
from ..passphrase_strength import require_strong
from ..vault.session import VaultSession
from .exporting import ExportedSecret, ExportPlan, ExportResult, run

FORMAT = "kdbx"
FIELD_CLASSIFICATION = "Strongroom classification"
FIELD_KIND = "Strongroom kind"
FIELD_OWNER = "Strongroom owner"
FIELD_NOTE = "Strongroom note"
FIELD_ROTATION = "Strongroom rotation due"
FIELD_ENTRY_TYPE = "Strongroom entry type"
VALUE_ATTACHMENT = "value.bin"
BINARY_NOTE = f"The value is binary, not text: it is the attachment {VALUE_ATTACHMENT}."
RESERVED = {"Title", "UserName", "Password", "URL", "Notes", "otp", FIELD_CLASSIFICATION,
            FIELD_KIND, FIELD_OWNER, FIELD_NOTE, FIELD_ROTATION, FIELD_ENTRY_TYPE}
DATABASE_NAME = "Strongroom export"
# What XML 1.0 cannot carry (KDBX is XML inside): C0 controls but tab/LF/CR, and U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def kdf_for(kdf_time_ms: int) -> Argon2Params:
    """Argon2id costs for the file: about ``kdf_time_ms`` here, never under the vault's floor."""
    return calibrate_argon2(kdf_time_ms)


def export_kdbx(vault: VaultSession, export: ExportPlan, path: Path, password: str, *,
                approval: Approval | None = None, force: bool = False,
                kdf_time_ms: int = 1000) -> ExportResult:
    """Write the planned secrets to a new KDBX 4 file at ``path`` (see the module docstring)."""
    require_strong(password)
    params = kdf_for(kdf_time_ms)
    return run(vault, export, path, lambda secrets: encode(secrets, password, params),
               approval=approval, force=force)


def encode(secrets: Sequence[ExportedSecret], password: str, params: Argon2Params
           ) -> tuple[bytes, tuple[str, ...]]:
    """The KDBX 4 file's bytes holding ``secrets``, and warnings (one sentence each)."""
    kp = PyKeePass(BLANK_DATABASE_LOCATION, BLANK_DATABASE_PASSWORD)
    kp.password = password
    kdf = kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
    kdf["$UUID"].value = kdf_uuids["argon2id"]
    kdf["I"].value = params.iterations
    kdf["M"].value = params.memory_kib * 1024
    kdf["P"].value = params.lanes
    kp.database_name = DATABASE_NAME
    kp.root_group.uuid = uuid.uuid4()  # not the blank database's, shared by every pykeepass file
    warnings: list[str] = []
    groups: dict[tuple[str, ...], Any] = {(): kp.root_group}
    for secret in secrets:
        prefix, _, title = secret.info.name.rpartition("/")
        path = tuple(p for p in prefix.split("/") if p)
        _add_entry(kp, _group(kp, groups, path), title or secret.info.name, secret, warnings)
    buffer = io.BytesIO()
    kp.save(buffer)
    return buffer.getvalue(), tuple(warnings)


def _group(kp: PyKeePass, groups: dict[tuple[str, ...], Any], path: tuple[str, ...]) -> Any:
    if path not in groups:
        group = kp.add_group(_group(kp, groups, path[:-1]), path[-1])
        group.uuid = uuid.uuid4()  # pykeepass's uuid1 would carry this host's MAC address
        groups[path] = group
    return groups[path]


class _Writer:
    """One entry being filled: every string checked for XML, names kept distinct."""

    def __init__(self, kp: PyKeePass, entry: KdbxEntry, name: str, warnings: list[str]) -> None:
        self.kp, self.entry, self.name, self.warnings = kp, entry, name, warnings
        self.attachments: set[str] = set()

    def text(self, what: str, value: str) -> str:
        if _NOT_XML.search(value):
            raise UsageError(f"the {what} of {self.name!r} holds control characters a KDBX file "
                             "cannot carry; export it to a Strongroom archive instead")
        return value

    def field(self, key: str, value: str, protect: bool = False) -> None:
        self.entry.set_custom_property(key, self.text(f"field {key!r}", value), protect=protect)

    def custom(self, key: str, value: str, protect: bool) -> None:
        name = self.text("field name", key)
        if name in RESERVED or name in self.entry.custom_properties:
            name = f"{key} (field)"
            while name in RESERVED or name in self.entry.custom_properties:
                name += "'"
            self.warnings.append(f"the field {key!r} of {self.name!r} is written as {name!r} "
                                 "(KDBX reserves that name)")
        self.field(name, value, protect)

    def attach(self, filename: str, data: bytes) -> None:
        base = self.text("attachment name", filename) or "attachment"
        name, n = base, 1
        while name in self.attachments:
            n += 1
            name = f"{base} ({n})"
        if n > 1:
            self.warnings.append(f"a second attachment {filename!r} of {self.name!r} is "
                                 f"written as {name!r}")
        self.attachments.add(name)
        self.entry.add_attachment(self.kp.add_binary(data, protected=True), name)


def _add_entry(kp: PyKeePass, group: Any, title: str, secret: ExportedSecret,
               warnings: list[str]) -> None:
    info = secret.info
    expiry = None
    if info.expires:
        expiry = dt.datetime.combine(dt.date.fromisoformat(info.expires), dt.time(23, 59, 59),
                                     tzinfo=dt.UTC)
    entry = KdbxEntry(title=title, expires=expiry is not None, expiry_time=expiry, kp=kp)
    entry.uuid = uuid.uuid4()
    w = _Writer(kp, entry, info.name, warnings)
    w.text("name", title)
    if info.kind == "entry":
        _fill_entry(w, entries.decode(secret.value))
    elif info.kind == "totp":
        entry.otp = w.text("TOTP", secret.value.decode("utf-8"))
    else:
        text = _as_text(secret.value)
        if text is None:
            w.attach(VALUE_ATTACHMENT, secret.value)
            entry.notes = BINARY_NOTE
        else:
            entry.password = text
    w.field(FIELD_KIND, info.kind)
    w.field(FIELD_CLASSIFICATION, info.classification.value)
    for key, value in ((FIELD_OWNER, info.owner), (FIELD_NOTE, info.note),
                       (FIELD_ROTATION, info.rotation_due or "")):
        if value:
            w.field(key, value)
    if info.tags:
        if any(";" in t for t in info.tags):
            warnings.append(f"a tag of {info.name!r} holds ';', which KDBX uses between tags: "
                            "written as '_'")
        entry.tags = [w.text("tag", t.replace(";", "_")) for t in info.tags]
    group.append(entry)


def _fill_entry(w: _Writer, item: entries.Entry) -> None:
    e = w.entry
    e.username = w.text("username", item.username)
    e.password = w.text("password", item.password)
    if item.url:
        e.url = w.text("URL", item.url)
    if item.notes:
        e.notes = w.text("notes", item.notes)
    if item.totp:
        e.otp = w.text("TOTP", item.totp)
    if item.type != "login":
        w.field(FIELD_ENTRY_TYPE, item.type)
    for f in item.fields:
        w.custom(f.name, f.value, f.protected)
    for a in item.attachments:
        w.attach(a.name, a.data)


def _as_text(value: bytes) -> str | None:
    """The value as text if a KDBX password can hold it exactly; None for binary."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if _NOT_XML.search(text) else text
