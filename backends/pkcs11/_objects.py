"""What a PKCS#11 token holds, read through one session into the port's facts: key pairs with
their public keys and certificates, and the private-key handles signing needs.

A :class:`TokenObjects` belongs to one :class:`~.store.Pkcs11KeyStore` and is used only on its
module's worker thread.
"""

from __future__ import annotations

import threading
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, ObjectClass
from pkcs11 import KeyType as P11KeyType

from strongroom.app.errors import NotFound, Unsupported
from strongroom.app.keys.ports import Capability, KeyInfo

from . import _keys
from ._errors import rv_error
from ._module import STORE, LoadedModule
from ._native import CKR_OK
from ._worker import check_cancel

_PRIVATE_ATTRS = (
    Attribute.LABEL, Attribute.ID, Attribute.KEY_TYPE, Attribute.SIGN, Attribute.DECRYPT,
    Attribute.UNWRAP, Attribute.DERIVE, Attribute.SENSITIVE, Attribute.EXTRACTABLE,
    Attribute.EC_PARAMS, Attribute.MODULUS, Attribute.PUBLIC_EXPONENT,
)
_PUBLIC_ATTRS = (
    Attribute.VERIFY, Attribute.ENCRYPT, Attribute.WRAP, Attribute.EC_PARAMS, Attribute.EC_POINT,
    Attribute.MODULUS, Attribute.PUBLIC_EXPONENT,
)


class TokenObjects:
    """The objects on one token, through ``session``; private-key handles are kept until
    :meth:`forget_handles` (a key deleted elsewhere leaves a stale one)."""

    def __init__(self, module: LoadedModule, session: Any, label: str, serial: str,
                 where: str) -> None:
        self._module = module
        self._session = session
        self._token_label = label
        self._token_serial = serial
        self._where = where
        self._handles: dict[tuple[str, str], Any] = {}

    def forget_handles(self, key: KeyInfo | None = None) -> None:
        """Drop the cached handle of ``key`` (of every key when None)."""
        if key is None:
            self._handles.clear()
        else:
            self._handles.pop((key.key_id, key.label), None)

    def find(self, attrs: dict[Attribute, Any]) -> list[Any]:
        # python-pkcs11 raises from a failed search's finaliser too; find a dead session first.
        rv = self._module.native.session_rv(self._session.handle)
        if rv != CKR_OK:
            raise rv_error(rv)
        return list(self._session.get_objects(attrs))

    def list_keys(self, cancel: threading.Event | None = None) -> list[KeyInfo]:
        """Every key pair (by its private key), sorted; ``cancel`` is honoured between keys."""
        cert_ids = set()
        for cert in self.find({Attribute.CLASS: ObjectClass.CERTIFICATE}):
            cert_ids.add(bytes(cert.get_attributes([Attribute.ID]).get(Attribute.ID, b"")))
        keys = []
        for priv in self.find({Attribute.CLASS: ObjectClass.PRIVATE_KEY}):
            check_cancel(cancel, "listing keys")
            keys.append(self.key_info(priv, cert_ids))
        return sorted(keys, key=lambda k: (k.label, k.key_id))

    def public_for(self, key_id: bytes, label: str) -> Any | None:
        query: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PUBLIC_KEY}
        if key_id:
            query[Attribute.ID] = key_id
        else:
            query[Attribute.LABEL] = label
        found = self.find(query)
        return found[0] if found else None

    def certificate_spki(self, key_id: bytes) -> bytes:
        query = {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key_id}
        for cert in self.find(query):
            value = cert.get_attributes([Attribute.VALUE]).get(Attribute.VALUE)
            try:
                public = x509.load_der_x509_certificate(bytes(value)).public_key()
            except (ValueError, TypeError):
                continue
            return public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return b""

    def key_info(self, priv: Any, cert_ids: set[bytes] | None = None) -> KeyInfo:
        a = priv.get_attributes(_PRIVATE_ATTRS)
        key_id = bytes(a.get(Attribute.ID, b""))
        label = str(a.get(Attribute.LABEL, ""))
        key_type = int(a.get(Attribute.KEY_TYPE, -1))
        pub = self.public_for(key_id, label)
        p = pub.get_attributes(_PUBLIC_ATTRS) if pub is not None else {}
        ec_params = p.get(Attribute.EC_PARAMS) or a.get(Attribute.EC_PARAMS)
        modulus = p.get(Attribute.MODULUS) or a.get(Attribute.MODULUS)
        exponent = p.get(Attribute.PUBLIC_EXPONENT) or a.get(Attribute.PUBLIC_EXPONENT)
        bits = int.from_bytes(modulus, "big").bit_length() if modulus else None
        algorithm = _keys.algorithm_name(key_type, ec_params, bits)
        spki = b""
        try:
            if key_type == P11KeyType.RSA and modulus and exponent:
                spki = _keys.rsa_spki(modulus, exponent)
            elif ec_params and p.get(Attribute.EC_POINT):
                spki = _keys.ec_spki(ec_params, p[Attribute.EC_POINT])
        except (ValueError, Unsupported):
            spki = b""
        if not spki and key_id:
            spki = self.certificate_spki(key_id)
        capabilities = {
            cap for cap, attr, source in (
                (Capability.Sign, Attribute.SIGN, a),
                (Capability.Decrypt, Attribute.DECRYPT, a),
                (Capability.Unwrap, Attribute.UNWRAP, a),
                (Capability.Derive, Attribute.DERIVE, a),
                (Capability.Verify, Attribute.VERIFY, p),
                (Capability.Encrypt, Attribute.ENCRYPT, p),
                (Capability.Wrap, Attribute.WRAP, p),
            ) if source.get(attr)
        }
        if cert_ids is None:
            query = {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key_id}
            has_cert = bool(key_id) and bool(self.find(query))
        else:
            has_cert = bool(key_id) and key_id in cert_ids
        return KeyInfo(
            store=STORE,
            token_label=self._token_label,
            token_serial=self._token_serial,
            label=label,
            key_id=key_id.hex(),
            algorithm=algorithm,
            key_type=_keys.strongroom_type(algorithm),
            capabilities=frozenset(capabilities),
            # A token that does not answer is taken at its word's worst.
            sensitive=bool(a.get(Attribute.SENSITIVE, False)),
            extractable=bool(a.get(Attribute.EXTRACTABLE, True)),
            public_key=spki,
            has_certificate=has_cert,
        )

    def private(self, key: KeyInfo) -> Any:
        cache_key = (key.key_id, key.label)
        priv = self._handles.get(cache_key)
        if priv is not None:
            return priv
        query: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
        if key.key_id:
            query[Attribute.ID] = bytes.fromhex(key.key_id)
        else:
            query[Attribute.LABEL] = key.label
        found = self.find(query)
        if not found:
            raise NotFound(f"no private key '{key.label}' (id {key.key_id}) on {self._where}")
        if len(found) > 1 and key.key_id:
            found = [o for o in found if o[Attribute.LABEL] == key.label] or found
        self._handles[cache_key] = found[0]
        return found[0]
