"""Pkcs11KeyStore: one logged-in session on one PKCS#11 token (app.keys.ports.KeyStore).

The session lives on the module's worker thread; every method marshals its token work there and
waits on the future, so callers may use the store from any thread. Digests are computed on the
calling thread, so a large message never passes through the token (except for Ed25519).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any, TypeVar

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pkcs11 import Attribute, MechanismFlag, ObjectClass
from pkcs11 import KeyType as P11KeyType
from pkcs11 import exceptions as p11e
from pkcs11.util.x509 import decode_x509_certificate

from strongroom.app.errors import (
    AlreadyExists,
    DeviceRemoved,
    NotFound,
    Refused,
    StrongroomError,
    Unsupported,
    UsageError,
    UserCancelled,
)
from strongroom.app.keys.ports import (
    Capability,
    KeyInfo,
    KeyType,
    ProgressCallback,
    SignAlgorithm,
    TokenInfo,
)
from strongroom.app.plugins import Availability

from . import _keys
from ._errors import rv_error, translate
from ._kind import KIND
from ._module import STORE, LoadedModule, loaded
from ._native import CKR_OK, CKR_USER_ALREADY_LOGGED_IN
from ._worker import Call, assert_on_worker, worker_for

T = TypeVar("T")

# Errors after which the token may simply be gone: check before blaming the operation.
_MAYBE_GONE = (
    p11e.ObjectHandleInvalid,
    p11e.KeyHandleInvalid,
    p11e.GeneralError,
    p11e.DeviceError,
    p11e.FunctionFailed,
    p11e.TokenNotRecognised,
)
_GENERATE = {
    KeyType.EcP256: (P11KeyType.EC, pkcs11.Mechanism.EC_KEY_PAIR_GEN),
    KeyType.EcP384: (P11KeyType.EC, pkcs11.Mechanism.EC_KEY_PAIR_GEN),
    KeyType.Rsa3072: (P11KeyType.RSA, pkcs11.Mechanism.RSA_PKCS_KEY_PAIR_GEN),
    KeyType.Rsa4096: (P11KeyType.RSA, pkcs11.Mechanism.RSA_PKCS_KEY_PAIR_GEN),
    KeyType.Ed25519: (P11KeyType.EC_EDWARDS, pkcs11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN),
}
_PRIVATE_ATTRS = (
    Attribute.LABEL, Attribute.ID, Attribute.KEY_TYPE, Attribute.SIGN, Attribute.DECRYPT,
    Attribute.UNWRAP, Attribute.DERIVE, Attribute.SENSITIVE, Attribute.EXTRACTABLE,
    Attribute.EC_PARAMS, Attribute.MODULUS, Attribute.PUBLIC_EXPONENT,
)
_PUBLIC_ATTRS = (
    Attribute.VERIFY, Attribute.ENCRYPT, Attribute.WRAP, Attribute.EC_PARAMS, Attribute.EC_POINT,
    Attribute.MODULUS, Attribute.PUBLIC_EXPONENT,
)
# Messages are handed to the worker in chunks: few thread hops, prompt cancel and progress.
CHUNK = 32


class Pkcs11KeyStore:
    """A KeyStore on one PKCS#11 token; open it with ``Pkcs11Provider.open``."""

    store = STORE
    kind = KIND

    def __init__(self, module_path: str, token: TokenInfo, pin: str | None) -> None:
        """Open a session on ``token`` and log in with ``pin`` (on the module's worker)."""
        if token.slot is None:
            raise UsageError("a PKCS#11 token needs its slot number")
        self._path = module_path
        self._worker = worker_for(module_path)
        self._key = self._worker.key
        self._slot_id = token.slot
        self._label = token.label
        self._serial = token.serial
        self._where = f"token '{token.label}'"
        self._session: Any = None
        self._logged_in = False
        self._closed = False
        self._mechanisms: frozenset[int] = frozenset()
        self._private_cache: dict[tuple[str, str], Any] = {}
        self._worker.run(self._open_on_worker, pin)

    # ----- plumbing -----------------------------------------------------------------------

    def _module(self) -> LoadedModule:
        return loaded(self._path)

    def _open_on_worker(self, pin: str | None) -> None:
        assert_on_worker(self._key)
        module = self._module()
        try:
            slot = module.slot(self._slot_id)
            token = slot.get_token()
            if token.serial.decode("ascii", "replace").strip() != self._serial:
                raise NotFound(
                    f"the token in slot {self._slot_id} is not '{self._label}' "
                    f"(serial {self._serial}) any more"
                )
            self._mechanisms = frozenset(int(m) for m in slot.get_mechanisms())
            try:
                self._session = token.open(rw=True)
            except (p11e.TokenWriteProtected, p11e.SessionReadOnly):
                self._session = token.open()  # list and sign; generate/import will be refused
        except p11e.PKCS11Error as e:
            raise translate(e, f"opening {self._where}") from e
        if pin is None:
            return
        rv = module.native.login_user(self._session.handle, pin)
        tag = module.pin_tag(pin)
        if rv == CKR_USER_ALREADY_LOGGED_IN and module.logins.get(self._slot_id, 0) > 0:
            # Another store in this process logged the token in; the token did not look at this
            # PIN, so compare it with the one that did.
            known = module.login_tags.get(self._slot_id, b"")
            rv = CKR_OK if hmac.compare_digest(known, tag) else 0xA0  # CKR_PIN_INCORRECT
        if rv != CKR_OK:
            error = rv_error(rv)
            self._session.close()
            self._session = None
            raise translate(
                error, f"logging in to {self._where}",
                token_flags=module.current_flags(self._slot_id),
            ) from error
        module.login_tags[self._slot_id] = tag
        self._logged_in = True
        module.logins[self._slot_id] = module.logins.get(self._slot_id, 0) + 1

    def _token_gone(self) -> bool:
        """Whether the token left its slot (or was replaced) — asked after a puzzling failure."""
        try:
            token = self._module().slot(self._slot_id).get_token()
        except (p11e.PKCS11Error, StrongroomError):
            return True
        return token.serial.decode("ascii", "replace").strip() != self._serial

    def _guarded(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the worker thread with the session; translate its PKCS#11 errors."""
        assert_on_worker(self._key)
        if self._closed or self._session is None:
            raise Refused(f"{self._where} is closed")
        try:
            return fn(*args)
        except p11e.PKCS11Error as e:
            if isinstance(e, _MAYBE_GONE) and self._token_gone():
                raise DeviceRemoved(f"{what} on {self._where}: the token was removed") from e
            if isinstance(e, p11e.ObjectHandleInvalid | p11e.KeyHandleInvalid):
                self._private_cache.clear()  # deleted by another session or program
                raise NotFound(f"{what} on {self._where}: the key is no longer there") from e
            raise translate(e, f"{what} on {self._where}") from e

    def _run(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        return self._worker.run(self._guarded, what, fn, *args)

    def _submit(self, what: str, fn: Callable[..., T], *args: Any) -> Call:
        return self._worker.submit(self._guarded, what, fn, *args)

    # ----- KeyStore port ------------------------------------------------------------------

    def available(self) -> Availability:
        if self._closed:
            return Availability(False, f"{self._where} is closed")
        return Availability(True)

    def token(self) -> TokenInfo:
        def info() -> TokenInfo:
            module = self._module()
            return module.token_info(module.slot(self._slot_id), self._path)

        return self._run("reading token info", info)

    def list_keys(self) -> list[KeyInfo]:
        return self._run("listing keys", self._list_keys)

    def generate(self, label: str, key_type: KeyType, key_id: bytes | None = None) -> KeyInfo:
        """Generate a key pair on the token: private, sensitive, never extractable."""
        if not label or not label.strip():
            raise UsageError("a new key needs a label")
        if key_id is not None and not key_id:
            raise UsageError("a key id must not be empty")
        key_type = KeyType(key_type)
        return self._run("generating a key", self._generate, label, key_type, key_id)

    def sign(
        self, key: KeyInfo, data: bytes, algorithm: SignAlgorithm, *, prehashed: bool = False
    ) -> bytes:
        plan = _keys.sign_plan(
            SignAlgorithm(algorithm), key.algorithm, self._mechanisms, prehashed=prehashed
        )
        fed = _token_input(plan, data, prehashed)
        raw = self._run("signing", self._sign_raw, key, plan, [fed], None)
        return plan.finish(raw[0])

    def sign_many(
        self,
        key: KeyInfo,
        items: Iterable[bytes],
        algorithm: SignAlgorithm,
        *,
        prehashed: bool = False,
        cancel: threading.Event | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Iterator[bytes]:
        """Sign many messages in this one session, in order; ``on_progress(done, total)`` runs on
        the calling thread (``total`` is 0 when ``items`` has no length)."""
        plan = _keys.sign_plan(
            SignAlgorithm(algorithm), key.algorithm, self._mechanisms, prehashed=prehashed
        )
        total = len(items) if isinstance(items, Sized) else 0
        return self._sign_many(key, plan, iter(items), prehashed, total, cancel, on_progress)

    def _sign_many(
        self,
        key: KeyInfo,
        plan: _keys.SignPlan,
        items: Iterator[bytes],
        prehashed: bool,
        total: int,
        cancel: threading.Event | None,
        on_progress: ProgressCallback | None,
    ) -> Iterator[bytes]:
        done = 0

        def next_chunk() -> Call | None:
            chunk = [_token_input(plan, data, prehashed) for _, data in zip(range(CHUNK), items,
                                                                              strict=False)]
            if not chunk:
                return None
            return self._submit("signing", self._sign_raw, key, plan, chunk, cancel)

        def check_cancel() -> None:
            if cancel is not None and cancel.is_set():
                raise UserCancelled("signing cancelled")

        # Two chunks in flight: the next digests are computed while the token signs. Whatever
        # ends the loop (cancel, an error, the caller dropping the iterator) drops queued work.
        check_cancel()
        pending = next_chunk()
        following: Call | None = None
        try:
            while pending is not None:
                following = next_chunk()
                signatures = pending.result()
                for raw in signatures:
                    check_cancel()
                    yield plan.finish(raw)
                    done += 1
                    if on_progress is not None:
                        on_progress(done, total)
                pending, following = following, None
        finally:
            for call in (pending, following):
                if call is not None:
                    call.cancel()

    def __enter__(self) -> Pkcs11KeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Log out (when this is the last store logged in to the token) and end the session."""
        if self._closed:
            return
        self._worker.run(self._close_on_worker)

    # ----- PKCS#11-only extras -------------------------------------------------------------

    def import_certificate(self, key: KeyInfo, cert_der: bytes, label: str | None = None) -> None:
        """Store an X.509 certificate next to ``key`` (same CKA_ID, and its label by default)."""
        try:
            cert = x509.load_der_x509_certificate(cert_der)
        except ValueError as e:
            raise UsageError("the certificate is not DER-encoded X.509") from e
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if spki != key.public_key:
            raise Refused(f"the certificate's public key is not that of key '{key.label}'")
        attrs = decode_x509_certificate(cert_der)
        attrs.update({
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.LABEL: label or key.label,
            Attribute.ID: bytes.fromhex(key.key_id),
        })
        self._run("importing a certificate", lambda: self._session.create_object(attrs))

    def public_key_pem(self, key: KeyInfo) -> str:
        """The key's public half as a PEM SubjectPublicKeyInfo (read from the token)."""
        def read() -> bytes:
            return self._key_info(self._private(key)).public_key

        der = self._run("reading a public key", read)
        if not der:
            raise NotFound(f"key '{key.label}' has no public key on {self._where}")
        public = serialization.load_der_public_key(der)
        return public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def delete_key(self, key: KeyInfo) -> None:
        """Destroy the key pair (private and public objects with its CKA_ID) on the token."""
        self._run("deleting a key", self._delete, key)

    # ----- on the worker -------------------------------------------------------------------

    def _close_on_worker(self) -> None:
        assert_on_worker(self._key)
        if self._closed:
            return
        self._closed = True
        self._private_cache.clear()
        module = self._module()
        session, self._session = self._session, None
        if session is None:
            return
        try:
            if self._logged_in:
                left = module.logins.get(self._slot_id, 1) - 1
                module.logins[self._slot_id] = max(left, 0)
                if left <= 0:
                    module.login_tags.pop(self._slot_id, None)
                    module.native.logout(session.handle)
            session.close()
        except p11e.PKCS11Error:
            pass  # the token went away: nothing is left to close

    def _objects(self, attrs: dict[Attribute, Any]) -> list[Any]:
        # python-pkcs11 raises from a failed search's finaliser too; find a dead session first.
        rv = self._module().native.session_rv(self._session.handle)
        if rv != CKR_OK:
            raise rv_error(rv)
        return list(self._session.get_objects(attrs))

    def _list_keys(self) -> list[KeyInfo]:
        cert_ids = set()
        for cert in self._objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
            cert_ids.add(bytes(cert.get_attributes([Attribute.ID]).get(Attribute.ID, b"")))
        keys = [self._key_info(priv, cert_ids)
                for priv in self._objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})]
        return sorted(keys, key=lambda k: (k.label, k.key_id))

    def _public_for(self, key_id: bytes, label: str) -> Any | None:
        query: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PUBLIC_KEY}
        if key_id:
            query[Attribute.ID] = key_id
        else:
            query[Attribute.LABEL] = label
        found = self._objects(query)
        return found[0] if found else None

    def _certificate_spki(self, key_id: bytes) -> bytes:
        query = {Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.ID: key_id}
        for cert in self._objects(query):
            value = cert.get_attributes([Attribute.VALUE]).get(Attribute.VALUE)
            try:
                public = x509.load_der_x509_certificate(bytes(value)).public_key()
            except (ValueError, TypeError):
                continue
            return public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return b""

    def _key_info(self, priv: Any, cert_ids: set[bytes] | None = None) -> KeyInfo:
        a = priv.get_attributes(_PRIVATE_ATTRS)
        key_id = bytes(a.get(Attribute.ID, b""))
        label = str(a.get(Attribute.LABEL, ""))
        key_type = int(a.get(Attribute.KEY_TYPE, -1))
        pub = self._public_for(key_id, label)
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
            spki = self._certificate_spki(key_id)
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
            has_cert = bool(key_id) and bool(self._objects(query))
        else:
            has_cert = bool(key_id) and key_id in cert_ids
        return KeyInfo(
            store=STORE,
            token_label=self._label,
            token_serial=self._serial,
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

    def _private(self, key: KeyInfo) -> Any:
        cache_key = (key.key_id, key.label)
        priv = self._private_cache.get(cache_key)
        if priv is not None:
            return priv
        query: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
        if key.key_id:
            query[Attribute.ID] = bytes.fromhex(key.key_id)
        else:
            query[Attribute.LABEL] = key.label
        found = self._objects(query)
        if not found:
            raise NotFound(f"no private key '{key.label}' (id {key.key_id}) on {self._where}")
        if len(found) > 1 and key.key_id:
            found = [o for o in found if o[Attribute.LABEL] == key.label] or found
        self._private_cache[cache_key] = found[0]
        return found[0]

    def _sign_raw(
        self,
        key: KeyInfo,
        plan: _keys.SignPlan,
        inputs: list[bytes],
        cancel: threading.Event | None,
    ) -> list[bytes]:
        priv = self._private(key)
        out = []
        for data in inputs:
            if cancel is not None and cancel.is_set():
                raise UserCancelled("signing cancelled")
            out.append(bytes(priv.sign(data, mechanism=plan.mechanism,
                                       mechanism_param=plan.param)))
        return out

    def _generate(self, label: str, key_type: KeyType, key_id: bytes | None) -> KeyInfo:
        p11_type, mechanism = _GENERATE[key_type]
        if mechanism not in self._mechanisms:
            raise Unsupported(
                f"{self._where} cannot generate {key_type.value} keys "
                f"(it does not offer {mechanism.name})"
            )
        key_id = key_id if key_id is not None else secrets.token_bytes(8)
        for attr, value, what in ((Attribute.LABEL, label, f"labelled '{label}'"),
                                  (Attribute.ID, key_id, f"with id {key_id.hex()}")):
            if self._objects({attr: value}):
                raise AlreadyExists(f"{self._where} already has an object {what}")
        public: dict[Attribute, Any] = {Attribute.TOKEN: True, Attribute.PRIVATE: False}
        private: dict[Attribute, Any] = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
        }
        if key_type in _keys.EC_PARAMS:
            public[Attribute.EC_PARAMS] = _keys.EC_PARAMS[key_type]
        _, priv = self._session.generate_keypair(
            p11_type,
            _keys.RSA_BITS.get(key_type),
            id=key_id,
            label=label,
            store=True,
            capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
            mechanism=mechanism,
            public_template=public,
            private_template=private,
        )
        return self._key_info(priv, set())

    def _delete(self, key: KeyInfo) -> None:
        priv = self._private(key)
        key_id = bytes.fromhex(key.key_id)
        pub = self._public_for(key_id, key.label)
        priv.destroy()
        if pub is not None:
            pub.destroy()
        self._private_cache.pop((key.key_id, key.label), None)


def _token_input(plan: _keys.SignPlan, data: bytes, prehashed: bool) -> bytes:
    try:
        return plan.token_input(data, prehashed)
    except ValueError as e:
        raise UsageError(str(e)) from e
