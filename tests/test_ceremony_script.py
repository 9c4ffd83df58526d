"""Ceremony scripts: the shipped ones are valid; every kind of problem is named with its line;
anything else, however hostile, is refused in one sentence."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strongroom.app.ceremony import script
from strongroom.app.errors import UsageError

SHIPPED = sorted((Path(__file__).resolve().parents[1] / "resources" / "ceremonies").glob("*.toml"))
ROOT = (Path(__file__).resolve().parents[1] / "resources" / "ceremonies" / "root-ca.toml")


def test_three_scripts_are_shipped_and_valid() -> None:
    assert {p.name for p in SHIPPED} >= {"root-ca.toml", "intermediate.toml",
                                        "vault-recovery.toml"}
    for path in SHIPPED:
        parsed = script.load(path)
        assert parsed.role_of_kind("witness") and parsed.role_of_kind("crypto-officer")
        assert parsed.steps


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def problems_of(text: str) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in script.problems(text)]


@pytest.mark.parametrize("old, new, needle, message", [
    ('kind = "show-fingerprint"', 'kind = "show-fingerprints"', "show-fingerprints",
     "unknown step kind 'show-fingerprints'"),
    ('days = 7300', 'days = 0', "days = 0", "days must be a whole number from 1 to 36500"),
    ('type = "ec-p384"', 'type = "ec-p999"', "ec-p999", "unknown key type 'ec-p999'"),
    ('role = "admin"\ntext = "Read', 'role = "boss"\ntext = "Read', 'role = "boss"',
     "acts as role 'boss', which the script does not define"),
    ('operators = ["carol"]', 'operators = ["bob"]', 'operators = ["bob", "dave"',
     "segregation of duties: bob is in role 'witness' and in 'officers' (the witness is never a "
     "crypto officer)"),
    ('operators = ["alice"]', 'operators = ["erin"]', 'operators = ["bob", "dave"',
     "segregation of duties: erin is in role 'admin' and in 'officers' (one person, one role)"),
    ('quorum = 2', 'quorum = 4', "quorum = 4", "the quorum of 'officers' must be 1 to 3"),
    ('subject = "CN=Example Offline Root CA,O=Example"', 'subject = "XX=nope"', "XX=nope",
     "XX"),
    ('output = "root-ca.pub.pem"', 'output = "root-ca.crt"  # again', "# again",
     "the output 'root-ca.crt' is written twice"),
    ('output = "root-ca.pub.pem"', 'output = "../etc/passwd"', "../etc/passwd",
     "must be a plain name"),
    ('label = "root-ca"', 'label = "root-ca"\ncolour = "red"', "colour", "unknown parameter"),
    ('kind = "witness"', 'kind = "observer"', 'kind = "observer"', "has kind 'observer'"),
])
def test_each_problem_is_named_with_its_line(old: str, new: str, needle: str,
                                             message: str) -> None:
    text = ROOT.read_text()
    assert old in text
    text = text.replace(old, new, 1)
    found = problems_of(text)
    assert found, "the broken script was accepted"
    hits = [(line, m) for line, m in found if message in m]
    assert hits, found
    expected = line_of(text, needle.split("\n")[0])
    assert any(line == expected for line, _ in hits), (expected, hits)
    with pytest.raises(script.ScriptInvalid) as e:
        script.parse(text, "root-ca.toml")
    assert str(e.value).startswith("root-ca.toml line ") and "\n" not in str(e.value)


def test_missing_roles_and_steps_are_named() -> None:
    found = " / ".join(m for _, m in problems_of('[ceremony]\nname = "x"\npurpose = "y"\n'))
    for part in ("no [roles] table", "no ceremony-administrator role", "no witness role",
                 "no crypto-officer role", "no [[steps]]"):
        assert part in found


def test_a_verify_step_needs_an_earlier_set_and_the_transcript_key_a_generate_step() -> None:
    text = (Path(SHIPPED[0]).parent / "vault-recovery.toml").read_text()
    broken = text.replace('set = "shares"', 'set = "other"')
    assert any("no earlier create-shares step 'other'" in m for _, m in problems_of(broken))
    broken = ROOT.read_text().replace('sign_transcript_with = "root-ca"',
                                      'sign_transcript_with = "nope"')
    assert any("no generate-key step makes the key 'nope'" in m for _, m in problems_of(broken))


def test_operators_are_checked_against_the_vault() -> None:
    parsed = script.load(ROOT)
    people = {"alice": ("alice", True, ("Ceremony Administrator",)),
              "carol": ("carol", True, ("Witness",)),
              "bob": ("bob", True, ("Crypto Officer",)),
              "dave": ("dave", False, ("Crypto Officer",)),
              "erin": ("erin", True, ("Custodian",))}
    found = [p.message for p in script.check_operators(parsed, people)]
    assert found == ["role 'officers': dave is not active",
                     "role 'officers': erin does not hold the Crypto Officer role"]
    del people["alice"]
    assert any("no operator named 'alice'" in p.message
               for p in script.check_operators(parsed, people))


def test_file_level_refusals(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (script.MAX_SCRIPT_BYTES + 1))
    with pytest.raises(UsageError, match="larger than a ceremony script"):
        script.load(big)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(UsageError, match="not UTF-8"):
        script.load(binary)
    with pytest.raises(UsageError, match="is a directory"):
        script.load(tmp_path)
    with pytest.raises(script.ScriptInvalid, match="nest too deeply"):
        script.parse("a = " + "[" * 5000 + "]" * 5000)


TOML_VALUES = st.recursive(
    st.booleans() | st.integers(-10, 10**6) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["kind", "role", "id", "label", "type", "operators", "quorum", "text",
                         "days", "key", "output", "x"]), inner, max_size=4),
    max_leaves=10)


def _toml(value: object) -> str:
    import json
    return json.dumps(value) if not isinstance(value, dict) else "{ " + ", ".join(
        f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.dictionaries(st.sampled_from(["id", "kind", "role", "label", "type", "text",
                                                 "days", "output", "key", "quorum"]),
                                TOML_VALUES, max_size=5), max_size=4),
       st.dictionaries(st.sampled_from(["admin", "witness", "officers"]),
                       st.dictionaries(st.sampled_from(["kind", "operators", "quorum"]),
                                       TOML_VALUES, max_size=3), max_size=3))
def test_any_structure_is_a_script_or_named_problems(steps: list[dict], roles: dict) -> None:
    text = '[ceremony]\nname = "n"\npurpose = "p"\n'
    for role, spec in roles.items():
        text += f"[roles.{role}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in spec.items())
    for step in steps:
        text += "[[steps]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in step.items())
    try:
        script.parse(text)
    except script.ScriptInvalid as e:
        assert e.problems and all(p.line >= 1 for p in e.problems)
        assert "\n" not in str(e)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=300))
def test_any_text_is_a_script_or_one_sentence(text: str) -> None:
    try:
        script.parse(text)
    except UsageError as e:
        assert "\n" not in str(e)
