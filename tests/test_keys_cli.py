"""``strongroom keys …`` as a real process against a real SoftHSM2 token.

The passphrase and the PIN travel on two pipes (``--passphrase-fd`` and ``--pin-fd``); signatures
are checked with cryptography and openssl; every bad input ends in one line on stderr with the
documented exit code and leaves every existing output file byte for byte as it was.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding

from strongroom.app.errors import DeviceRemoved, UserCancelled
from strongroom.app.keys import algorithms, signing
from strongroom.app.keys import fingerprints as key_fingerprints
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import KeyType

from conftest import PASSPHRASE, Result, make_vault, run_cli, snapshot
from helpers.cli_checks import one_line_error
from helpers.softhsm import USER_PIN, softhsm  # noqa: F401 - session fixture
from helpers.swtpm import swtpm_fixture  # noqa: F401 - session fixture

TOKEN = "keys-cli"
KEY_TYPES = ("ec-p256", "ec-p384", "rsa-3072", "ed25519")
OPENSSL = shutil.which("openssl")


def keys_cli(*args: str, vault: Path | None = None, passphrase: str | None = PASSPHRASE,
             pin: str | None = USER_PIN, env: dict[str, str] | None = None) -> Result:
    """Run the CLI with the passphrase and the PIN each on its own pipe."""
    return run_cli(*args, vault=vault, passphrases=None if passphrase is None else [passphrase],
                   pins=None if pin is None else [pin], env=env)


def ok(result: Result) -> Result:
    assert result.code == 0, result.err
    return result


def as_json(result: Result):
    return json.loads(ok(result).out)


@pytest.fixture(scope="module")
def setup(softhsm, tmp_path_factory):  # noqa: F811 - the imported session fixture
    """A vault and a token holding one key of each type, made through the CLI."""
    base = tmp_path_factory.mktemp("keys-cli")
    vault = base / "vault"
    make_vault(vault).lock()
    softhsm.add_token(TOKEN)
    keys = {}
    for kind in KEY_TYPES:
        keys[kind] = as_json(keys_cli("--json", "keys", "generate", "--token", TOKEN,
                                      "--label", f"cli-{kind}", "--type", kind, vault=vault))
    return {"vault": vault, "keys": keys, "module": softhsm.module, "hsm": softhsm}


@pytest.fixture
def vault(setup) -> Path:
    return setup["vault"]


def audit(vault: Path, action: str) -> list[dict]:
    return as_json(keys_cli("--json", "audit", "show", "--action", action, "--limit", "500",
                            vault=vault, pin=None))


def export_pub(vault: Path, label: str, dest: Path) -> Path:
    ok(keys_cli("keys", "export-pub", "--token", TOKEN, "--key", label, "--out", str(dest),
                passphrase=None))
    return dest


# ----- inventory ---------------------------------------------------------------------------------


def test_tokens_and_modules_need_no_vault(setup):
    tokens = as_json(keys_cli("--json", "keys", "tokens", "--module", setup["module"],
                              passphrase=None, pin=None))
    mine = [t for t in tokens if t["label"] == TOKEN]
    assert len(mine) == 1 and "token-initialized" in mine[0]["flags"]
    modules = as_json(keys_cli("--json", "keys", "modules", "--module", setup["module"],
                               passphrase=None, pin=None))
    assert any(os.path.samefile(m["path"], setup["module"]) for m in modules["modules"])


def test_generated_keys_are_listed_with_fingerprint_words(setup):
    listed = as_json(keys_cli("--json", "keys", "list", "--token", TOKEN, passphrase=None))
    by_label = {k["label"]: k for k in listed["keys"]}
    defaults = {"ec-p256": "ecdsa-sha256", "ec-p384": "ecdsa-sha384",
                "rsa-3072": "rsa-pss-sha256", "ed25519": "ed25519"}
    for kind in KEY_TYPES:
        key = by_label[f"cli-{kind}"]
        assert key["fingerprint"] == setup["keys"][kind]["fingerprint"]
        assert key["key_type"] == kind
        assert key["default_algorithm"] == defaults[kind]
        assert not key["extractable"] and key["sensitive"]
        assert len(key["fingerprint_words"]) == 32
    assert listed["token"]["label"] == TOKEN


def test_generate_is_audited_without_the_pin(setup, vault):
    events = audit(vault, "keys.generate")
    fingerprints = {e["details"]["fingerprint"] for e in events}
    assert {k["fingerprint"] for k in setup["keys"].values()} <= fingerprints
    for e in events:
        assert e["details"]["token"] == TOKEN and e["details"]["token_serial"]
        assert USER_PIN not in json.dumps(e)


# ----- signing and verifying ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", KEY_TYPES)
def test_sign_files_and_verify(setup, vault, tmp_path, kind):
    files = [tmp_path / "a.txt", tmp_path / "b.bin"]
    files[0].write_text("release notes\n")
    files[1].write_bytes(os.urandom(2 * 1024 * 1024 + 17))  # several hashing chunks
    out_dir = tmp_path / "sigs"
    out_dir.mkdir()
    label = f"cli-{kind}"
    result = as_json(keys_cli("--json", "keys", "sign", "--token", TOKEN, "--key", label,
                              "--in", *map(str, files), "--out-dir", str(out_dir),
                              vault=vault))
    assert [Path(s["signature"]).name for s in result["signed"]] == ["a.txt.sig", "b.bin.sig"]
    pub = export_pub(vault, label, tmp_path / "pub.pem")
    for f in files:
        sig = out_dir / f"{f.name}.sig"
        ok(keys_cli("keys", "verify", "--pubkey", str(pub), "--in", str(f), "--sig", str(sig),
                    passphrase=None, pin=None))
        if OPENSSL and kind.startswith("ec"):
            digest = "-sha384" if kind == "ec-p384" else "-sha256"
            checked = subprocess.run([OPENSSL, "dgst", digest, "-verify", str(pub),
                                      "-signature", str(sig), str(f)], capture_output=True,
                                     check=False)
            assert checked.returncode == 0, checked.stderr
    # A signature made for the other file does not verify: exit 3.
    bad = keys_cli("keys", "verify", "--pubkey", str(pub), "--in", str(files[0]), "--sig",
                   str(out_dir / "b.bin.sig"), passphrase=None, pin=None)
    assert bad.code == 3, bad.err
    events = [e for e in audit(vault, "keys.sign")
              if e["details"].get("file") in {str(f) for f in files}]
    assert {e["details"]["sha256"] for e in events} >= {
        hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    assert all(e["details"]["fingerprint"] == setup["keys"][kind]["fingerprint"]
               for e in events)


def test_rsa_signatures_verify_with_pss_and_pkcs1(vault, tmp_path):
    data = tmp_path / "m.txt"
    data.write_text("x")
    pub = export_pub(vault, "cli-rsa-3072", tmp_path / "rsa.pem")
    public = serialization.load_pem_public_key(pub.read_bytes())
    for algorithm, pad in (
        ("rsa-pss-sha256", padding.PSS(padding.MGF1(hashes.SHA256()), 32)),
        ("rsa-pkcs1-sha256", padding.PKCS1v15()),
    ):
        sig = tmp_path / f"{algorithm}.sig"
        ok(keys_cli("keys", "sign", "--token", TOKEN, "--key", "cli-rsa-3072", "--in",
                    str(data), "--out", str(sig), "--algorithm", algorithm, vault=vault))
        public.verify(sig.read_bytes(), b"x", pad, hashes.SHA256())
        ok(keys_cli("keys", "verify", "--pubkey", str(pub), "--in", str(data), "--sig",
                    str(sig), "--algorithm", algorithm, passphrase=None, pin=None))
    # PKCS#1 verified as PSS (the default) is a bad signature.
    wrong = keys_cli("keys", "verify", "--pubkey", str(pub), "--in", str(data), "--sig",
                     str(tmp_path / "rsa-pkcs1-sha256.sig"), passphrase=None, pin=None)
    one_line_error(wrong, 3, "bad signature")


def test_sign_a_digest_and_verify_on_the_token(vault, tmp_path):
    data = tmp_path / "big.iso"
    data.write_bytes(b"image" * 1000)
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    sig = tmp_path / "d.sig"
    ok(keys_cli("keys", "sign", "--token", TOKEN, "--key", "cli-ec-p256", "--digest", digest,
                "--out", str(sig), vault=vault))
    verified = as_json(keys_cli("--json", "keys", "verify", "--token", TOKEN, "--key",
                                "cli-ec-p256", "--in", str(data), "--sig", str(sig),
                                passphrase=None))
    assert verified["valid"] is True
    one_line_error(keys_cli("keys", "sign", "--token", TOKEN, "--key", "cli-ed25519",
                            "--digest", digest, "--out", str(tmp_path / "e.sig"), vault=vault),
                   1, "ed25519 signs the whole message")
    one_line_error(keys_cli("keys", "sign", "--token", TOKEN, "--key", "cli-ec-p256",
                            "--digest", "abcd", "--out", str(tmp_path / "e.sig"), vault=vault),
                   2, "sha256 digest is 32 bytes")


def test_key_found_by_id_and_fingerprint_prefix(setup, vault, tmp_path):
    key = setup["keys"]["ec-p384"]
    for query in (key["key_id"], key["fingerprint"][:12], key["fingerprint"][:8].upper()):
        dest = tmp_path / f"{query}.pem"
        ok(keys_cli("keys", "export-pub", "--token", TOKEN, "--key", query, "--out", str(dest),
                    passphrase=None))
        public = serialization.load_pem_public_key(dest.read_bytes())
        assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp384r1"


def test_export_pub_to_stdout(vault):
    out = ok(keys_cli("keys", "export-pub", "--token", TOKEN, "--key", "cli-ed25519",
                      passphrase=None)).out
    assert out.startswith(b"-----BEGIN PUBLIC KEY-----")


# ----- CSRs, certificates ------------------------------------------------------------------------


def test_csr_selfsign_and_import_cert(setup, vault, tmp_path):
    csr_path, cert_path = tmp_path / "req.pem", tmp_path / "cert.pem"
    ok(keys_cli("keys", "csr", "--token", TOKEN, "--key", "cli-ec-p256", "--subject",
                "CN=build signer,O=Example", "--san", "DNS:build.example", "--out",
                str(csr_path), vault=vault))
    assert x509.load_pem_x509_csr(csr_path.read_bytes()).is_signature_valid
    ok(keys_cli("keys", "selfsign", "--token", TOKEN, "--key", "cli-ec-p256", "--subject",
                "CN=build signer", "--days", "30", "--ca", "--out", str(cert_path),
                vault=vault))
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    cert.verify_directly_issued_by(cert)
    if OPENSSL:
        assert subprocess.run([OPENSSL, "req", "-verify", "-noout", "-in", str(csr_path)],
                              capture_output=True, check=False).returncode == 0
        assert subprocess.run([OPENSSL, "verify", "-CAfile", str(cert_path), str(cert_path)],
                              capture_output=True, check=False).returncode == 0
    # The certificate of another key is refused; this key's is stored on the token.
    one_line_error(keys_cli("keys", "import-cert", "--token", TOKEN, "--key", "cli-ec-p384",
                            "--cert", str(cert_path), vault=vault), 1, "not that of key")
    ok(keys_cli("keys", "import-cert", "--token", TOKEN, "--key", "cli-ec-p256", "--cert",
                str(cert_path), vault=vault))
    listed = as_json(keys_cli("--json", "keys", "list", "--token", TOKEN, passphrase=None))
    assert {k["label"]: k for k in listed["keys"]}["cli-ec-p256"]["has_certificate"]
    actions = {e["action"] for e in as_json(keys_cli("--json", "audit", "show", "--limit",
                                                     "200", vault=vault, pin=None))}
    assert {"keys.csr", "keys.selfsign", "keys.import_cert"} <= actions


def test_bad_subject_fails_before_any_prompt(vault, tmp_path):
    one_line_error(keys_cli("keys", "csr", "--token", TOKEN, "--key", "cli-ec-p256",
                            "--subject", "XX=1", vault=vault, passphrase=None, pin=None),
                   2, "unknown subject attribute")


# ----- bad input ---------------------------------------------------------------------------------


@pytest.fixture
def existing(tmp_path):
    """An input file and an out-dir holding old signatures, to check nothing changes."""
    data = tmp_path / "in.txt"
    data.write_text("payload")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "in.txt.sig").write_bytes(b"old signature")
    (tmp_path / "single.sig").write_bytes(b"old single")
    return tmp_path, data, out_dir


def test_wrong_pin_is_exit_4_and_changes_nothing(vault, existing):
    base, data, out_dir = existing
    before = snapshot(base)
    result = keys_cli("keys", "sign", "--token", TOKEN, "--key", "cli-ec-p256", "--in",
                      str(data), "--out-dir", str(out_dir), "--force", vault=vault,
                      pin="000000")
    line = one_line_error(result, 4, "wrong PIN")
    assert "000000" not in line
    assert snapshot(base) == before
    failed = audit(vault, "keys.login")
    assert failed and failed[0]["outcome"] == "failed"
    assert "000000" not in json.dumps(failed)


def test_missing_module_file_is_exit_1(vault, tmp_path):
    missing = str(tmp_path / "nope.so")
    one_line_error(keys_cli("keys", "tokens", "--module", missing, passphrase=None, pin=None),
                   1, "no PKCS#11 module")
    data = tmp_path / "in.txt"
    data.write_text("x")
    one_line_error(keys_cli("keys", "sign", "--module", missing, "--key", "x", "--in",
                            str(data), "--out", str(tmp_path / "x.sig"), vault=vault),
                   1, "no PKCS#11 module")
    assert not (tmp_path / "x.sig").exists()


def test_unknown_key_is_exit_1(vault, existing):
    base, data, out_dir = existing
    before = snapshot(base)
    one_line_error(keys_cli("keys", "sign", "--token", TOKEN, "--key", "no-such-key", "--in",
                            str(data), "--out-dir", str(out_dir), "--force", vault=vault),
                   1, "no key 'no-such-key'")
    assert snapshot(base) == before


def test_unknown_token_is_exit_1(vault):
    one_line_error(keys_cli("keys", "list", "--token", "no-such-token", passphrase=None),
                   1, "no token labelled")


@pytest.mark.skipif(shutil.which("pkcs11-tool") is None, reason="opensc is not installed")
def test_ambiguous_key_is_exit_2_and_lists_the_candidates(setup, vault, existing):
    for key_id in ("d1", "d2"):
        made = subprocess.run(
            ["pkcs11-tool", "--module", setup["module"], "--token-label", TOKEN, "--login",
             "--pin", USER_PIN, "--keypairgen", "--key-type", "EC:prime256v1", "--label",
             "twin", "--id", key_id], capture_output=True, check=False)
        assert made.returncode == 0, made.stderr
    base, data, out_dir = existing
    before = snapshot(base)
    line = one_line_error(keys_cli("keys", "sign", "--token", TOKEN, "--key", "twin", "--in",
                                   str(data), "--out-dir", str(out_dir), "--force",
                                   vault=vault),
                          2, "matches 2 keys")
    assert "id d1" in line and "id d2" in line
    assert snapshot(base) == before


def test_unsupported_type_and_algorithm(vault, existing):
    base, data, out_dir = existing
    one_line_error(keys_cli("keys", "generate", "--token", TOKEN, "--label", "x", "--type",
                            "dsa-1024", vault=vault), 2, "invalid choice")
    before = snapshot(base)
    one_line_error(keys_cli("keys", "sign", "--token", TOKEN, "--key", "cli-ec-p256", "--in",
                            str(data), "--out-dir", str(out_dir), "--force", "--algorithm",
                            "rsa-pss-sha256", vault=vault), 1, "does not sign with")
    assert snapshot(base) == before


def test_generate_refuses_a_label_already_on_the_token(vault):
    one_line_error(keys_cli("keys", "generate", "--token", TOKEN, "--label", "cli-ec-p256",
                            "--type", "ec-p256", vault=vault), 1, "already on token")
    one_line_error(keys_cli("keys", "generate", "--token", TOKEN, "--label", "x", "--type",
                            "ec-p256", "--id", "zz", vault=vault, passphrase=None, pin=None),
                   2, "--id takes hex")


@pytest.mark.parametrize(("kind", "mangle", "message"), [
    ("ec-p256", lambda s: s[:-3], "not DER"),
    ("ec-p256", lambda s: b"\x00" * 10, "not DER"),
    ("ed25519", lambda s: s + b"\x00", "not 64"),
    ("rsa-3072", lambda s: s[:100], "not 384"),
])
def test_corrupt_signature_file_is_exit_3(vault, tmp_path, kind, mangle, message):
    data = tmp_path / "m.txt"
    data.write_text("message")
    sig = tmp_path / "m.sig"
    ok(keys_cli("keys", "sign", "--token", TOKEN, "--key", f"cli-{kind}", "--in", str(data),
                "--out", str(sig), vault=vault))
    sig.write_bytes(mangle(sig.read_bytes()))
    pub = export_pub(vault, f"cli-{kind}", tmp_path / "pub.pem")
    one_line_error(keys_cli("keys", "verify", "--pubkey", str(pub), "--in", str(data), "--sig",
                            str(sig), passphrase=None, pin=None), 3, message)


def test_output_in_a_missing_directory(vault, existing):
    base, data, _ = existing
    before = snapshot(base)
    for args in (("--out", str(base / "missing" / "x.sig")),
                 ("--out-dir", str(base / "missing"))):
        one_line_error(keys_cli("keys", "sign", "--token", TOKEN, "--key", "cli-ec-p256",
                                "--in", str(data), *args, vault=vault), 1, "no directory")
    one_line_error(keys_cli("keys", "export-pub", "--token", TOKEN, "--key", "cli-ec-p256",
                            "--out", str(base / "missing" / "k.pem"), passphrase=None),
                   1, "no directory")
    assert snapshot(base) == before


def test_a_missing_input_signs_nothing(vault, existing):
    base, data, out_dir = existing
    before = snapshot(base)
    one_line_error(keys_cli("keys", "sign", "--token", TOKEN, "--key", "cli-ec-p256", "--in",
                            str(data), str(base / "gone.txt"), "--out-dir", str(out_dir),
                            "--force", vault=vault), 1, "no file")
    assert snapshot(base) == before


def test_sign_replaces_an_old_signature_atomically(vault, existing):
    base, data, out_dir = existing
    sig = base / "single.sig"
    before = snapshot(base)
    for dest in (("--out", str(sig)), ("--out-dir", str(out_dir))):
        one_line_error(keys_cli("keys", "sign", "--token", TOKEN, "--key", "cli-ec-p256",
                                "--in", str(data), *dest, vault=vault, passphrase=None,
                                pin=None), 1, "already exists", "--force")
    assert snapshot(base) == before  # refused before any prompt: nothing changed
    ok(keys_cli("keys", "sign", "--token", TOKEN, "--key", "cli-ec-p256", "--in", str(data),
                "--out", str(sig), "--force", vault=vault))
    assert sig.read_bytes() != b"old single"
    assert [p.name for p in base.iterdir() if p.name.endswith(".tmp")] == []


def test_usage_errors(vault, existing):
    base, data, _ = existing
    one_line_error(keys_cli("keys", "sign", "--token", TOKEN, "--key", "k", "--in", str(data),
                            str(data), "--out", str(base / "x.sig"), vault=vault),
                   2, "--out takes one file")
    one_line_error(keys_cli("keys", "sign", "--token", TOKEN, "--key", "k", "--in", str(data),
                            vault=vault), 2, "--out")
    one_line_error(keys_cli("keys", "sign", "--token", TOKEN, "--key", "k", "--in", str(data),
                            "--out", str(data), vault=vault), 2, "overwrite an input")
    one_line_error(keys_cli("keys", "verify", "--in", str(data), "--sig", str(data),
                            passphrase=None, pin=None), 2, "--pubkey")


def test_no_pin_source_without_a_terminal_is_a_usage_error(vault):
    result = subprocess.run(
        [sys.executable, "-m", "strongroom", "keys", "list", "--token", TOKEN],
        capture_output=True, stdin=subprocess.DEVNULL, start_new_session=True, check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("STRONGROOM_")},
    )
    one_line_error(Result(result.returncode, result.stdout, result.stderr.decode()), 2,
                   "--pin-fd")


def test_signatures_are_the_raw_documented_formats(vault, tmp_path):
    """ECDSA: DER Ecdsa-Sig-Value; Ed25519: 64 bytes — what openssl and tools expect."""
    data = tmp_path / "m.txt"
    data.write_text("m")
    sigs = {}
    for kind in ("ec-p256", "ed25519"):
        sigs[kind] = tmp_path / f"{kind}.sig"
        ok(keys_cli("keys", "sign", "--token", TOKEN, "--key", f"cli-{kind}", "--in", str(data),
                    "--out", str(sigs[kind]), vault=vault))
    assert sigs["ec-p256"].read_bytes()[0] == 0x30
    assert len(sigs["ed25519"].read_bytes()) == 64
    assert base64.b64encode(sigs["ed25519"].read_bytes())  # binary, not armoured


# ----- the TPM (swtpm): keys whose blobs live in the vault ------------------------------------


def test_tpm_keys_through_the_cli(vault, swtpm, tmp_path):
    env = {"STRONGROOM_TPM_TCTI": swtpm.tcti}
    made = as_json(keys_cli("--json", "keys", "generate", "--store", "tpm", "--label",
                            "tpm-cli", "--type", "ec-p256", vault=vault, pin=None, env=env))
    assert made["store"] == "tpm" and not made["extractable"]
    listed = as_json(keys_cli("--json", "keys", "list", "--store", "tpm", vault=vault, pin=None,
                              env=env))
    assert [k["fingerprint"] for k in listed["keys"] if k["label"] == "tpm-cli"] == [
        made["fingerprint"]]
    data = tmp_path / "m.txt"
    data.write_text("tpm")
    sig = tmp_path / "m.sig"
    ok(keys_cli("keys", "sign", "--store", "tpm", "--key", "tpm-cli", "--in", str(data),
                "--out", str(sig), vault=vault, pin=None, env=env))
    pub = tmp_path / "tpm.pem"
    ok(keys_cli("keys", "export-pub", "--store", "tpm", "--key", made["fingerprint"][:10],
                "--out", str(pub), vault=vault, pin=None, env=env))
    ok(keys_cli("keys", "verify", "--pubkey", str(pub), "--in", str(data), "--sig", str(sig),
                passphrase=None, pin=None))
    # What the TPM cannot do is refused with exit 1; nothing is written.
    one_line_error(keys_cli("keys", "generate", "--store", "tpm", "--label", "ed", "--type",
                            "ed25519", vault=vault, pin=None, env=env), 1, "ed25519")
    cert = tmp_path / "c.pem"
    ok(keys_cli("keys", "selfsign", "--store", "tpm", "--key", "tpm-cli", "--subject", "CN=tpm",
                "--out", str(cert), vault=vault, pin=None, env=env))
    one_line_error(keys_cli("keys", "import-cert", "--store", "tpm", "--key", "tpm-cli",
                            "--cert", str(cert), vault=vault, pin=None, env=env),
                   1, "does not keep certificates")

    # A TPM key with a PIN of its own: --pin-fd at generation sets it; using the key asks for
    # it (here on --pin-fd; no terminal, no fd: a usage error naming --pin-fd).
    guarded = as_json(keys_cli("--json", "keys", "generate", "--store", "tpm", "--label",
                               "tpm-pin", "--type", "ec-p256", vault=vault, pin="tpm-key-pin",
                               env=env))
    assert guarded["needs_pin"] is True and made["needs_pin"] is False
    pin_sig = tmp_path / "p.sig"
    ok(keys_cli("keys", "sign", "--store", "tpm", "--key", "tpm-pin", "--in", str(data),
                "--out", str(pin_sig), vault=vault, pin="tpm-key-pin", env=env))
    assert pin_sig.stat().st_size > 0
    one_line_error(keys_cli("keys", "sign", "--store", "tpm", "--key", "tpm-pin", "--in",
                            str(data), "--out", str(tmp_path / "q.sig"), vault=vault, pin=None,
                            env=env), 2, "--pin-fd")
    one_line_error(keys_cli("keys", "sign", "--store", "tpm", "--key", "tpm-pin", "--in",
                            str(data), "--out", str(tmp_path / "q.sig"), vault=vault,
                            pin="not-the-pin", env=env), 4, "PIN")
    assert not (tmp_path / "q.sig").exists()


# ----- fingerprints read aloud -------------------------------------------------------------------


def test_fingerprint_words_follow_the_pgp_word_list():
    """The published example: even bytes from the two-syllable list, odd from the other."""
    fingerprint = "E58294F2E9A227486E8B061B31CC528FD7FA3F19"
    assert " ".join(key_fingerprints.fingerprint_words(fingerprint)) == (
        "topmost Istanbul Pluto vagabond treadmill Pacific brackish dictator goldfish Medusa "
        "afflict bravado chatter revolver Dupont midsummer stopwatch whimsical cowbell bottomless"
    )
    assert key_fingerprints.grouped_hex(fingerprint.lower()) == (
        "E582 94F2 E9A2 2748 6E8B 061B 31CC 528F D7FA 3F19")
    # The same byte reads differently at an even and an odd position: a swap is heard.
    assert key_fingerprints.fingerprint_words("0000") == ["aardvark", "adroitness"]
    assert len(set(key_fingerprints.PGP_EVEN) | set(key_fingerprints.PGP_ODD)) == 512


def test_open_store_finds_the_token_by_label_and_serial(setup):
    hsm = setup["hsm"]
    token, store = key_tokens.open_store("pkcs11", modules=[setup["module"]], token=hsm.label,
                                           pin=hsm.pin)
    store.close()
    assert token.label == hsm.label
    again, store = key_tokens.open_store("pkcs11", token=token.serial, pin=hsm.pin)
    store.close()
    assert again.serial == token.serial


# ----- batches that stop half-way (in-process, on a token of its own) ----------------------------


def test_a_batch_cancelled_or_cut_off_by_token_removal_writes_nothing(setup, tmp_path):
    hsm = setup["hsm"]
    doomed = hsm.take_token()
    files = []
    for i in range(100):  # past the two chunks of 32 the store keeps in flight
        f = tmp_path / f"f{i:03}.txt"
        f.write_text(f"file {i}")
        files.append(f)
    out_dir = tmp_path / "sigs"
    out_dir.mkdir()
    for f in files[:3]:
        (out_dir / f"{f.name}.sig").write_bytes(b"old")
    before = snapshot(tmp_path)
    recorder = make_vault(tmp_path.parent / f"{tmp_path.name}-vault")
    token, store = key_tokens.open_store("pkcs11", token=doomed, pin=hsm.pin)
    try:
        key = store.generate("batch", KeyType.EcP256)
        algorithm = algorithms.default_algorithm(key)
        cancel = threading.Event()

        def cancel_at_5(done: int, _total: int) -> None:
            if done == 5:
                cancel.set()

        with pytest.raises(UserCancelled):
            signing.sign_files(store, key, files, algorithm, out_dir=out_dir,
                                    vault=recorder, token=token, cancel=cancel,
                                    on_progress=cancel_at_5)
        assert snapshot(tmp_path) == before
        token_dir = hsm.token_path(doomed)

        def remove_at_5(done: int, _total: int) -> None:
            if done == 5:  # in one step, as a token leaves its reader
                token_dir.rename(hsm.token_dir.parent / f"removed-{doomed}")

        with pytest.raises(DeviceRemoved):
            signing.sign_files(store, key, files, algorithm, out_dir=out_dir,
                                    vault=recorder, token=token, on_progress=remove_at_5)
        assert snapshot(tmp_path) == before
        events = recorder.audit_events(action="keys.sign")
        assert [e.outcome for e in events] == ["failed", "failed"]
        assert {e.details["error"] for e in events} == {"UserCancelled", "DeviceRemoved"}
    finally:
        store.close()
        recorder.lock()


# ----- remembered modules ------------------------------------------------------------------------


def test_a_remembered_module_serves_later_commands(setup, tmp_path):
    """`keys modules --add` loads a module and remembers it (0600 file in the config home);
    later commands find its tokens without --module; bad requests change nothing."""
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    vendor = tmp_path / "libvendor-hsm.so"  # not on any detected path
    shutil.copyfile(setup["module"], vendor)
    added = keys_cli("keys", "modules", "--add", str(vendor), passphrase=None, pin=None, env=env)
    assert added.code == 0 and "Remembered" in added.text, added.err
    config = tmp_path / "config" / "Strongroom" / "pkcs11-modules.json"
    assert json.loads(config.read_text()) == [str(vendor)]
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    again = keys_cli("keys", "modules", "--add", str(vendor), passphrase=None, pin=None, env=env)
    assert again.code == 0 and "already" in again.text

    listed = as_json(keys_cli("--json", "keys", "modules", passphrase=None, pin=None, env=env))
    assert [m["detected"] for m in listed["modules"] if m["path"] == str(vendor)] == [False]
    tokens = as_json(keys_cli("--json", "keys", "tokens", passphrase=None, pin=None, env=env))
    assert any(t["module"] == str(vendor) and t["label"] == TOKEN for t in tokens)

    before = config.read_bytes()
    not_a_module = tmp_path / "notes.so"
    not_a_module.write_text("not a library")
    for args, code in ((("--add", "/etc/hostname"), 2), (("--add", str(not_a_module)), 1),
                       (("--add", str(tmp_path / "gone.so")), 1),
                       (("--forget", "/usr/lib/never-added.so"), 1),
                       (("--add", str(vendor), "--forget", str(vendor)), 2)):
        one_line_error(keys_cli("keys", "modules", *args, passphrase=None, pin=None, env=env),
                       code)
        assert config.read_bytes() == before

    # Uninstalled since: listed as missing, and no longer in the way of other modules.
    vendor.unlink()
    gone = as_json(keys_cli("--json", "keys", "modules", passphrase=None, pin=None, env=env))
    assert gone["missing"] == [str(vendor)]
    assert keys_cli("keys", "tokens", passphrase=None, pin=None, env=env).code == 0
    forgot = keys_cli("keys", "modules", "--forget", str(vendor), passphrase=None, pin=None,
                      env=env)
    assert forgot.code == 0 and json.loads(config.read_text()) == []

    config.write_text("{ damaged")
    damaged = config.read_bytes()
    one_line_error(keys_cli("keys", "tokens", passphrase=None, pin=None, env=env), 3,
                   "fix or delete it")
    assert config.read_bytes() == damaged
