"""Import from a Bitwarden unencrypted JSON export (``{"encrypted": false, "items": […]}``).

Each item becomes one secret of kind ``entry``; its folder (``Work/Servers`` for nested ones)
is the name prefix and a tag, and an organisation export's collections are tags. By item type:

=========  ==============================================================================
login      username, password, the first URI as the URL (more URIs: fields ``uri 2``…), TOTP
note       a secure note: the notes
card       entry type ``card``: fields ``cardholder``, ``brand``, ``number`` (protected),
           ``expiry`` (MM/YYYY), ``code`` (protected); the card's expiry is the secret's
identity   entry type ``identity``: the username, and fields ``title``, ``first name``,
           ``middle name``, ``last name``, ``address 1``-``3``, ``city``, ``state``,
           ``postal code``, ``country``, ``company``, ``email``, ``phone``, and protected
           ``ssn``, ``passport number``, ``license number``
SSH key    entry type ``note``: fields ``private key`` (protected), ``public key``,
           ``fingerprint``
=========  ==============================================================================

Custom fields: text (0) and boolean (2) as fields, hidden (1) as protected fields; linked
fields (3) only point at another field and are left out. Left out with a warning too: password
history, passkeys (they cannot be carried), items in the trash.

An encrypted export (account-restricted or password-protected) is refused: Strongroom does not
take a Bitwarden password or key. Export again choosing the ``.json`` format, not ``.json
(Encrypted)``, import it, then delete that file.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from pathlib import Path
from typing import Any

from ..entries import Entry
from ..errors import BadImportFile
from .common import (
    MIB,
    FieldBag,
    Record,
    Warnings,
    decode_text,
    parsed_file,
    read_limited,
    totp_uri,
)
from .model import ParsedFile

FORMAT = "bitwarden"
MAX_FILE_BYTES = 64 * MIB
TYPES = {1: "login", 2: "note", 3: "card", 4: "identity", 5: "note"}
ENCRYPTED = ("this is an encrypted Bitwarden export, which Strongroom cannot open: export the "
             "vault again choosing the .json format (not .json (Encrypted)), import that file, "
             "then delete it")
CARD = (("cardholderName", "cardholder", False), ("brand", "brand", False),
        ("number", "number", True))
IDENTITY = (("title", "title"), ("firstName", "first name"), ("middleName", "middle name"),
            ("lastName", "last name"), ("address1", "address 1"), ("address2", "address 2"),
            ("address3", "address 3"), ("city", "city"), ("state", "state"),
            ("postalCode", "postal code"), ("country", "country"), ("company", "company"),
            ("email", "email"), ("phone", "phone"))
IDENTITY_PROTECTED = (("ssn", "ssn"), ("passportNumber", "passport number"),
                      ("licenseNumber", "license number"))
SSH_KEY = (("privateKey", "private key", True), ("publicKey", "public key", False),
           ("keyFingerprint", "fingerprint", False))


def read_bitwarden(path: Path) -> ParsedFile:
    """A Bitwarden JSON export read into import items."""
    return parse_bitwarden(read_limited(path, MAX_FILE_BYTES, "Bitwarden export"))


def parse_bitwarden(data: bytes) -> ParsedFile:
    """The bytes of a Bitwarden JSON export as import items, or one sentence saying why not."""
    text = decode_text(data, "Bitwarden export")
    try:
        doc = json.loads(text)
    except RecursionError:
        raise BadImportFile("the Bitwarden export is nested too deeply to be one") from None
    except ValueError as e:
        where = f" (line {e.lineno}: {e.msg})" if isinstance(e, json.JSONDecodeError) else ""
        raise BadImportFile(f"the Bitwarden export is not valid JSON{where}") from None
    if not isinstance(doc, dict):
        raise BadImportFile("this JSON is not a Bitwarden export (no items list at the top)")
    if doc.get("encrypted") is True or doc.get("passwordProtected") is True:
        raise BadImportFile(ENCRYPTED)
    items = doc.get("items")
    if not isinstance(items, list):
        raise BadImportFile("this JSON is not a Bitwarden export (no items list at the top)")
    folders = _names(doc.get("folders"), "folders")
    collections = _names(doc.get("collections"), "collections")
    warnings = Warnings()
    records = []
    for n, item in enumerate(items, 1):
        record = _Item(item, n).record(folders, collections, warnings)
        if record is not None:
            records.append(record)
    return parsed_file(FORMAT, data, records, warnings)


def _names(value: Any, what: str) -> dict[str, str]:
    """id -> name of the export's folders or collections."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise BadImportFile(f"the Bitwarden export's {what} are not a list")
    out = {}
    for n, obj in enumerate(value, 1):
        if not isinstance(obj, dict):
            raise BadImportFile(f"entry {n} of the Bitwarden export's {what} is not an object")
        if isinstance(obj.get("id"), str) and isinstance(obj.get("name"), str):
            out[obj["id"]] = obj["name"]
    return out


class _Item:
    """One item of the export, read with every value's type checked."""

    def __init__(self, obj: Any, n: int) -> None:
        if not isinstance(obj, dict):
            raise BadImportFile(f"item {n} of the Bitwarden export is not an object")
        self.obj, self.n = obj, n

    def part(self, key: str) -> dict[str, Any]:
        value = self.obj.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise BadImportFile(f"item {self.n} of the Bitwarden export: {key!r} is not an object")
        return value

    def text(self, key: str, within: dict[str, Any] | None = None) -> str:
        value = (self.obj if within is None else within).get(key)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadImportFile(f"item {self.n} of the Bitwarden export: {key!r} is not text")
        return str(value)

    def list(self, key: str, within: dict[str, Any] | None = None) -> list[Any]:
        value = (self.obj if within is None else within).get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise BadImportFile(f"item {self.n} of the Bitwarden export: {key!r} is not a list")
        return value

    def record(self, folders: dict[str, str], collections: dict[str, str],
               warnings: Warnings) -> Record | None:
        title = self.text("name")
        source = f"item {self.n}"
        kind = self.obj.get("type")
        if not isinstance(kind, int) or isinstance(kind, bool) or kind not in TYPES:
            warnings.add("items of a type Strongroom does not know left out", source)
            return None
        if self.obj.get("deletedDate"):
            warnings.add("items in the Bitwarden trash left out", source)
            return None
        if self.list("passwordHistory"):
            warnings.add("password histories left out (only current passwords come in)", source)
        folder = folders.get(self.text("folderId"), "")
        groups = tuple(p for p in folder.split("/") if p.strip())
        tags = tuple(collections[c] for c in self.list("collectionIds")
                     if isinstance(c, str) and c in collections)
        bag = FieldBag()
        parts: dict[str, Any] = {"type": TYPES[kind], "notes": self.text("notes")}
        expires = None
        if kind == 1:
            parts |= self._login(bag, warnings, source)
        elif kind == 3:
            expires = self._card(bag)
        elif kind == 4:
            parts["username"] = self._identity(bag)
        elif kind == 5:
            ssh = self.part("sshKey")
            for key, name, protected in SSH_KEY:
                bag.add(name, self.text(key, ssh), protected)
        self._custom(bag, warnings, source)
        entry = Entry(fields=tuple(bag.fields), **parts)
        return Record(groups, title, entry, source, expires=expires, tags=tags)

    def _login(self, bag: FieldBag, warnings: Warnings, source: str) -> dict[str, str]:
        login = self.part("login")
        uris = []
        for uri in self.list("uris", login):
            if not isinstance(uri, dict):
                raise BadImportFile(f"item {self.n} of the Bitwarden export: a URI is not an "
                                    "object")
            if self.text("uri", uri):
                uris.append(self.text("uri", uri))
        for n, extra in enumerate(uris[1:], 2):
            bag.add(f"uri {n}", extra)
        if self.list("fido2Credentials", login):
            warnings.add("passkeys left out (a passkey cannot be moved)", source)
        return {"username": self.text("username", login),
                "password": self.text("password", login), "url": uris[0] if uris else "",
                "totp": totp_uri(self.text("totp", login), bag, warnings, source,
                                 issuer=self.text("name"), account=self.text("username", login))}

    def _card(self, bag: FieldBag) -> dt.date | None:
        """The card's fields; its expiry (the month's last day) is the secret's."""
        card = self.part("card")
        for key, name, protected in CARD:
            bag.add(name, self.text(key, card), protected)
        month, year = self.text("expMonth", card), self.text("expYear", card)
        if month or year:
            bag.add("expiry", f"{month.zfill(2)}/{year}" if month else year)
        bag.add("code", self.text("code", card), True)
        try:
            y, m = int(year), int(month)
            y += 2000 if y < 100 else 0
            return dt.date(y, m, calendar.monthrange(y, m)[1])
        except (ValueError, OverflowError):
            return None

    def _identity(self, bag: FieldBag) -> str:
        identity = self.part("identity")
        for key, name in IDENTITY:
            bag.add(name, self.text(key, identity))
        for key, name in IDENTITY_PROTECTED:
            bag.add(name, self.text(key, identity), True)
        return self.text("username", identity)

    def _custom(self, bag: FieldBag, warnings: Warnings, source: str) -> None:
        for f in self.list("fields"):
            if not isinstance(f, dict):
                raise BadImportFile(f"item {self.n} of the Bitwarden export: a custom field is "
                                    "not an object")
            kind = f.get("type", 0)
            if kind == 3:
                warnings.add("linked custom fields left out (they only point at another field)",
                             source)
                continue
            bag.add(self.text("name", f), self.text("value", f), protected=kind == 1)
