"""Fuzzing what comes from outside: policy files, scopes typed on the command line, the operators
and keyslot owners in a header file. Each input is accepted as valid or refused with the
documented error, never anything else."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strongroom.app.access import policy
from strongroom.app.access.grants import Scope
from strongroom.app.errors import HeaderCorrupt, UsageError
from strongroom.app.header import Header

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12)
FIELDS = st.sampled_from([*sorted(policy.Policy().to_json()), "bogus"])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(FIELDS, JSON, max_size=6) | JSON)
def test_a_policy_file_is_valid_or_refused_with_a_usage_error(obj: object) -> None:
    try:
        parsed = policy.from_json(obj)
    except UsageError as e:
        assert str(e) and "\n" not in str(e)
        return
    # What was accepted round-trips and names only known levels, operations and checks.
    assert policy.from_json(parsed.to_json()) == parsed
    assert set(parsed.operations) <= set(policy.GATED_OPERATIONS)
    assert set(parsed.health_checks) <= set(policy.HEALTH_CHECKS)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(max_size=40))
def test_a_scope_is_parsed_or_refused_with_a_usage_error(text: str) -> None:
    try:
        scope = Scope.parse(text)
    except UsageError as e:
        assert "\n" not in str(e)
        return
    assert scope.kind in ("secret", "tag", "level", "key", "token") and scope.value
    assert Scope.parse(str(scope)) == scope


def _header(operators: object, slot_operator: object) -> bytes:
    slot = {"id": "a1b2c3d4", "kind": "passphrase", "label": "P", "created": "x",
            "params": {"kdf": "argon2id", "salt": "AAAAAAAAAAAAAAAAAAAAAA==", "iterations": 3,
                       "memory_kib": 65536, "lanes": 4},
            "nonce": "AAAA", "wrapped": "AAAA", "last_used": None, "operator": slot_operator,
            "operator_nonce": "AAAA", "operator_wrapped": "AAAA"}
    return json.dumps({"magic": "strongroom-vault-header", "format": 1, "vault_id": "v",
                       "created": "x", "slots": [slot], "anchor": None, "mac": None,
                       "operators": operators}).encode()


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(JSON, JSON)
def test_operators_in_a_header_file_parse_or_the_header_is_corrupt(operators: object,
                                                                  owner: object) -> None:
    try:
        header = Header.from_bytes(_header(operators, owner))
    except HeaderCorrupt:
        return
    assert all(isinstance(o.name, str) and o.name for o in header.operators)
    assert header.slots[0].operator is None or isinstance(header.slots[0].operator, str)
