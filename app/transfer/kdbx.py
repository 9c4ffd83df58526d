"""Import from KeePass KDBX 3.1 and 4 (KeePassXC, KeePass 2, and Strongroom's own KDBX export).

Each entry becomes one secret of kind ``entry``: the title is the name, the group path (below
the root group) its prefix and a tag (common.py has the rules for names and tags); username,
password, URL, notes, custom string fields (protected ones stay protected), attachments, the
TOTP and, when the entry's "expires" box is ticked, the expiry date. Left out, each with a
warning: the Recycle Bin; the entries' history (only the current version of each entry comes
in: a history entry is a whole older copy, not an older value, and the vault's versions are
this import's, so they would not be what KeePass had); auto-type settings, icons and colours.

TOTP: KeePassXC's ``otp`` attribute (an otpauth URI), KeePass 2's ``TimeOtp-*`` fields and the
older ``TOTP Seed``/``TOTP Settings`` pair, read through app/totp.py; the fields it came from are
then dropped. Settings that are not a TOTP (Steam) stay protected fields.

An entry Strongroom exported (kdbx_export.py) carries fields named ``Strongroom …``: the kind
(a plain value or a TOTP secret comes back as that kind), the entry type, the note and the
rotation date are taken back. Its classification and owner are not: the import's classification
and the importing operator apply, as for any other file.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import entries, totp
from ..entries import Attachment, Entry
from ..errors import BadImportFile, UsageError
from .common import MIB, FieldBag, Record, Warnings, parsed_file, read_limited, totp_uri
from .kdbx_container import Opened, gunzip, open_kdbx
from .model import ParsedFile

FORMAT = "kdbx"
MAX_FILE_BYTES = 256 * MIB
MAX_KEY_FILE_BYTES = 16 * MIB
MAX_INFLATED_BYTES = 512 * MIB  # all of a KDBX 3 file's compressed attachments, inflated
STANDARD = {"Title", "UserName", "Password", "URL", "Notes"}
LEGACY_TOTP = ("TOTP Seed", "TOTP Settings")
TIME_OTP = "TimeOtp-"
# What kdbx_export.py writes beside an entry, for what a KDBX has no place for.
SR = "Strongroom "
SR_KIND, SR_TYPE, SR_NOTE, SR_ROTATION = (SR + "kind", SR + "entry type", SR + "note",
                                          SR + "rotation due")
SR_DROPPED = (SR + "classification", SR + "owner")
VALUE_ATTACHMENT = "value.bin"
_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC)
_HMAC = {"HMAC-SHA-1": "SHA1", "HMAC-SHA-256": "SHA256", "HMAC-SHA-512": "SHA512"}


def read_kdbx(path: Path, password: str | None, key_file: Path | None = None) -> ParsedFile:
    """A KDBX file read into import items; the password and key file as KeePass takes them."""
    data = read_limited(path, MAX_FILE_BYTES, "KDBX file")
    key = read_limited(key_file, MAX_KEY_FILE_BYTES, "key file") if key_file else None
    return parse_kdbx(data, password, key)


def parse_kdbx(data: bytes, password: str | None, key_file: bytes | None = None) -> ParsedFile:
    """The bytes of a KDBX file as import items, or one sentence saying why not."""
    return from_opened(open_kdbx(data, password, key_file), data)


def from_opened(opened: Opened, data: bytes) -> ParsedFile:
    """The entries of a decrypted KDBX (``data``: the file, for its hash) as import items."""
    warnings = Warnings()
    reader = _Reader(opened.version, opened.tree.getroot(), opened.binaries, warnings)
    records = [reader.record(e, groups, n) for n, (groups, e) in enumerate(reader.walk(), 1)]
    return parsed_file(FORMAT, data, records, warnings)


def _text(element: Any, path: str) -> str:
    found = element.find(path)
    return "" if found is None or found.text is None else str(found.text)


class _Reader:
    def __init__(self, version: tuple[int, int], root: Any, pool: tuple[bytes, ...],
                 warnings: Warnings) -> None:
        self.version, self.root, self.warnings = version, root, warnings
        self.recycle_bin = _text(root, "Meta/RecycleBinUUID")
        self.pool = dict(enumerate(pool))
        self._v3: dict[int, Any] = {}  # KDBX 3 keeps attachments in the XML, base64, maybe gzip
        if version[0] == 3:
            for n, b in enumerate(root.iterfind("Meta/Binaries/Binary")):
                ref = b.get("ID", str(n))
                if ref.isdigit():
                    self._v3[int(ref)] = b
        self._inflated = 0

    def _binary(self, ref: int) -> bytes | None:
        if ref not in self.pool and ref in self._v3:
            element = self._v3[ref]
            try:
                data = base64.b64decode(element.text or "", validate=True)
            except ValueError:  # binascii.Error, or a str that is not ASCII
                return None
            if element.get("Compressed") == "True":
                data = gunzip(data, MAX_INFLATED_BYTES, "attachments")
                self._inflated += len(data)
                if self._inflated > MAX_INFLATED_BYTES:
                    raise BadImportFile(f"the attachments in the KDBX file inflate to more than "
                                        f"{MAX_INFLATED_BYTES // MIB} MiB in all; nothing was "
                                        "imported")
            self.pool[ref] = data
        return self.pool.get(ref)

    def walk(self) -> Iterator[tuple[tuple[str, ...], Any]]:
        """(group path, entry element) for each entry outside the Recycle Bin, in file order."""
        top = self.root.find("Root/Group")
        if top is None:
            raise BadImportFile("the KDBX file holds no root group")
        yield from self._group(top, ())

    def _group(self, group: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
        for entry in group.iterfind("Entry"):
            yield path, entry
        for sub in group.iterfind("Group"):
            if self.recycle_bin and _text(sub, "UUID") == self.recycle_bin:
                left = sum(1 for _ in sub.iter("Entry")) - sum(
                    1 for h in sub.iter("History") for _ in h.iterfind("Entry"))
                if left:
                    self.warnings.add("entries in the Recycle Bin left out", count=left)
                continue
            yield from self._group(sub, (*path, _text(sub, "Name")))

    def record(self, element: Any, groups: tuple[str, ...], n: int) -> Record:
        source = f"entry {n} ({'/'.join(groups) or 'root'})"
        strings = {}
        protected = set()
        for s in element.iterfind("String"):
            key = _text(s, "Key")
            strings[key] = _text(s, "Value")
            if s.find("Value") is not None and s.find("Value").get("Protected") == "True":
                protected.add(key)
        history = element.find("History")
        if history is not None and len(history):
            self.warnings.add("entries with a history: only the current version of each is "
                              "imported", count=1)
        attachments = []
        for b in element.iterfind("Binary"):
            ref = b.find("Value")
            try:
                data = self._binary(int(ref.get("Ref", -1))) if ref is not None else None
            except ValueError:
                data = None
            if data is None:
                self.warnings.add("attachments missing from the file left out", source)
                continue
            attachments.append(Attachment(_text(b, "Key") or "attachment", data))
        bag = FieldBag()
        totp_text = self._totp(strings, protected, bag, source)
        sr = {k: strings.pop(k) for k in list(strings) if k.startswith(SR)}
        if any(sr.get(k) for k in SR_DROPPED):
            self.warnings.add("entries whose Strongroom classification and owner were not taken "
                              "over (the import's classification and operator apply)", source)
        for key, text in strings.items():
            if key not in STANDARD:
                bag.add(key, text, key in protected)
        entry_type = sr.get(SR_TYPE, "")
        entry = Entry(
            type=entry_type if entry_type in entries.ENTRY_TYPES else "login",
            password=strings.get("Password", ""), username=strings.get("UserName", ""),
            url=strings.get("URL", ""), notes=strings.get("Notes", ""),
            fields=tuple(bag.fields), attachments=tuple(attachments), totp=totp_text)
        kind, value = _kind_value(sr.get(SR_KIND, "entry"), entry)
        return Record(groups, strings.get("Title", ""), entry, source,
                      expires=self._expiry(element, source), tags=_tags(element),
                      note=sr.get(SR_NOTE, ""), rotation_due=_date(sr.get(SR_ROTATION, "")),
                      kind=kind, value=value)

    def _totp(self, strings: dict[str, str], protected: set[str], bag: FieldBag,
              source: str) -> str:
        """The entry's TOTP URI from whichever fields hold it; those fields are consumed."""
        keys = [k for k in strings if k == "otp" or k in LEGACY_TOTP or k.startswith(TIME_OTP)]
        if not keys:
            return ""
        found = {k: strings.pop(k) for k in keys}
        uri = ""
        try:
            if found.get("otp"):
                uri = totp_uri(found["otp"], bag, self.warnings, source, "otp")
            elif any(k.startswith(TIME_OTP + "Secret") for k in found):
                uri = _time_otp(found).uri()
            elif found.get("TOTP Seed"):
                uri = totp.from_keepass(found["TOTP Seed"], found.get("TOTP Settings", "")).uri()
        except UsageError as e:
            self.warnings.add(f"TOTP settings kept as protected fields ({e})", source)
            for key in keys:
                if key != "otp":
                    bag.add(key, found[key], True)
        return uri

    def _expiry(self, element: Any, source: str) -> dt.date | None:
        if _text(element, "Times/Expires") != "True":
            return None
        text = _text(element, "Times/ExpiryTime")
        try:  # KDBX 4: base64 of the seconds since 0001-01-01 (UTC); KDBX 3: ISO 8601
            raw = base64.b64decode(text, validate=True) if self.version[0] >= 4 else b""
        except ValueError:  # binascii.Error, or a str that is not ASCII
            raw = b""
        try:
            if len(raw) == 8:
                return (_EPOCH + dt.timedelta(seconds=int.from_bytes(raw, "little"))).date()
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date()
        except (ValueError, OverflowError):
            self.warnings.add("expiry dates that cannot be read left out", source)
            return None


def _kind_value(kind: str, entry: Entry) -> tuple[str, bytes | None]:
    """What a Strongroom-exported plain value or TOTP secret was; else an entry."""
    if kind == "totp" and entry.totp:
        return "totp", entry.totp.encode()
    if kind == "value":
        for a in entry.attachments:
            if a.name == VALUE_ATTACHMENT and not entry.password:
                return "value", a.data
        if entry.password:
            return "value", entry.password.encode()
    return "entry", None


def _time_otp(found: dict[str, str]) -> totp.TotpSpec:
    """KeePass 2.47+'s TimeOtp-* fields as a TOTP."""
    p = TIME_OTP
    if found.get(p + "Secret-Base32"):
        seed = found[p + "Secret-Base32"]
    else:
        try:
            if found.get(p + "Secret-Hex"):
                raw = bytes.fromhex(found[p + "Secret-Hex"])
            elif found.get(p + "Secret-Base64"):
                raw = base64.b64decode(found[p + "Secret-Base64"], validate=True)
            else:
                raw = found.get(p + "Secret", "").encode()
        except ValueError:  # binascii.Error included
            raise UsageError("the TimeOtp secret is not valid hex or base64") from None
        seed = base64.b32encode(raw).decode()
    algorithm = _HMAC.get(found.get(p + "Algorithm", "HMAC-SHA-1"), "")
    if not algorithm:
        raise UsageError(f"unknown TimeOtp algorithm {found.get(p + 'Algorithm')!r}")
    try:
        digits = int(found.get(p + "Length") or 6)
        period = int(found.get(p + "Period") or 30)
    except ValueError:
        raise UsageError("the TimeOtp length or period is not a whole number") from None
    return totp.make(seed, algorithm, digits, period)


def _tags(element: Any) -> tuple[str, ...]:
    text = _text(element, "Tags")
    return tuple(t.strip() for t in text.replace(",", ";").split(";") if t.strip())


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None
