"""TOTP seeds: the RFC 6238 vectors, otpauth URIs, KeePassXC's legacy fields, and bad seeds."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from strongroom.app import totp
from strongroom.app.errors import UsageError

# RFC 6238 appendix B: the seeds are ASCII digits, 20/32/64 bytes for SHA-1/256/512.
SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
VECTORS = [
    (59, {"SHA1": "94287082", "SHA256": "46119246", "SHA512": "90693936"}),
    (1111111109, {"SHA1": "07081804", "SHA256": "68084774", "SHA512": "25091201"}),
    (1111111111, {"SHA1": "14050471", "SHA256": "67062674", "SHA512": "99943326"}),
    (1234567890, {"SHA1": "89005924", "SHA256": "91819424", "SHA512": "93441116"}),
    (2000000000, {"SHA1": "69279037", "SHA256": "90698825", "SHA512": "38618901"}),
    (20000000000, {"SHA1": "65353130", "SHA256": "77737706", "SHA512": "47863826"}),
]


def b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode()


@pytest.mark.parametrize("moment,codes", VECTORS)
@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
def test_rfc_6238_vectors(algorithm: str, moment: int, codes: dict[str, str]) -> None:
    spec = totp.make(b32(SEEDS[algorithm]), algorithm, digits=8)
    assert spec.code(moment) == codes[algorithm]
    # and the same through the URI it is stored as
    assert totp.parse(spec.uri()).code(moment) == codes[algorithm]


def test_a_uri_keeps_every_parameter() -> None:
    uri = ("otpauth://totp/ACME%20Co:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME%20Co"
           "&algorithm=SHA256&digits=7&period=60")
    spec = totp.parse(uri)
    assert spec.public() == {"algorithm": "SHA256", "digits": 7, "period": 60,
                             "issuer": "ACME Co", "account": "alice@example.com"}
    assert totp.parse(spec.uri()) == spec
    assert len(spec.code()) == 7
    assert 1 <= spec.remaining() <= 60


def test_a_bare_seed_is_sha1_six_digits_thirty_seconds_and_spaces_are_ignored() -> None:
    spec = totp.parse("jbsw y3dp ehpk 3pxp")
    assert (spec.secret, spec.algorithm, spec.digits, spec.period) == (
        "JBSWY3DPEHPK3PXP", "SHA1", 6, 30)


def test_keepassxc_legacy_fields() -> None:
    spec = totp.from_keepass(b32(SEEDS["SHA1"]), "30;8")
    assert spec.code(59) == "94287082"
    with pytest.raises(UsageError, match="Steam"):
        totp.from_keepass(b32(SEEDS["SHA1"]), "30;S")


@pytest.mark.parametrize("text,message", [
    ("", "1 to"),
    ("not base32 at all!", "not base32"),
    ("JBSWY3DP", "shorter than 80 bits"),
    ("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=1", "only otpauth://totp"),
    ("otpauth://totp/x?issuer=a", "no secret"),
    ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", "unknown TOTP algorithm"),
    ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=9", "6, 7 or 8 digits"),
    ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=six", "not a whole number"),
    ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0", "period"),
    ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&secret=GEZDGNBVGY3TQOJQ", "twice"),
])
def test_bad_seeds_are_one_sentence(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        totp.parse(text)


@given(st.text(max_size=300))
def test_any_text_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        spec = totp.parse(text)
    except UsageError as e:
        assert str(e) and "\n" not in str(e)
    else:
        assert spec.code(0).isdigit()


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=&?%:/", max_size=120))
def test_hostile_uris_are_refused_cleanly(tail: str) -> None:
    try:
        spec = totp.parse("otpauth://totp/" + tail)
    except UsageError as e:
        assert "\n" not in str(e)
    else:
        assert spec.code(0).isdigit()
