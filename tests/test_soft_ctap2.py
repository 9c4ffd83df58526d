"""The software CTAP2 authenticator, driven through python-fido2's real Fido2Client and Ctap2.

The PRF known-answer tests compute the expected output independently of both python-fido2 and
the authenticator's hmac-secret code: HMAC-SHA256(CredRandom, SHA-256("WebAuthn PRF" ‖ 0 ‖ salt)).
"""

from __future__ import annotations

import os
import threading

import pytest
from fido2 import cbor
from fido2.client import ClientError, DefaultClientDataCollector, Fido2Client, UserInteraction
from fido2.ctap import CtapError
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2
from fido2.hid import CTAPHID
from fido2.webauthn import AuthenticatorData

from helpers.soft_ctap2 import PIN_RETRIES_MAX, SoftAuthenticator, prf_expected

RP = "strongroom.local"
PIN = "4821"
ERR = CtapError.ERR
PROTOCOLS = {1: PinProtocolV1, 2: PinProtocolV2}


class FixedPin(UserInteraction):
    def __init__(self, pin: str | None = PIN) -> None:
        self.pin = pin
        self.touch_prompts = 0
        self.pin_requests = 0

    def prompt_up(self) -> None:
        self.touch_prompts += 1

    def request_pin(self, permissions, rp_id):
        self.pin_requests += 1
        return self.pin


def client(key: SoftAuthenticator, ui: UserInteraction | None = None) -> Fido2Client:
    return Fido2Client(key, DefaultClientDataCollector(f"https://{RP}"), ui or FixedPin())


def make_prf_credential(c: Fido2Client, uv: str = "discouraged") -> bytes:
    reg = c.make_credential({
        "rp": {"id": RP, "name": "Strongroom"},
        "user": {"id": b"user", "name": "admin"},
        "challenge": os.urandom(32),
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"residentKey": "discouraged", "userVerification": uv},
        "extensions": {"prf": {}},
    })
    assert reg.client_extension_results.prf.enabled is True
    return bytes(reg.raw_id)


def prf(c: Fido2Client, credential_id: bytes, salt: bytes, uv: str = "discouraged"
        ) -> tuple[bytes, AuthenticatorData]:
    response = c.get_assertion({
        "challenge": os.urandom(32),
        "rpId": RP,
        "allowCredentials": [{"type": "public-key", "id": credential_id}],
        "userVerification": uv,
        "extensions": {"prf": {"eval": {"first": salt}}},
    }).get_response(0)
    return response.client_extension_results.prf.results.first, response.response.authenticator_data


def pin_token(key: SoftAuthenticator, pin: str, version: int = 2) -> bytes:
    return ClientPin(Ctap2(key), PROTOCOLS[version]()).get_pin_token(
        pin, ClientPin.PERMISSION.GET_ASSERTION, RP
    )


def pin_error(key: SoftAuthenticator, pin: str, version: int = 2) -> CtapError.ERR:
    with pytest.raises(CtapError) as e:
        pin_token(key, pin, version)
    return e.value.code


def retries(key: SoftAuthenticator) -> int:
    return ClientPin(Ctap2(key)).get_pin_retries()[0]


# ----- getInfo ----------------------------------------------------------------------------------


def test_get_info_is_canonical_cbor_and_advertises_what_the_client_needs() -> None:
    key = SoftAuthenticator(pin=PIN)
    raw = key.call(CTAPHID.CBOR, bytes([Ctap2.CMD.GET_INFO]))
    assert raw[0] == 0
    assert cbor.encode(cbor.decode(raw[1:])) == raw[1:]
    info = Ctap2(key).info  # strict_cbor: raises on non-canonical answers
    assert info.versions == ["FIDO_2_0", "FIDO_2_1"]
    assert info.extensions == ["hmac-secret"]
    assert info.pin_uv_protocols == [2, 1]
    assert info.options["clientPin"] is True
    assert info.options["rk"] is False
    assert info.aaguid == key.aaguid
    assert Ctap2(SoftAuthenticator()).info.options["clientPin"] is False


def test_a_non_cbor_command_is_refused() -> None:
    assert SoftAuthenticator().call(CTAPHID.MSG, b"\x00\x01") == bytes([ERR.INVALID_COMMAND])


# ----- PRF over hmac-secret: known answers -----------------------------------------------------


@pytest.mark.parametrize("version", [2, 1])
@pytest.mark.parametrize("uv", ["discouraged", "required"])
def test_prf_output_matches_an_independent_computation(version: int, uv: str) -> None:
    key = SoftAuthenticator(pin=PIN, pin_protocols=(version,))
    c = client(key)
    credential_id = make_prf_credential(c, uv)
    salt = os.urandom(32)
    output, auth_data = prf(c, credential_id, salt, uv)
    assert output == prf_expected(key.cred_random(credential_id, uv=uv == "required"), salt)
    assert auth_data.is_user_verified() == (uv == "required")
    assert auth_data.is_user_present()


def test_uv_and_non_uv_assertions_use_separate_cred_randoms() -> None:
    key = SoftAuthenticator(pin=PIN)
    c = client(key)
    credential_id = make_prf_credential(c)
    salt = os.urandom(32)
    plain, _ = prf(c, credential_id, salt, "discouraged")
    verified, _ = prf(c, credential_id, salt, "required")
    assert plain != verified
    assert plain == prf_expected(key.cred_random(credential_id, uv=False), salt)
    assert verified == prf_expected(key.cred_random(credential_id, uv=True), salt)
    assert prf(c, credential_id, salt, "discouraged")[0] == plain  # deterministic


def test_without_hmac_secret_the_client_reports_prf_not_enabled() -> None:
    key = SoftAuthenticator(hmac_secret=False)
    reg = client(key).make_credential({
        "rp": {"id": RP, "name": "Strongroom"}, "user": {"id": b"u", "name": "a"},
        "challenge": os.urandom(32), "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        "authenticatorSelection": {"userVerification": "discouraged"},
        "extensions": {"prf": {}},
    })
    prf_out = getattr(reg.client_extension_results, "prf", None)
    assert prf_out is None or not prf_out.enabled


# ----- credentials ------------------------------------------------------------------------------


def test_dummy_and_foreign_credentials_get_no_credentials_without_a_touch() -> None:
    key = SoftAuthenticator(touch_after=None)  # a touch would time out
    other = SoftAuthenticator()
    foreign = make_prf_credential(client(other))
    own = make_prf_credential(client(SoftAuthenticator()))  # yet another key
    ctap = Ctap2(key)
    for cid in (b"\x00", foreign, own):
        with pytest.raises(CtapError) as e:
            ctap.get_assertion(RP, b"\x00" * 32, [{"type": "public-key", "id": cid}],
                               options={"up": False})
        assert e.value.code == ERR.NO_CREDENTIALS
    assert key.touches_requested == 0


def test_silent_probe_finds_the_credential_without_a_touch() -> None:
    key = SoftAuthenticator()
    credential_id = make_prf_credential(client(key))
    key.touch_after = None
    before = key.touches_requested
    resp = Ctap2(key).get_assertion(
        RP, b"\x00" * 32,
        [{"type": "public-key", "id": b"\x01" * 16}, {"type": "public-key", "id": credential_id}],
        options={"up": False},
    )
    assert resp.credential["id"] == credential_id
    assert not resp.auth_data.is_user_present()
    assert key.touches_requested == before


def test_credential_of_another_rp_id_is_not_found() -> None:
    key = SoftAuthenticator()
    credential_id = make_prf_credential(client(key))
    with pytest.raises(CtapError) as e:
        Ctap2(key).get_assertion("example.com", b"\x00" * 32,
                                 [{"type": "public-key", "id": credential_id}],
                                 options={"up": False})
    assert e.value.code == ERR.NO_CREDENTIALS


# ----- touches ----------------------------------------------------------------------------------


def test_an_untouched_key_times_out() -> None:
    key = SoftAuthenticator(touch_after=None, touch_timeout=0.05)
    with pytest.raises(CtapError) as e:
        Ctap2(key).selection()
    assert e.value.code == ERR.USER_ACTION_TIMEOUT
    assert key.touches_requested == 1
    assert key.touches == 0


def test_cancel_while_waiting_for_a_touch_answers_keepalive_cancel() -> None:
    key = SoftAuthenticator(touch_after=None, touch_timeout=None)
    cancel = threading.Event()
    timer = threading.Timer(0.05, cancel.set)
    timer.start()
    with pytest.raises(CtapError) as e:
        Ctap2(key).selection(event=cancel)
    timer.join()
    assert e.value.code == ERR.KEEPALIVE_CANCEL


def test_a_touch_is_prompted_through_keepalive() -> None:
    key = SoftAuthenticator(touch_after=0.01)
    ui = FixedPin()
    make_prf_credential(client(key, ui))
    assert ui.touch_prompts == 1
    assert key.touches == key.touches_requested == 1


# ----- clientPIN --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
def test_set_and_change_pin_with_each_protocol(version: int) -> None:
    key = SoftAuthenticator(pin_protocols=(version,))
    pin = ClientPin(Ctap2(key), PROTOCOLS[version]())
    pin.set_pin(PIN)
    assert key.pin_set
    assert Ctap2(key).get_info().options["clientPin"] is True
    with pytest.raises(CtapError) as e:
        pin.set_pin("9999")
    assert e.value.code == ERR.NOT_ALLOWED
    pin.change_pin(PIN, "73619")
    assert len(pin_token(key, "73619", version)) == 32
    assert pin_error(key, PIN, version) == ERR.PIN_INVALID


@pytest.mark.parametrize("version", [1, 2])
def test_legacy_get_pin_token_and_a_forged_pin_uv_auth_param(version: int) -> None:
    key = SoftAuthenticator(pin=PIN)
    proto = PROTOCOLS[version]()
    token = ClientPin(Ctap2(key), proto).get_pin_token(PIN)  # subcommand 5, no permissions
    credential_id = make_prf_credential(client(key))
    ctap = Ctap2(key)
    allow = [{"type": "public-key", "id": credential_id}]
    good = proto.authenticate(token, b"\x01" * 32)
    resp = ctap.get_assertion(RP, b"\x01" * 32, allow, None, {"up": False}, good, version)
    assert resp.auth_data.is_user_verified()
    with pytest.raises(CtapError) as e:
        ctap.get_assertion(RP, b"\x02" * 32, allow, None, {"up": False}, good, version)
    assert e.value.code == ERR.PIN_AUTH_INVALID


def test_short_pin_is_refused_by_the_authenticator_too() -> None:
    key = SoftAuthenticator()
    pin = ClientPin(Ctap2(key))
    key_agreement, shared = pin._get_shared_secret()  # the client itself refuses short PINs
    pin_enc = pin.protocol.encrypt(shared, b"12".ljust(64, b"\x00"))
    with pytest.raises(CtapError) as e:
        pin.ctap.client_pin(
            pin.protocol.VERSION, ClientPin.CMD.SET_PIN, key_agreement=key_agreement,
            new_pin_enc=pin_enc, pin_uv_param=pin.protocol.authenticate(shared, pin_enc),
        )
    assert e.value.code == ERR.PIN_POLICY_VIOLATION
    assert not key.pin_set


def test_wrong_pins_decrement_retries_and_a_right_one_resets_them() -> None:
    key = SoftAuthenticator(pin=PIN)
    assert retries(key) == PIN_RETRIES_MAX
    assert pin_error(key, "0000", 1) == ERR.PIN_INVALID
    assert retries(key) == PIN_RETRIES_MAX - 1
    assert pin_error(key, "0000", 2) == ERR.PIN_INVALID
    assert retries(key) == PIN_RETRIES_MAX - 2
    pin_token(key, PIN)
    assert retries(key) == PIN_RETRIES_MAX


def test_three_wrong_pins_in_a_row_need_a_power_cycle() -> None:
    key = SoftAuthenticator(pin=PIN)
    assert [pin_error(key, "0000") for _ in range(3)] == [
        ERR.PIN_INVALID, ERR.PIN_INVALID, ERR.PIN_AUTH_BLOCKED
    ]
    assert ClientPin(Ctap2(key)).get_pin_retries() == (PIN_RETRIES_MAX - 3, True)
    assert pin_error(key, PIN) == ERR.PIN_AUTH_BLOCKED  # even the right PIN, until re-plugged
    assert retries(key) == PIN_RETRIES_MAX - 3
    key.power_cycle()
    pin_token(key, PIN)
    assert retries(key) == PIN_RETRIES_MAX


def test_pin_blocks_at_zero_retries() -> None:
    key = SoftAuthenticator(pin=PIN)
    codes = []
    for _ in range(PIN_RETRIES_MAX):
        key.power_cycle()  # re-plugged each time, as a patient attacker would
        codes.append(pin_error(key, "0000"))
    assert codes == [ERR.PIN_INVALID] * (PIN_RETRIES_MAX - 1) + [ERR.PIN_BLOCKED]
    assert retries(key) == 0
    key.power_cycle()
    assert pin_error(key, PIN) == ERR.PIN_BLOCKED


def test_uv_required_without_a_pin_set_is_refused_by_the_client() -> None:
    key = SoftAuthenticator()
    with pytest.raises(ClientError) as e:
        make_prf_credential(client(key), "required")
    assert e.value.code == ClientError.ERR.CONFIGURATION_UNSUPPORTED
