"""The parsers of outside input in the compliance path, attacked: evidence files (--evidence DIR),
policy files (--policy FILE) and the first-seen state file.

Each has documented errors and nothing else: a bad evidence file is EvidenceInvalid (an
IntegrityError, exit 3), a bad policy file is a UsageError (exit 2), a bad state file is empty
memory. Any other exception — RecursionError, OverflowError, a ValueError from int() — is a bug,
and so is a message that is not one line. The hypothesis runs are derandomized, so a failure
reproduces.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.app.compliance import evidence_io, first_seen, policy, registry
from strongroom.app.compliance.evidence_io import EvidenceInvalid
from strongroom.app.compliance.model import Policy
from strongroom.app.errors import StrongroomError, UsageError

from conftest import run_cli
from helpers.compliance_cases import CHECK_IDS, FIXTURES, NOW, cases

FUZZ = settings(max_examples=400, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SAMPLE_BUNDLES = [p.parent / "evidence.json" for p in cases("linux")[:6] + cases("windows")[:6]
                  + cases("macos")[:6]]
DEEP = 100_000


def one_sentence(error: StrongroomError) -> str:
    text = str(error)
    assert text and "\n" not in text and len(text) < 600, text
    assert "Traceback" not in text and "RecursionError" not in text, text
    return text


def refused_evidence(data: bytes) -> EvidenceInvalid:
    with pytest.raises(EvidenceInvalid) as info:
        evidence_io.bundle_from_bytes(data, "case/evidence.json")
    assert info.value.exit_code == 3
    one_sentence(info.value)
    return info.value


def refused_policy(text: str) -> UsageError:
    with pytest.raises(UsageError) as info:
        policy.parse_policy(text, "policy.toml")
    assert info.value.exit_code == 2
    one_sentence(info.value)
    return info.value


@pytest.fixture
def state_env(tmp_path: Path) -> dict[str, str]:
    return {"STRONGROOM_STATE_DIR": str(tmp_path / "state"),
            "STRONGROOM_VAULT": str(tmp_path / "no-vault")}


# ----- evidence files: the named hostile inputs ------------------------------------------------


def test_evidence_nested_100000_deep_is_refused_with_one_sentence() -> None:
    for data in (b"[" * DEEP + b"]" * DEEP,
                 b'{"format": 1, "os": "linux", "items": ' + b'{"a": ' * DEEP + b"1"
                 + b"}" * DEEP + b"}"):
        assert "nests arrays or objects more than 32 levels deep" in str(refused_evidence(data))


def test_evidence_nested_deeper_than_a_bundle_needs_is_refused_before_it_is_used() -> None:
    """Deep enough to parse, too deep to be a bundle (so no check ever walks it)."""
    value: Any = "x"
    for _ in range(40):
        value = [value]
    bundle = {"format": 1, "os": "linux", "items": {}, "extra": value}
    assert "more than 32 levels" in str(refused_evidence(json.dumps(bundle).encode()))
    bundle["extra"] = [[["shallow"]]]
    assert evidence_io.bundle_from_bytes(json.dumps(bundle).encode()).items == {}


@pytest.mark.parametrize(("data", "says"), [
    (b"\xff\xfe{}", "is not UTF-8 text (byte 0xff at offset 0)"),
    (b'{"format": 1, "os": "linux", "items": {}, "host": "caf\xe9"}', "is not UTF-8 text"),
    (b"{oops", "is not valid JSON"),
    (b'{"format": ' + b"9" * 5000 + b"}", "more than 4,300 digits"),
    (b'{"format": 1, "os": "linux", "items": {"a": {"kind": "command", "argv": ["x"], '
     b'"duration": 1e999}}}', "'duration' must be a number of seconds"),
    (b'{"format": 1, "os": "linux", "items": {"a": {"kind": "command", "argv": ["x"], '
     b'"exit_code": 1.5}}}', "'exit_code' must be a whole number"),
    (b'{"format": 1, "os": "linux", "items": {"a": {"kind": "file", "path": ["x"]}}}',
     "'path' must be text"),
    (b'{"format": 1, "os": [[[[1]]]], "items": {}}', "unknown os a JSON array"),
    (b'{"format": 1, "os": "linux", "items": {}, "collected": "yesterday"}',
     "'collected' is not an ISO 8601 time"),
    (b'{"format": true, "os": "linux", "items": {}}', "evidence format True"),
])
def test_bad_evidence_bytes_are_one_sentence(data: bytes, says: str) -> None:
    assert says in str(refused_evidence(data))


def test_an_evidence_file_over_the_size_limit_is_refused(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence_io, "MAX_BUNDLE_BYTES", 1024)
    (tmp_path / "evidence.json").write_bytes(b" " * 1025)
    with pytest.raises(EvidenceInvalid, match="larger than"):
        evidence_io.load_bundle(tmp_path)


def test_cli_deep_and_non_utf8_evidence_exit_3_with_one_line(state_env: dict[str, str],
                                                             tmp_path: Path) -> None:
    for name, data in (("deep", b"[" * DEEP + b"]" * DEEP), ("latin1", b"\xe9t\xe9")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "evidence.json").write_bytes(data)
        r = run_cli("check", "--evidence", str(folder), env=state_env)
        assert r.code == 3, r.err
        assert r.err.count("\n") == 1 and "internal error" not in r.err, r.err
        assert str(folder / "evidence.json") in r.err


# ----- policy files ----------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "says"), [
    ("max_patch_age_days = " + "[" * DEEP + "]" * DEEP, "nests arrays or tables too deeply"),
    ("max_patch_age_days = " + "{a = " * 2000 + "1" + "}" * 2000, "tables too deeply"),
    ("max_patch_age_days = " + "9" * 5000, "more than 4,300 digits"),
    ("max_patch_age_days = " + "9" * 40, "not a huge number"),
    ("max_patch_age_days = [[1]]", "not an array"),
    ("max_patch_age_days = nan", "not nan"),
    ('required = ["' + "x" * 5000 + '"]', "unknown check"),
])
def test_bad_policy_text_is_one_sentence(text: str, says: str) -> None:
    message = str(refused_policy(text))
    assert says in message and len(message) < 400


def test_policy_files_too_big_not_utf8_or_endless_are_usage_errors(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * policy.MAX_FILE_BYTES + "\n")
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b"# caf\xe9\nmax_patch_age_days = 3\n")
    for path, says in ((big, "larger than 64 KiB"), (latin1, "not UTF-8 text (byte 0xe9"),
                       (Path("/dev/zero"), "larger than 64 KiB")):
        with pytest.raises(UsageError) as info:
            policy.load_policy(path)
        assert says in one_sentence(info.value)


def test_cli_deep_policy_exit_2_with_one_line(state_env: dict[str, str], tmp_path: Path) -> None:
    deep = tmp_path / "deep.toml"
    depth = 30_000  # as deep as fits in the 64 KiB a policy may have
    deep.write_text("required = " + "[" * depth + "]" * depth + "\n")
    case = FIXTURES / "tpm" / "linux" / "container"
    r = run_cli("check", "--policy", str(deep), "--evidence", str(case), env=state_env)
    assert r.code == 2 and r.err.count("\n") == 1 and "too deeply" in r.err, r.err


# ----- fuzz: evidence --------------------------------------------------------------------------

json_scalars = (st.none() | st.booleans() | st.integers() | st.floats()
                | st.text(max_size=20))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=30,
)
ITEM_KEYS = ("kind", "argv", "exit_code", "stdout", "stderr", "error", "duration", "path",
             "content", "key", "name", "type", "value")
items = st.dictionaries(
    st.sampled_from(ITEM_KEYS),
    json_values | st.sampled_from(["command", "file", "registry"]),
    max_size=len(ITEM_KEYS),
)
bundles = st.fixed_dictionaries(
    {"format": st.just(1) | json_values, "os": st.sampled_from(["linux", "macos", "windows"])
     | json_values, "items": st.dictionaries(st.text(max_size=30), items | json_values,
                                             max_size=5)},
    optional={"collected": st.sampled_from(["2026-11-23T10:00:00Z", "", "2026-13-01"])
              | json_values, "host": json_values},
)


def _judged_without_raising(data: bytes) -> None:
    """Parse; a bundle that loads must be judged by its OS's checks without raising."""
    try:
        bundle = evidence_io.bundle_from_bytes(data, "fuzz/evidence.json")
    except EvidenceInvalid as e:
        assert e.exit_code == 3
        one_sentence(e)
        return
    table, _ = registry.checks_for(bundle.os)
    assert table is not None
    for check_id in CHECK_IDS:
        table[check_id](bundle, Policy(), NOW)


@FUZZ
@given(bundles)
def test_fuzz_structured_evidence_raises_only_evidence_invalid(obj: dict[str, Any]) -> None:
    _judged_without_raising(json.dumps(obj, allow_nan=True).encode())


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes_raise_only_evidence_invalid(data: bytes) -> None:
    _judged_without_raising(data)


@FUZZ
@given(st.sampled_from(SAMPLE_BUNDLES), st.data())
def test_fuzz_recorded_bundles_cut_spliced_and_nested(path: Path, data: st.DataObject) -> None:
    """Real bundles cut, with bytes or brackets spliced in, or a value replaced by deep
    nesting: EvidenceInvalid or a bundle every check judges."""
    raw = path.read_bytes()
    at = data.draw(st.integers(0, len(raw)), label="at")
    how = data.draw(st.sampled_from(["cut", "splice", "brackets", "deep-value"]), label="how")
    if how == "cut":
        mutated = raw[:at]
    elif how == "splice":
        mutated = raw[:at] + data.draw(st.binary(min_size=1, max_size=12), label="bytes") + raw[at:]
    elif how == "brackets":
        depth = data.draw(st.integers(1, 3000), label="depth")
        mutated = raw[:at] + b"[" * depth + raw[at:]
    else:
        depth = data.draw(st.integers(1, 3000), label="depth")
        obj = json.loads(raw)
        key = data.draw(st.sampled_from(sorted(obj["items"])), label="item")
        field = data.draw(st.sampled_from(sorted(obj["items"][key])), label="field")
        obj["items"][key][field] = "@DEEP@"
        mutated = json.dumps(obj).replace('"@DEEP@"', "[" * depth + "]" * depth).encode()
    _judged_without_raising(mutated)


def test_the_recorded_bundles_still_load() -> None:
    """The strict item types refuse nothing the collectors write."""
    for path in sorted(FIXTURES.glob("*/*/*/evidence.json")):
        evidence_io.bundle_from_bytes(path.read_bytes(), str(path))


# ----- fuzz: policy ----------------------------------------------------------------------------

toml_keys = st.sampled_from(["max_patch_age_days", "max_screen_lock_minutes",
                             "require_password_on_wake", "required", "unknown"])
toml_values = st.one_of(
    st.integers().map(str), st.floats().map(lambda f: "nan" if math.isnan(f) else
                                            "inf" if f == math.inf else "-inf"
                                            if f == -math.inf else repr(f)),
    st.booleans().map(lambda b: "true" if b else "false"),
    st.text(max_size=20).map(json.dumps),
    st.lists(st.sampled_from([*CHECK_IDS, "bogus"]), max_size=9).map(json.dumps),
    st.integers(1, 5000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 5000).map(lambda n: "{a = " * n + "1" + "}" * n),
    st.just("1979-05-27T07:32:00Z"),
)


@FUZZ
@given(st.lists(st.tuples(toml_keys, toml_values), max_size=5))
def test_fuzz_structured_policy_raises_only_usage_error(pairs: list[tuple[str, str]]) -> None:
    text = "\n".join(f"{k} = {v}" for k, v in pairs)
    try:
        result = policy.parse_policy(text, "fuzz.toml")
    except UsageError as e:
        assert e.exit_code == 2
        one_sentence(e)
    else:
        assert isinstance(result, Policy)


@FUZZ
@given(st.text(max_size=300) | st.binary(max_size=300).map(
    lambda b: b.decode("utf-8", "replace")))
def test_fuzz_arbitrary_policy_text_raises_only_usage_error(text: str) -> None:
    try:
        policy.parse_policy(text, "fuzz.toml")
    except UsageError as e:
        assert e.exit_code == 2
        one_sentence(e)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.binary(max_size=200))
def test_fuzz_policy_file_bytes_raise_only_usage_error(tmp_path_factory: pytest.TempPathFactory,
                                                       data: bytes) -> None:
    path = tmp_path_factory.mktemp("policy") / "policy.toml"
    path.write_bytes(data)
    try:
        policy.load_policy(path)
    except UsageError as e:
        one_sentence(e)


# ----- fuzz: the first-seen state file ---------------------------------------------------------


@FUZZ
@given(st.text(max_size=200) | json_values.map(json.dumps)
       | st.integers(1, 5000).map(lambda n: "[" * n + "]" * n))
def test_fuzz_first_seen_memory_never_raises(text: str) -> None:
    memory = first_seen.parse(text)
    assert isinstance(memory, dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in memory.items())
