"""What Transit sends, parsed: the ``vault:v<N>:<base64>`` signature text and public keys. Fuzzed
with hypothesis: anything malformed is a MalformedAnswer (one sentence), never another error."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.app.errors import HardwareError
from strongroom.backends.openbao._transit_wire import (
    MalformedAnswer,
    check_signature,
    parse_signature,
    public_key_der,
)

EC_KEY = ec.generate_private_key(ec.SECP256R1()).public_key()
RSA_KEY = rsa.generate_private_key(65537, 2048).public_key()
ED_KEY = ed25519.Ed25519PrivateKey.generate().public_key()


def _is_one_sentence(e: MalformedAnswer) -> None:
    assert isinstance(e, HardwareError) and e.exit_code == 1
    assert str(e) and "\n" not in str(e) and len(str(e)) < 200


@pytest.mark.parametrize(("text", "version", "raw"), [
    ("vault:v1:AAEC", 1, b"\x00\x01\x02"),
    ("vault:v12:/w==", 12, b"\xff"),
    ("vault:v4294967295:QUJD", 4294967295, b"ABC"),
])
def test_well_formed_signatures_parse(text, version, raw):
    assert parse_signature(text) == (version, raw)


@pytest.mark.parametrize("text", [
    "", "vault:", "vault:v1:", "vault:v0:AAEC", "vault:v01:AAEC", "vault:v-1:AAEC",
    "vault:vx:AAEC", "vault:v1:AAE", "vault:v1:AA=C", "vault:v1:AAEC ", " vault:v1:AAEC",
    "vault:v1:AAEC\n", "vault:v1:AA-_", "VAULT:v1:AAEC", "vault:v1:AAEC:extra", "vault:v1:001=",
    "vault:v１:AAEC", "vault:v12345678901:AAEC", None, 17, b"vault:v1:AAEC", ["vault:v1:AAEC"],
])
def test_malformed_signatures_are_one_sentence(text):
    with pytest.raises(MalformedAnswer) as e:
        parse_signature(text)
    _is_one_sentence(e.value)


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.text(),
    st.text(alphabet="vault:0123456789ABCDEFabcdef+/=-_ \n\x00é").map(lambda t: "vault:v" + t),
    st.builds(lambda v, b: f"vault:v{v}:{b}", st.integers(-5, 10**12),
              st.text(alphabet="ABCabc019+/=", max_size=12)),
    st.none(), st.integers(), st.binary(), st.lists(st.text(), max_size=2),
))
def test_any_answer_parses_or_is_a_malformed_answer(text):
    try:
        version, raw = parse_signature(text)
    except MalformedAnswer as e:
        _is_one_sentence(e)
        return
    assert isinstance(text, str) and text.startswith(f"vault:v{version}:")
    assert version >= 1 and raw and base64.b64encode(raw).decode() == text.split(":", 2)[2]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([EC_KEY, RSA_KEY, ED_KEY]))
def test_any_raw_signature_fits_the_key_or_is_a_malformed_answer(raw, public):
    try:
        out = check_signature(public, raw)
    except MalformedAnswer as e:
        _is_one_sentence(e)
        return
    if isinstance(public, ec.EllipticCurvePublicKey):
        assert out[0] == 0x30  # DER, re-encoded by cryptography
    else:
        assert out == raw


def test_ecdsa_der_is_normalised_and_bounds_are_checked():
    der = encode_dss_signature(5, 7)
    assert check_signature(EC_KEY, der) == der
    with pytest.raises(MalformedAnswer):
        check_signature(EC_KEY, encode_dss_signature(0, 7))
    with pytest.raises(MalformedAnswer):
        check_signature(EC_KEY, encode_dss_signature(1 << 300, 7))
    with pytest.raises(MalformedAnswer):
        check_signature(RSA_KEY, b"\x00" * 255)
    with pytest.raises(MalformedAnswer):
        check_signature(ED_KEY, b"\x00" * 63)


def test_public_keys_load_and_must_be_of_their_type():
    pem = EC_KEY.public_bytes(serialization.Encoding.PEM,
                              serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    der = public_key_der("ecdsa-p256", pem)
    assert serialization.load_der_public_key(der) == EC_KEY
    raw = base64.b64encode(ED_KEY.public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)).decode()
    assert serialization.load_der_public_key(public_key_der("ed25519", raw)) == ED_KEY
    for kind, text in (("rsa-2048", pem), ("ecdsa-p256", ""), ("ecdsa-p256", None),
                       ("ed25519", "not base64!"), ("ed25519", base64.b64encode(b"x" * 31)
                                                     .decode()), ("ecdsa-p256", "-----BEGIN")):
        with pytest.raises(MalformedAnswer) as e:
            public_key_der(kind, text)
        _is_one_sentence(e.value)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["ecdsa-p256", "rsa-3072", "ed25519"]),
       st.one_of(st.text(), st.none(), st.integers(), st.binary()))
def test_any_public_key_text_loads_or_is_a_malformed_answer(kind, text):
    try:
        public_key_der(kind, text)
    except MalformedAnswer as e:
        _is_one_sentence(e)
