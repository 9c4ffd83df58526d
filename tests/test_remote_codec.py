"""The KV data and custom metadata a server sends back are outside input: fuzzed with
Hypothesis, they give a value or one-sentence RemoteDataInvalid, never another exception; what
Strongroom publishes reads back as the same bytes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.app import entries
from strongroom.app.model import Classification, SecretInfo
from strongroom.app.remotes import codec
from strongroom.app.remotes.codec import RemoteDataInvalid

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | \
    st.text(max_size=50)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=12)
kv_data = st.dictionaries(st.sampled_from([*codec.DATA_KEYS, "password", "", "valüe"])
                          | st.text(max_size=12), json_values | st.text(max_size=80),
                          max_size=4)
KINDS = st.sampled_from(codec.KINDS)


@settings(max_examples=400, deadline=None)
@given(data=kv_data | json_values, kind=KINDS)
def test_anything_a_server_returns_is_a_value_or_one_sentence(data: object, kind: str) -> None:
    try:
        value = codec.from_kv(data, kind, "secret/x version 2")
    except RemoteDataInvalid as e:
        assert "\n" not in str(e) and str(e).startswith("secret/x version 2")
    else:
        assert isinstance(value, bytes) and value


@settings(max_examples=300, deadline=None)
@given(value=st.binary(min_size=1, max_size=300))
def test_a_published_value_reads_back_as_the_same_bytes(value: bytes) -> None:
    data = codec.to_kv("value", value)
    assert json.loads(json.dumps(data)) == data  # what the server stores is JSON
    assert codec.from_kv(data, "value", "p") == value


def test_an_entry_and_a_totp_read_back() -> None:
    entry = entries.Entry(password="pw", username="u", url="https://x.example/",
                          fields=(entries.Field("PIN", "0451", True),)).encode()
    assert codec.from_kv(codec.to_kv("entry", entry), "entry", "p") == entry
    uri = b"otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&digits=6"
    stored = codec.from_kv({"value": uri.decode()}, "totp", "p")
    assert stored.startswith(b"otpauth://totp/")


@settings(max_examples=300, deadline=None)
@given(custom=st.dictionaries(st.sampled_from([codec.META_NAME, codec.META_LEVEL,
                                               codec.META_KIND, codec.META_VERSION, "x"]),
                              json_values | st.text(max_size=300), max_size=5) | json_values)
def test_custom_metadata_from_a_server_never_raises(custom: object) -> None:
    facts = codec.parse_metadata(custom)
    assert facts.level is None or isinstance(facts.level, Classification)
    assert facts.version is None or facts.version >= 0
    assert facts.kind in (None, *codec.KINDS)


def test_published_metadata_parses_back_and_holds_no_value() -> None:
    info = SecretInfo(7, "prod/db", Classification.High, "alice", "n", ("t",), "c", "u", None,
                      None, 3, "value")
    meta = codec.metadata("vault-id", info)
    facts = codec.parse_metadata(meta)
    assert (facts.name, facts.level, facts.kind, facts.version) == \
        ("prod/db", Classification.High, "value", 3)
    assert all(isinstance(v, str) for v in meta.values())


@settings(max_examples=200, deadline=None)
@given(tags=st.lists(st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn",
                                                                  "Zl", "Zp", "Zs")),
                             min_size=1, max_size=64).filter(lambda t: "," not in t),
                     max_size=20, unique=True),
       name=st.sampled_from(["a", "x" * 256, "prod/db"]))
def test_every_published_metadata_value_is_one_the_server_takes(tags: list[str], name: str
                                                                ) -> None:
    info = SecretInfo(1, name, Classification.Low, "o", "", tuple(tags), "c", "u", None, None,
                      99999, "value")
    meta = codec.metadata("0123456789abcdef0123456789abcdef", info)
    assert all(0 < len(v.encode()) <= 512 and 0 < len(k) <= 128 for k, v in meta.items())
    assert len(meta) <= 64
