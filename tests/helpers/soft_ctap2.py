"""A software CTAP2 authenticator that python-fido2's real client talks to (no hardware needed).

    key = SoftAuthenticator(pin="1234")           # a FIDO2.1 key with hmac-secret and a PIN
    Fido2Client(key, DefaultClientDataCollector("https://strongroom.local"), ...)
    key.touch_after = None                         # never touched: waits for cancel or times out
    key.touches_requested                          # how many times it asked for user presence
    key.power_cycle()                              # unplug and re-plug (clears the 3-try lockout)

It answers CTAPHID_CBOR with canonical CBOR (encoded with :mod:`fido2.cbor`): getInfo,
makeCredential (non-resident credentials only), getAssertion (``up=False`` probes answer at once),
authenticatorSelection and clientPIN with PIN/UV auth protocols 1 and 2. The PIN protocols and
hmac-secret are written here from the CTAP 2.1 text with `cryptography` primitives only, never
with :mod:`fido2.ctap2.pin`, so a bug cannot hide on both sides of the wire.

Credentials live in this instance's memory (id → state): another instance answers
NO_CREDENTIALS for them, as a different physical key would.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fido2 import cbor
from fido2.ctap import STATUS, CtapDevice, CtapError
from fido2.hid import CAPABILITY, CTAPHID

ERR = CtapError.ERR

PIN_RETRIES_MAX = 8
PIN_MISMATCHES_BEFORE_POWER_CYCLE = 3
MIN_PIN_LENGTH = 4
DEFAULT_TOUCH_TIMEOUT_S = 0.3

# authenticatorData flags
FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40
FLAG_ED = 0x80

# clientPIN permissions (CTAP 2.1 §6.5.5.7)
PERM_MC = 0x01
PERM_GA = 0x02

CMD_MAKE_CREDENTIAL = 0x01
CMD_GET_ASSERTION = 0x02
CMD_GET_INFO = 0x04
CMD_CLIENT_PIN = 0x06
CMD_SELECTION = 0x0B

SUB_GET_PIN_RETRIES = 0x01
SUB_GET_KEY_AGREEMENT = 0x02
SUB_SET_PIN = 0x03
SUB_CHANGE_PIN = 0x04
SUB_GET_PIN_TOKEN = 0x05
SUB_GET_TOKEN_USING_PIN = 0x09


class _Fail(Exception):
    """A CTAP status to answer with."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def prf_expected(cred_random: bytes, salt: bytes) -> bytes:
    """WebAuthn PRF over hmac-secret, per the spec: HMAC(CredRandom, SHA-256(label ‖ salt))."""
    return hmac.new(cred_random, sha256(b"WebAuthn PRF\x00" + salt), hashlib.sha256).digest()


# ----- PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6, §6.5.7) -------------------------------


def _aes_cbc(key: bytes, iv: bytes, data: bytes, *, encrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = cipher.encryptor() if encrypt else cipher.decryptor()
    return op.update(data) + op.finalize()


def _hkdf(z: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"\x00" * 32, info=info).derive(z)


class _Protocol:
    """One PIN/UV auth protocol, authenticator side."""

    def __init__(self, version: int) -> None:
        self.version = version

    def kdf(self, z: bytes) -> bytes:
        if self.version == 1:
            return sha256(z)
        return _hkdf(z, b"CTAP2 HMAC key") + _hkdf(z, b"CTAP2 AES key")

    def encrypt(self, key: bytes, plaintext: bytes) -> bytes:
        if self.version == 1:
            return _aes_cbc(key, b"\x00" * 16, plaintext, encrypt=True)
        iv = secrets.token_bytes(16)
        return iv + _aes_cbc(key[32:], iv, plaintext, encrypt=True)

    def decrypt(self, key: bytes, ciphertext: bytes) -> bytes:
        if len(ciphertext) % 16:
            raise _Fail(ERR.INVALID_PARAMETER)
        if self.version == 1:
            return _aes_cbc(key, b"\x00" * 16, ciphertext, encrypt=False)
        if len(ciphertext) < 32:
            raise _Fail(ERR.INVALID_PARAMETER)
        return _aes_cbc(key[32:], ciphertext[:16], ciphertext[16:], encrypt=False)

    def authenticate(self, key: bytes, message: bytes) -> bytes:
        mac = hmac.new(key[:32], message, hashlib.sha256).digest()
        return mac[:16] if self.version == 1 else mac

    def verify(self, key: bytes, message: bytes, signature: bytes | None) -> bool:
        return signature is not None and hmac.compare_digest(
            self.authenticate(key, message), signature
        )


def _protocol(version: Any, supported: tuple[int, ...] = (1, 2)) -> _Protocol:
    if version not in supported:
        raise _Fail(ERR.INVALID_PARAMETER)
    return _Protocol(version)


def _cose_p256(public: ec.EllipticCurvePublicKey, alg: int) -> dict[int, Any]:
    numbers = public.public_numbers()
    return {
        1: 2, 3: alg, -1: 1,
        -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big"),
    }


def _peer_key(cose: Any) -> ec.EllipticCurvePublicKey:
    if not isinstance(cose, Mapping) or cose.get(1) != 2 or cose.get(-1) != 1:
        raise _Fail(ERR.INVALID_PARAMETER)
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(cose[-2], "big"), int.from_bytes(cose[-3], "big"), ec.SECP256R1()
        ).public_key()
    except (KeyError, TypeError, ValueError) as e:
        raise _Fail(ERR.INVALID_PARAMETER) from e


# ----- the authenticator ----------------------------------------------------------------------


@dataclass
class _Credential:
    rp_id_hash: bytes
    key: ec.EllipticCurvePrivateKey
    cred_random_uv: bytes = field(repr=False)
    cred_random_no_uv: bytes = field(repr=False)
    hmac_secret: bool
    sign_count: int = 0


@dataclass
class _Token:
    value: bytes = field(repr=False)
    permissions: int
    rp_id: str | None


class SoftAuthenticator(CtapDevice):
    """A FIDO2.1 roaming authenticator in memory; see the module docstring for its knobs."""

    def __init__(
        self,
        *,
        pin: str | None = None,
        hmac_secret: bool = True,
        touch_after: float | None = 0.0,
        touch_timeout: float | None = DEFAULT_TOUCH_TIMEOUT_S,
        make_cred_uv_not_required: bool = True,
        pin_protocols: tuple[int, ...] = (2, 1),
        product_name: str = "Soft FIDO2 key",
    ) -> None:
        self.hmac_secret = hmac_secret
        self.pin_protocols = pin_protocols
        # Seconds until the user touches; None: never (then cancel → KEEPALIVE_CANCEL, or
        # USER_ACTION_TIMEOUT after touch_timeout seconds; touch_timeout None waits for cancel).
        self.touch_after = touch_after
        self.touch_timeout = touch_timeout
        self.make_cred_uv_not_required = make_cred_uv_not_required
        self._product_name = product_name
        self.aaguid = secrets.token_bytes(16)
        self.touches_requested = 0
        self.touches = 0
        self.closes = 0
        self.commands: list[int] = []
        self._lock = threading.Lock()
        self._credentials: dict[bytes, _Credential] = {}
        self._pin_hash: bytes | None = sha256(pin.encode())[:16] if pin is not None else None
        self.pin_retries = PIN_RETRIES_MAX
        self._mismatches = 0
        self._token: _Token | None = None
        self._key_agreement = ec.generate_private_key(ec.SECP256R1())
        self.power_cycle()

    # ----- CtapDevice ------------------------------------------------------------------------

    @property
    def capabilities(self) -> int:
        return CAPABILITY.CBOR | CAPABILITY.NMSG

    @property
    def product_name(self) -> str:
        return self._product_name

    def close(self) -> None:
        self.closes += 1

    @classmethod
    def list_devices(cls) -> Iterator[CtapDevice]:
        return iter(())

    def call(
        self,
        cmd: int,
        data: bytes = b"",
        event: threading.Event | None = None,
        on_keepalive: Callable[[STATUS], None] | None = None,
    ) -> bytes:
        if cmd != CTAPHID.CBOR:
            return bytes([ERR.INVALID_COMMAND])
        if not data:
            return bytes([ERR.INVALID_LENGTH])
        with self._lock:
            self.commands.append(data[0])
            try:
                request = cbor.decode(data[1:]) if len(data) > 1 else {}
                if not isinstance(request, dict):
                    raise _Fail(ERR.CBOR_UNEXPECTED_TYPE)
                response = self._dispatch(data[0], request, event, on_keepalive)
            except _Fail as e:
                return bytes([e.code])
            except ValueError:
                return bytes([ERR.INVALID_CBOR])
        return b"\x00" + (cbor.encode(response) if response else b"")

    # ----- test knobs and views --------------------------------------------------------------

    def power_cycle(self) -> None:
        """Unplug and re-plug: new key agreement key, no token, the 3-mismatch lockout cleared."""
        self._key_agreement = ec.generate_private_key(ec.SECP256R1())
        self._token = None
        self._mismatches = 0

    @property
    def pin_set(self) -> bool:
        return self._pin_hash is not None

    def credential_ids(self) -> list[bytes]:
        return list(self._credentials)

    def cred_random(self, credential_id: bytes, *, uv: bool) -> bytes:
        """The hmac-secret CredRandom of a credential (for known-answer tests only)."""
        cred = self._credentials[credential_id]
        return cred.cred_random_uv if uv else cred.cred_random_no_uv

    # ----- commands --------------------------------------------------------------------------

    def _dispatch(
        self,
        cmd: int,
        req: dict[Any, Any],
        event: threading.Event | None,
        on_keepalive: Callable[[STATUS], None] | None,
    ) -> dict[Any, Any] | None:
        if cmd == CMD_GET_INFO:
            return self._info()
        if cmd == CMD_CLIENT_PIN:
            return self._client_pin(req)
        if cmd == CMD_MAKE_CREDENTIAL:
            return self._make_credential(req, event, on_keepalive)
        if cmd == CMD_GET_ASSERTION:
            return self._get_assertion(req, event, on_keepalive)
        if cmd == CMD_SELECTION:
            self._wait_for_touch(event, on_keepalive)
            return None
        raise _Fail(ERR.INVALID_COMMAND)

    def _info(self) -> dict[Any, Any]:
        options = {
            "rk": False, "up": True, "plat": False,
            "clientPin": self.pin_set, "pinUvAuthToken": True,
            "makeCredUvNotRqd": self.make_cred_uv_not_required,
        }
        return {
            1: ["FIDO_2_0", "FIDO_2_1"],
            2: ["hmac-secret"] if self.hmac_secret else [],
            3: self.aaguid,
            4: options,
            5: 1200,
            6: list(self.pin_protocols),
            7: 8,
            8: 128,
        }

    def _wait_for_touch(
        self, event: threading.Event | None, on_keepalive: Callable[[STATUS], None] | None
    ) -> None:
        """User presence: keepalive UPNEEDED, then a touch, a cancel or a timeout."""
        self.touches_requested += 1
        if on_keepalive is not None:
            on_keepalive(STATUS.UPNEEDED)
        wait = threading.Event() if event is None else event
        if self.touch_after is not None:
            if wait.wait(self.touch_after):
                raise _Fail(ERR.KEEPALIVE_CANCEL)
            self.touches += 1
            return
        if wait.wait(self.touch_timeout):
            raise _Fail(ERR.KEEPALIVE_CANCEL)
        raise _Fail(ERR.USER_ACTION_TIMEOUT)

    def _check_pin_uv_param(
        self, req: dict[Any, Any], param_key: int, proto_key: int, client_data_hash: bytes,
        permission: int, rp_id: str,
    ) -> bool:
        """Whether a valid pinUvAuthParam made this request user-verified (raises if invalid)."""
        param = req.get(param_key)
        if param is None:
            return False
        if proto_key not in req:
            raise _Fail(ERR.MISSING_PARAMETER)
        proto = _protocol(req[proto_key], self.pin_protocols)
        if len(param) == 0:
            raise _Fail(ERR.PIN_INVALID if self.pin_set else ERR.PIN_NOT_SET)
        token = self._token
        if token is None or not proto.verify(token.value, client_data_hash, param):
            raise _Fail(ERR.PIN_AUTH_INVALID)
        if not token.permissions & permission:
            raise _Fail(ERR.PIN_AUTH_INVALID)
        if token.rp_id is not None and token.rp_id != rp_id:
            raise _Fail(ERR.PIN_AUTH_INVALID)
        token.rp_id = rp_id
        return True

    def _make_credential(
        self,
        req: dict[Any, Any],
        event: threading.Event | None,
        on_keepalive: Callable[[STATUS], None] | None,
    ) -> dict[Any, Any]:
        try:
            client_data_hash, rp, params = req[1], req[2], req[4]
            _user = req[3]
        except KeyError as e:
            raise _Fail(ERR.MISSING_PARAMETER) from e
        rp_id = rp["id"]
        if not any(p.get("alg") == -7 and p.get("type") == "public-key" for p in params):
            raise _Fail(ERR.UNSUPPORTED_ALGORITHM)
        options = req.get(7) or {}
        if options.get("rk"):
            raise _Fail(ERR.UNSUPPORTED_OPTION)
        if options.get("uv"):
            raise _Fail(ERR.INVALID_OPTION)
        uv = self._check_pin_uv_param(req, 8, 9, client_data_hash, PERM_MC, rp_id)
        if self.pin_set and not uv and not self.make_cred_uv_not_required:
            raise _Fail(ERR.PUAT_REQUIRED)
        rp_id_hash = sha256(rp_id.encode())
        for desc in req.get(5) or []:
            cred = self._credentials.get(desc.get("id"))
            if cred is not None and cred.rp_id_hash == rp_id_hash:
                self._wait_for_touch(event, on_keepalive)
                raise _Fail(ERR.CREDENTIAL_EXCLUDED)
        extensions = req.get(6) or {}
        want_hmac = self.hmac_secret and extensions.get("hmac-secret") is True
        self._wait_for_touch(event, on_keepalive)

        key = ec.generate_private_key(ec.SECP256R1())
        credential_id = secrets.token_bytes(64)
        self._credentials[credential_id] = _Credential(
            rp_id_hash=rp_id_hash, key=key, cred_random_uv=secrets.token_bytes(32),
            cred_random_no_uv=secrets.token_bytes(32), hmac_secret=want_hmac,
        )
        ext_out = {"hmac-secret": True} if want_hmac else {}
        flags = FLAG_UP | FLAG_AT | (FLAG_UV if uv else 0) | (FLAG_ED if ext_out else 0)
        attested = (
            self.aaguid + len(credential_id).to_bytes(2, "big") + credential_id
            + cbor.encode(_cose_p256(key.public_key(), -7))
        )
        auth_data = (
            rp_id_hash + bytes([flags]) + (0).to_bytes(4, "big") + attested
            + (cbor.encode(ext_out) if ext_out else b"")
        )
        return {1: "none", 2: auth_data, 3: {}}

    def _get_assertion(
        self,
        req: dict[Any, Any],
        event: threading.Event | None,
        on_keepalive: Callable[[STATUS], None] | None,
    ) -> dict[Any, Any]:
        try:
            rp_id, client_data_hash = req[1], req[2]
        except KeyError as e:
            raise _Fail(ERR.MISSING_PARAMETER) from e
        options = req.get(5) or {}
        if options.get("uv") or "rk" in options:
            raise _Fail(ERR.INVALID_OPTION)
        up = options.get("up", True)
        uv = self._check_pin_uv_param(req, 6, 7, client_data_hash, PERM_GA, rp_id)
        rp_id_hash = sha256(rp_id.encode())
        found = [
            (desc["id"], self._credentials[desc["id"]])
            for desc in req.get(3) or []
            if desc.get("id") in self._credentials
            and self._credentials[desc["id"]].rp_id_hash == rp_id_hash
        ]
        if up:
            # A real key asks for the touch before saying it holds nothing (no silent probing
            # with up=True); with up=False it answers at once.
            self._wait_for_touch(event, on_keepalive)
        if not found:
            raise _Fail(ERR.NO_CREDENTIALS)
        credential_id, cred = found[0]

        ext_out: dict[str, Any] = {}
        hmac_in = (req.get(4) or {}).get("hmac-secret")
        if hmac_in is not None and cred.hmac_secret:
            ext_out["hmac-secret"] = self._hmac_secret(hmac_in, cred, uv=uv)
        cred.sign_count += 1
        flags = (FLAG_UP if up else 0) | (FLAG_UV if uv else 0) | (FLAG_ED if ext_out else 0)
        auth_data = (
            rp_id_hash + bytes([flags]) + cred.sign_count.to_bytes(4, "big")
            + (cbor.encode(ext_out) if ext_out else b"")
        )
        signature = cred.key.sign(auth_data + client_data_hash, ec.ECDSA(hashes.SHA256()))
        return {1: {"id": credential_id, "type": "public-key"}, 2: auth_data, 3: signature}

    def _hmac_secret(self, hmac_in: Any, cred: _Credential, *, uv: bool) -> bytes:
        """hmac-secret (CTAP 2.1 §12.5): decrypt the salts, HMAC them with CredRandom, encrypt."""
        try:
            platform_key, salt_enc, salt_auth = hmac_in[1], hmac_in[2], hmac_in[3]
        except (KeyError, TypeError) as e:
            raise _Fail(ERR.MISSING_PARAMETER) from e
        proto = _protocol(hmac_in.get(4, 1), self.pin_protocols)
        shared = self._shared_secret(proto, platform_key)
        if not proto.verify(shared, salt_enc, salt_auth):
            raise _Fail(ERR.INVALID_PARAMETER)
        salts = proto.decrypt(shared, salt_enc)
        if len(salts) not in (32, 64):
            raise _Fail(ERR.INVALID_LENGTH)
        cred_random = cred.cred_random_uv if uv else cred.cred_random_no_uv
        output = b"".join(
            hmac.new(cred_random, salts[i:i + 32], hashlib.sha256).digest()
            for i in range(0, len(salts), 32)
        )
        return proto.encrypt(shared, output)

    def _shared_secret(self, proto: _Protocol, platform_key: Any) -> bytes:
        z = self._key_agreement.exchange(ec.ECDH(), _peer_key(platform_key))
        return proto.kdf(z)

    # ----- clientPIN -------------------------------------------------------------------------

    def _client_pin(self, req: dict[Any, Any]) -> dict[Any, Any] | None:
        sub = req.get(2)
        if sub == SUB_GET_PIN_RETRIES:
            return {3: self.pin_retries, 4: self._mismatches >= PIN_MISMATCHES_BEFORE_POWER_CYCLE}
        if 1 not in req:
            raise _Fail(ERR.MISSING_PARAMETER)
        proto = _protocol(req[1], self.pin_protocols)
        if sub == SUB_GET_KEY_AGREEMENT:
            return {1: _cose_p256(self._key_agreement.public_key(), -25)}
        if sub == SUB_SET_PIN:
            self._set_pin(proto, req)
            return None
        if sub == SUB_CHANGE_PIN:
            self._change_pin(proto, req)
            return None
        if sub in (SUB_GET_PIN_TOKEN, SUB_GET_TOKEN_USING_PIN):
            return self._get_pin_token(proto, req, with_permissions=sub == SUB_GET_TOKEN_USING_PIN)
        raise _Fail(ERR.INVALID_SUBCOMMAND)

    def _new_pin(self, proto: _Protocol, shared: bytes, new_pin_enc: bytes) -> bytes:
        padded = proto.decrypt(shared, new_pin_enc)
        if len(padded) < 64:
            raise _Fail(ERR.PIN_POLICY_VIOLATION)
        pin = padded.rstrip(b"\x00")
        if len(pin.decode(errors="replace")) < MIN_PIN_LENGTH or len(pin) > 63:
            raise _Fail(ERR.PIN_POLICY_VIOLATION)
        return sha256(pin)[:16]

    def _set_pin(self, proto: _Protocol, req: dict[Any, Any]) -> None:
        if any(k not in req for k in (3, 4, 5)):
            raise _Fail(ERR.MISSING_PARAMETER)
        if self.pin_set:
            raise _Fail(ERR.NOT_ALLOWED)
        shared = self._shared_secret(proto, req[3])
        if not proto.verify(shared, req[5], req[4]):
            raise _Fail(ERR.PIN_AUTH_INVALID)
        self._pin_hash = self._new_pin(proto, shared, req[5])
        self.pin_retries = PIN_RETRIES_MAX

    def _check_pin_hash(self, proto: _Protocol, shared: bytes, pin_hash_enc: bytes) -> None:
        """Decrement the retries, compare the PIN hash, count mismatches (CTAP 2.1 §6.5.5.5)."""
        if self._pin_hash is None:
            raise _Fail(ERR.PIN_NOT_SET)
        if self.pin_retries == 0:
            raise _Fail(ERR.PIN_BLOCKED)
        if self._mismatches >= PIN_MISMATCHES_BEFORE_POWER_CYCLE:
            raise _Fail(ERR.PIN_AUTH_BLOCKED)
        self.pin_retries -= 1
        if hmac.compare_digest(proto.decrypt(shared, pin_hash_enc), self._pin_hash):
            self.pin_retries = PIN_RETRIES_MAX
            self._mismatches = 0
            return
        self._key_agreement = ec.generate_private_key(ec.SECP256R1())
        self._mismatches += 1
        if self.pin_retries == 0:
            raise _Fail(ERR.PIN_BLOCKED)
        if self._mismatches >= PIN_MISMATCHES_BEFORE_POWER_CYCLE:
            raise _Fail(ERR.PIN_AUTH_BLOCKED)
        raise _Fail(ERR.PIN_INVALID)

    def _change_pin(self, proto: _Protocol, req: dict[Any, Any]) -> None:
        if any(k not in req for k in (3, 4, 5, 6)):
            raise _Fail(ERR.MISSING_PARAMETER)
        if self.pin_retries == 0:
            raise _Fail(ERR.PIN_BLOCKED)
        shared = self._shared_secret(proto, req[3])
        if not proto.verify(shared, req[5] + req[6], req[4]):
            raise _Fail(ERR.PIN_AUTH_INVALID)
        self._check_pin_hash(proto, shared, req[6])
        self._pin_hash = self._new_pin(proto, shared, req[5])
        self._token = None

    def _get_pin_token(
        self, proto: _Protocol, req: dict[Any, Any], *, with_permissions: bool
    ) -> dict[Any, Any]:
        if 3 not in req or 6 not in req:
            raise _Fail(ERR.MISSING_PARAMETER)
        permissions, rp_id = PERM_MC | PERM_GA, None
        if with_permissions:
            permissions = req.get(9, 0)
            rp_id = req.get(10)
            if not permissions:
                raise _Fail(ERR.MISSING_PARAMETER)
            if permissions & ~(PERM_MC | PERM_GA):
                raise _Fail(ERR.UNAUTHORIZED_PERMISSION)
        elif 9 in req or 10 in req:
            raise _Fail(ERR.INVALID_PARAMETER)
        shared = self._shared_secret(proto, req[3])
        self._check_pin_hash(proto, shared, req[6])
        self._token = _Token(secrets.token_bytes(32), permissions, rp_id)
        return {2: proto.encrypt(shared, self._token.value)}
