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
from pkcs11 import Attribute, MechanismFlag
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
)
from strongroom.app.keys.ports import (
    KeyInfo,
    KeyType,
    ProgressCallback,
    SignAlgorithm,
    TokenInfo,
)
from strongroom.app.keyslots import StatusCallback
from strongroom.app.plugins import Availability

from . import _keys
from ._errors import rv_error, translate
from ._kind import KIND
from ._module import STORE, LoadedModule, loaded
from ._native import CKR_OK, CKR_USER_ALREADY_LOGGED_IN
from ._objects import TokenObjects
from ._signing import pipelined, sign_on_token, signing_status
from ._worker import Call, assert_on_worker, check_cancel, worker_for

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
        self._objs: TokenObjects | None = None  # the token's objects, through the session
        self._worker.run(self._open_on_worker, pin)

    # ----- plumbing -----------------------------------------------------------------------

    def _module(self) -> LoadedModule:
        return loaded(self._path)

    @property
    def _objects(self) -> TokenObjects:
        assert self._objs is not None  # noqa: S101 - only used under _guarded (session open)
        return self._objs

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
            self._objs = TokenObjects(module, self._session, self._label, self._serial,
                                      self._where)
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
            self._session, self._objs = None, None
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
                self._objects.forget_handles()  # deleted by another session or program
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

    def list_keys(
        self, *, cancel: threading.Event | None = None, on_status: StatusCallback | None = None
    ) -> list[KeyInfo]:
        """The token's key pairs; ``cancel`` is honoured before and between keys (reading is
        quick: no status to report)."""
        check_cancel(cancel, "listing keys")
        return self._run("listing keys", lambda: self._objects.list_keys(cancel))

    def generate(
        self,
        label: str,
        key_type: KeyType,
        key_id: bytes | None = None,
        *,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> KeyInfo:
        """Generate a key pair on the token: private, sensitive, never extractable. ``cancel`` is
        honoured until the token starts (C_GenerateKeyPair cannot be stopped)."""
        if not label or not label.strip():
            raise UsageError("a new key needs a label")
        if key_id is not None and not key_id:
            raise UsageError("a key id must not be empty")
        key_type = KeyType(key_type)
        check_cancel(cancel, "key generation")
        if on_status is not None:
            on_status(f"Generating a {key_type.value} key on {self._where} (an RSA key can take "
                      "a while)")
        return self._run("generating a key", self._generate, label, key_type, key_id, cancel)

    def sign(
        self,
        key: KeyInfo,
        data: bytes,
        algorithm: SignAlgorithm,
        *,
        prehashed: bool = False,
        cancel: threading.Event | None = None,
        on_status: StatusCallback | None = None,
    ) -> bytes:
        """One signature; ``cancel`` is honoured until the token is asked."""
        plan = _keys.sign_plan(
            SignAlgorithm(algorithm), key.algorithm, self._mechanisms, prehashed=prehashed
        )
        fed = plan.token_input(data, prehashed)
        check_cancel(cancel, "signing")
        signing_status(on_status, self._where)
        raw = self._run("signing", lambda: sign_on_token(self._objects, key, plan, [fed], cancel))
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
        on_status: StatusCallback | None = None,
    ) -> Iterator[bytes]:
        """Sign many messages in this one session, in order; ``on_progress(done, total)`` runs on
        the calling thread (``total`` is 0 when ``items`` has no length)."""
        plan = _keys.sign_plan(
            SignAlgorithm(algorithm), key.algorithm, self._mechanisms, prehashed=prehashed
        )
        total = len(items) if isinstance(items, Sized) else 0
        signing_status(on_status, self._where)

        def submit(chunk: list[bytes]) -> Call:  # the chunk, signed on the worker
            return self._submit("signing",
                                lambda: sign_on_token(self._objects, key, plan, chunk, cancel))

        return pipelined(plan, iter(items), prehashed, total, cancel, on_progress, submit)

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
            return self._objects.key_info(self._objects.private(key)).public_key

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
        module = self._module()
        session, self._session, self._objs = self._session, None, None
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

    def _generate(self, label: str, key_type: KeyType, key_id: bytes | None,
                  cancel: threading.Event | None) -> KeyInfo:
        p11_type, mechanism = _GENERATE[key_type]
        if mechanism not in self._mechanisms:
            raise Unsupported(
                f"{self._where} cannot generate {key_type.value} keys "
                f"(it does not offer {mechanism.name})"
            )
        key_id = key_id if key_id is not None else secrets.token_bytes(8)
        for attr, value, what in ((Attribute.LABEL, label, f"labelled '{label}'"),
                                  (Attribute.ID, key_id, f"with id {key_id.hex()}")):
            if self._objects.find({attr: value}):
                raise AlreadyExists(f"{self._where} already has an object {what}")
        check_cancel(cancel, "key generation")  # the last moment: the token cannot stop
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
        return self._objects.key_info(priv, set())

    def _delete(self, key: KeyInfo) -> None:
        priv = self._objects.private(key)
        key_id = bytes.fromhex(key.key_id)
        pub = self._objects.public_for(key_id, key.label)
        priv.destroy()
        if pub is not None:
            pub.destroy()
        self._objects.forget_handles(key)
