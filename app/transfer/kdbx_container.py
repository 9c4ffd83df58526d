"""Opening a KeePass KDBX 3.1 or 4 container for import, hardened for files from outside.

The container is read with pykeepass's own structures (header, key derivation, ciphers, block
checks, protected-value streams), with four things changed for a file nobody here wrote:

* the key derivation settings are checked before any work: Argon2 over 1 GiB of memory, or
  iterations x memory over 32 GiB, or AES-KDF over 500 million rounds, would keep the machine
  busy for minutes (no KeePass client picks that unless asked to) and are refused;
* AES-KDF runs at C speed (the N rounds are one AES-CBC pass over zero blocks) instead of
  pykeepass's Python loop, which takes about a minute for a KeePassXC default of one second;
* the payload's gzip is inflated to at most 256 MiB (a compressed payload can hide gigabytes);
* the inner XML is parsed with entities left unresolved, no network and no DTD loading, and a
  document that declares a DTD at all is refused: KeePass never writes one, and a DTD is how an
  entity expansion ("billion laughs") or external entity attack starts.

Only reading: nothing here writes a KDBX (kdbx_export.py does, with pykeepass itself).
"""

from __future__ import annotations

import hashlib
import io
import logging
import zlib
from dataclasses import dataclass
from typing import Any

from construct import (  # type: ignore[import-untyped]
    Adapter,
    Bytes,
    Checksum,
    ChecksumError,
    Computed,
    ConstructError,
    GreedyBytes,
    IfThenElse,
    Struct,
    Switch,
    this,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from lxml import etree  # type: ignore[import-untyped]
from pykeepass.kdbx_parsing import common, kdbx, kdbx3, kdbx4  # type: ignore[import-untyped]

from ..errors import BadImportFile, WrongFilePassword

MIB = 1024 * 1024
MAX_XML_BYTES = 256 * MIB
MAX_ARGON2_MEMORY = 1024 * MIB
MAX_ARGON2_WORK = 32 * 1024 * MIB  # iterations x memory in bytes
MAX_ARGON2_LANES = 64
MAX_AES_ROUNDS = 500_000_000
_AES_CHUNK_BLOCKS = 1 << 20  # 16 MiB of zero blocks per AES-CBC call

SIGNATURE = b"\x03\xd9\xa2\x9a\x67\xfb\x4b\xb5"
KDB1_SIGNATURE = b"\x03\xd9\xa2\x9a\x65\xfb\x4b\xb5"

# pykeepass logs (at ERROR) a protected value it cannot decrypt and carries on; the CLI's
# contract is one line on stderr, so those go unprinted (the value stays as it was in the file).
logging.getLogger("pykeepass.kdbx_parsing.common").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Opened:
    """A decrypted KDBX: its version, the inner XML tree and the attachment pool (KDBX 4)."""

    version: tuple[int, int]
    tree: Any  # lxml ElementTree
    binaries: tuple[bytes, ...]  # KDBX 4's inner-header pool; KDBX 3 keeps them in the XML


def gunzip(data: bytes, limit: int, what: str) -> bytes:
    """Inflate gzip ``data`` to at most ``limit`` bytes, else a sentence naming ``what``."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise BadImportFile(f"the {what} in the KDBX file is damaged (it does not inflate)"
                            ) from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BadImportFile(f"the {what} in the KDBX file inflates to more than "
                            f"{limit // MIB} MiB (a decompression bomb?); nothing was imported")
    return out


class _BoundedGunzip(Adapter):  # type: ignore[misc]
    def _decode(self, data: bytes, con: Any, path: Any) -> bytes:
        return gunzip(data, MAX_XML_BYTES, "database")

    def _encode(self, obj: Any, con: Any, path: Any) -> Any:  # pragma: no cover - read only
        raise NotImplementedError("the import container is read only")


class _SafeXML(Adapter):  # type: ignore[misc]
    def _decode(self, data: bytes, con: Any, path: Any) -> Any:
        if b"<!DOCTYPE" in data[: data.find(b"<KeePassFile")] or b"<!ENTITY" in data:
            raise BadImportFile("the KDBX file's XML declares a DTD or entities, which KeePass "
                                "never writes (an entity expansion attack?); refused")
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=False)
        try:
            tree = etree.parse(io.BytesIO(data), parser)
        except etree.XMLSyntaxError as e:
            raise BadImportFile(f"the XML inside the KDBX file is not well formed ({e})") from None
        if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
            raise BadImportFile("the KDBX file's XML declares a DTD, which KeePass never writes; "
                                "refused")
        return tree

    def _encode(self, obj: Any, con: Any, path: Any) -> Any:  # pragma: no cover - read only
        raise NotImplementedError("the import container is read only")


# pykeepass 4.2's Body structures, nested exactly as there (their lambdas climb the contexts),
# with the payload's gunzip and XML parser swapped for the ones above.
_PAYLOAD4 = common.Reparsed(Struct(
    "inner_header" / kdbx4.InnerHeader,
    "xml" / common.Unprotect(this.inner_header.protected_stream_id.data,
                             this.inner_header.protected_stream_key.data,
                             _SafeXML(GreedyBytes)),
))
_BODY4 = Struct(
    "transformed_key" / Computed(kdbx4.compute_transformed),
    "master_key" / Computed(common.compute_master),
    "sha256" / Checksum(Bytes(32), lambda data: hashlib.sha256(data).digest(),
                        this._.header.data),
    "cred_check" / Checksum(Bytes(32), kdbx4.compute_header_hmac_hash, this),
    "payload" / _PAYLOAD4(IfThenElse(
        this._.header.value.dynamic_header.compression_flags.data.compression,
        _BoundedGunzip(kdbx4.DecryptedPayload), kdbx4.DecryptedPayload)),
)
_BLOCKS3 = common.Concatenated(kdbx3.PayloadBlocks)
_PAYLOAD3 = common.Reparsed(Struct(
    "cred_check" / Checksum(Bytes(32),
                            lambda ctx: ctx._._.header.value.dynamic_header.stream_start_bytes.data,
                            this),
    "xml" / common.Unprotect(
        this._._.header.value.dynamic_header.protected_stream_id.data,
        this._._.header.value.dynamic_header.protected_stream_key.data,
        _SafeXML(IfThenElse(this._._.header.value.dynamic_header.compression_flags.data.compression,
                            _BoundedGunzip(_BLOCKS3), _BLOCKS3))),
))
_BODY3 = Struct(
    "transformed_key" / Computed(kdbx3.compute_transformed),
    "master_key" / Computed(common.compute_master),
    "payload" / _PAYLOAD3(Switch(this._.header.value.dynamic_header.cipher_id.data, {
        "aes256": common.AES256Payload(GreedyBytes),
        "chacha20": common.ChaCha20Payload(GreedyBytes),
        "twofish": common.TwoFishPayload(GreedyBytes),
    })),
)
_HEADER = kdbx.KDBX.subcons[0]
_KDBX = Struct("header" / _HEADER.subcon,
               "body" / Switch(this.header.value.major_version, {3: _BODY3, 4: _BODY4}))


def aes_kdf(seed: bytes, rounds: int, composite: bytes) -> bytes:
    """KeePass's AES-KDF: each half of the composite key encrypted ``rounds`` times with AES-256
    (key ``seed``), then SHA-256. E^n(x) is the last block of AES-CBC over n zero blocks with
    IV x, so the rounds run inside OpenSSL."""
    zeros = bytes(16 * min(rounds, _AES_CHUNK_BLOCKS))
    out = b""
    for block in (composite[:16], composite[16:]):
        left = rounds
        while left:
            n = min(left, _AES_CHUNK_BLOCKS)
            encryptor = Cipher(algorithms.AES(seed), modes.CBC(block)).encryptor()
            block = (encryptor.update(zeros[: 16 * n]) + encryptor.finalize())[-16:]
            left -= n
        out += block
    return hashlib.sha256(out).digest()


def _header(data: bytes) -> Any:
    if data[:8] == KDB1_SIGNATURE:
        raise BadImportFile("this is a KeePass 1 (.kdb) file; open it in KeePassXC or KeePass 2, "
                            "save it as KDBX, and import that")
    if data[:8] != SIGNATURE:
        raise BadImportFile("this is not a KeePass KDBX file (its first bytes are not a KDBX "
                            "signature)")
    major = int.from_bytes(data[10:12], "little")
    if major not in (3, 4):
        raise BadImportFile(f"KDBX version {major} is not supported; KDBX 3.1 and 4 are")
    try:
        return _HEADER.parse(data)
    except ConstructError:
        raise BadImportFile("the KDBX file's header is damaged or truncated") from None


def _checked_kdf(header: Any, composite: bytes) -> bytes | None:
    """Refuse ruinous KDF settings; for AES-KDF, the transformed key (computed here)."""
    dynamic = header.value.dynamic_header
    if header.value.major_version == 3:
        seed, rounds = dynamic.transform_seed.data, dynamic.transform_rounds.data
    else:
        params = dynamic.kdf_parameters.data.dict
        uuid = params["$UUID"].value
        if uuid in (kdbx4.kdf_uuids["argon2"], kdbx4.kdf_uuids["argon2id"]):
            memory, passes = params["M"].value, params["I"].value
            if (memory > MAX_ARGON2_MEMORY or memory * passes > MAX_ARGON2_WORK
                    or params["P"].value > MAX_ARGON2_LANES):
                raise BadImportFile(
                    f"the KDBX file's Argon2 settings ({memory // MIB} MiB, {passes} passes, "
                    f"{params['P'].value} lanes) would take minutes to open; lower them in "
                    "KeePassXC (Database Security) and export again")
            return None
        if uuid != kdbx4.kdf_uuids["aeskdf"]:
            raise BadImportFile("the KDBX file uses a key derivation this importer does not know")
        seed, rounds = params["S"].value, params["R"].value
    if rounds > MAX_AES_ROUNDS:
        raise BadImportFile(f"the KDBX file's AES-KDF has {rounds:,} rounds, more than "
                            f"{MAX_AES_ROUNDS:,}; lower them in KeePassXC and export again")
    return aes_kdf(seed, rounds, composite)


def open_kdbx(data: bytes, password: str | None, keyfile: bytes | None) -> Opened:
    """The decrypted contents of a KDBX 3.1 or 4 file, or one sentence saying why not."""
    header = _header(data)
    if keyfile is not None and (b"<!DOCTYPE" in keyfile or b"<!ENTITY" in keyfile):
        raise BadImportFile("the key file declares a DTD or entities, which a KeePass key file "
                            "never does; refused")
    key = io.BytesIO(keyfile) if keyfile is not None else None
    try:
        composite = common.compute_key_composite(password=password, keyfile=key)
    except (OSError, AssertionError, ValueError, TypeError):  # pykeepass asserts the hash
        raise BadImportFile("the key file is damaged (a KeePass XML key file whose key is "
                            "not valid hex or does not match its hash)") from None
    transformed = _checked_kdf(header, composite)
    try:
        parsed = _KDBX.parse(data, password=password, keyfile=key, transformed_key=transformed,
                             decrypt=True)
    except ChecksumError as e:
        if "cred_check" in (e.path or ""):
            raise WrongFilePassword("the password (or key file) does not open this KDBX file"
                                    ) from None
        raise BadImportFile("the KDBX file is damaged or truncated (a checksum does not match)"
                            ) from None
    except (ConstructError, ValueError, KeyError, TypeError, zlib.error, MemoryError) as e:
        raise BadImportFile(f"the KDBX file is damaged or truncated ({type(e).__name__})"
                            ) from None
    except Exception as e:  # argon2's errors, and pykeepass's own untyped ones
        if isinstance(e, BadImportFile):
            raise
        raise BadImportFile(f"the KDBX file cannot be opened ({type(e).__name__})") from None
    version = (header.value.major_version, header.value.minor_version)
    binaries: tuple[bytes, ...] = ()
    if version[0] == 4:
        binaries = tuple(bytes(b.data[1:]) for b in parsed.body.payload.inner_header.binary)
    return Opened(version, parsed.body.payload.xml, binaries)
