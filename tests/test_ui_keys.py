"""The Keys & Signing section over a real vault and a real SoftHSM2 token, clicked offscreen.

The section gets the real PKCS#11 provider (through a recorder that notes which thread each
provider and key-store call runs on); the TPM provider is replaced by one that cannot run, so
the row that says why is known. One token of this module's own is used throughout, in order:
log in (wrong PIN, then right), generate, sign, verify, export, CSR, and lock.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QDialogButtonBox, QWidget

from strongroom.app.errors import BackendUnavailable
from strongroom.app.keys import fingerprints as key_fingerprints
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import KeyType, SignAlgorithm
from strongroom.ui.keys.inventory import token_key
from strongroom.ui.keys.model import Column, KeyNode, ModuleNode, TokenNode
from strongroom.ui.keys.section import KeysSection
from strongroom.ui.workers import Task

from conftest import make_vault
from helpers.softhsm import SoftHsm, softhsm  # noqa: F401
from helpers.swtpm import swtpm_fixture  # noqa: F401
from helpers.ui_services import NoClipboard, make_services

WAIT_MS = 60_000
NO_TPM = "no TPM in this test"


class Recorder:
    """Wraps a provider or key store; notes (call, thread) for every method called."""

    def __init__(self, inner: Any, calls: list[tuple[str, threading.Thread]]) -> None:
        self._inner, self._calls = inner, calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._calls.append((name, threading.current_thread()))
            result = attr(*args, **kwargs)
            return Recorder(result, self._calls) if name == "open" else result

        return call



@pytest.fixture(scope="module")
def token(softhsm: SoftHsm) -> str:  # noqa: F811 - the imported fixture
    """The label of this module's own SoftHSM2 token."""
    return softhsm.take_token()


@pytest.fixture(scope="module")
def world(qapp, tmp_path_factory: pytest.TempPathFactory, token: str) -> Iterator[dict]:
    """One vault, services and section for the module (the steps build on each other)."""
    base = tmp_path_factory.mktemp("ui-keys")
    harness = make_services(base / "console.ini", lambda _s: NoClipboard())
    calls: list[tuple[str, threading.Thread]] = []
    pkcs11 = Recorder(key_tokens.load_provider("pkcs11"), calls)

    def providers(name: str) -> Any:
        if name == "pkcs11":
            return pkcs11
        raise BackendUnavailable(NO_TPM)

    vault = make_vault(base / "vault")
    section = KeysSection(harness.services, providers=providers)
    section.resize(1100, 700)
    section.show()
    world = {"harness": harness, "vault": vault, "section": section, "calls": calls,
             "pkcs11": pkcs11._inner}
    yield world
    section.vault_locked()
    section.hw.wait()
    harness.services.runner.wait()
    vault.lock()
    section.close()
    section.deleteLater()


def finish(qtbot, task: Task | None) -> None:
    assert task is not None
    qtbot.waitUntil(lambda: task.done, timeout=WAIT_MS)


def nodes(section: KeysSection) -> list:
    return [section.model.node(i) for i in section.model.indexes()]


def token_node(section: KeysSection, label: str) -> TokenNode:
    return next(n for n in nodes(section) if isinstance(n, TokenNode)
                and n.token.info.label == label)


def key_nodes(section: KeysSection, label: str) -> list[KeyNode]:
    return [n for n in nodes(section) if isinstance(n, KeyNode)
            and n.token.info.label == label]


def select(section: KeysSection, wanted: Any) -> None:
    from strongroom.ui.keys.model import selection_of

    section.select(selection_of(wanted))
    assert section.selected() == wanted


def row_text(section: KeysSection, node: Any, column: Column) -> str:
    from strongroom.ui.keys.model import selection_of

    index = next(i for i in section.model.indexes()
                 if selection_of(section.model.node(i)) == selection_of(node))
    return index.siblingAtColumn(list(Column).index(column)).data()


@pytest.fixture
def opened(qtbot, world: dict) -> KeysSection:
    """The module's section, unlocked once and idle. The tests below run in file order."""
    section = world["section"]
    if section.vault is None:
        section.vault_unlocked(world["vault"])
    qtbot.waitUntil(lambda: section.task is None and section.model.rowCount() > 0,
                    timeout=WAIT_MS)
    return section


def test_the_tree_shows_the_softhsm_module_and_token_and_why_the_tpm_is_missing(
    opened: KeysSection, softhsm: SoftHsm, token: str  # noqa: F811
) -> None:
    modules = [n for n in nodes(opened) if isinstance(n, ModuleNode)]
    real = os.path.realpath(softhsm.module)
    [hsm] = [m for m in modules if m.module.path and os.path.realpath(m.module.path) == real]
    assert row_text(opened, hsm, Column.Label) == "libsofthsm2.so (SoftHSM)"
    assert row_text(opened, hsm, Column.Type) == "PKCS#11 module"
    assert row_text(opened, hsm, Column.Flags) == "detected"
    [tpm] = [m for m in modules if m.module.store == "tpm"]
    assert row_text(opened, tpm, Column.Flags) == f"unavailable: {NO_TPM}"
    tok = token_node(opened, token)
    assert row_text(opened, tok, Column.Flags).startswith("logged out, ")
    assert "login-required" in row_text(opened, tok, Column.Flags)
    select(opened, tok)
    assert opened.details.fields["Login"].text().startswith("logged out")
    assert opened.details.fields["Keys"].text() == "log in to list its private keys"
    assert opened.login_button.isEnabled() and not opened.generate_button.isEnabled()


def test_a_wrong_pin_is_shown_in_the_dialog_and_the_token_stays_logged_out(
    qtbot, opened: KeysSection, world: dict, token: str
) -> None:
    select(opened, token_node(opened, token))
    dialog = opened.ask_login()
    assert dialog is not None and dialog.pin.echoMode() == dialog.pin.EchoMode.Password
    dialog.pin.setText("999999")
    dialog.ok_button.click()
    assert dialog.pin.text() == ""  # handed over once, not kept in the field
    qtbot.waitUntil(lambda: dialog.error.isVisible(), timeout=WAIT_MS)
    assert "wrong PIN" in dialog.error.text() and token in dialog.error.text()
    assert dialog.isVisible() and dialog.pin.isEnabled()  # the user decides what next
    assert opened.stores == {}
    [event] = world["vault"].audit_events(action="keys.login")
    assert event.outcome == "failed" and "999999" not in repr(event)
    dialog.reject()


def test_the_pin_dialog_warns_before_the_final_try(qtbot, opened: KeysSection,
                                                   token: str) -> None:
    from dataclasses import replace

    from strongroom.ui.keys.dialogs import TokenPinDialog

    info = token_node(opened, token).token.info
    assert not TokenPinDialog(info).caution.text()
    last = TokenPinDialog(replace(info, flags=(*info.flags, "user-pin-final-try")))
    qtbot.addWidget(last)
    assert "final try" in last.caution.text() and not last.caution.isHidden()
    locked = TokenPinDialog(replace(info, flags=(*info.flags, "user-pin-locked")))
    qtbot.addWidget(locked)
    assert "locked" in locked.caution.text()


def test_a_wrong_pin_names_the_tries_left_when_the_device_counts_them() -> None:
    from strongroom.app.errors import WrongPin
    from strongroom.ui.keys.dialogs import pin_error_text

    assert pin_error_text(WrongPin("logging in to t: wrong PIN", retries=2)) == \
        "Logging in to t: wrong PIN; 2 tries left."
    assert pin_error_text(WrongPin("wrong PIN; the final try", retries=1)) == \
        "Wrong PIN; the final try"
    assert pin_error_text(WrongPin("wrong PIN")) == "Wrong PIN"


def test_the_right_pin_logs_in_and_lists_keys(
    qtbot, opened: KeysSection, world: dict, softhsm: SoftHsm, token: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    select(opened, token_node(opened, token))
    dialog = opened.ask_login()
    assert dialog is not None
    dialog.pin.setText(softhsm.pin)
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: opened.pin_dialog is None, timeout=WAIT_MS)  # accepted and gone
    qtbot.waitUntil(lambda: opened.task is None, timeout=WAIT_MS)
    tok = token_node(opened, token)
    assert token_key(tok.token.info) in opened.stores
    assert row_text(opened, tok, Column.Flags).startswith("logged in")
    assert opened.selected() == tok  # the selection survives the refresh
    assert opened.generate_button.isEnabled() and opened.logout_button.isEnabled()
    events = world["vault"].audit_events(action="keys.login")
    assert sorted(e.outcome for e in events) == ["failed", "ok"]
    assert all(softhsm.pin not in repr(e) for e in events)
    assert softhsm.pin not in caplog.text


def test_generate_ec_p256_shows_the_key_with_its_fingerprint_and_no_warning(
    qtbot, opened: KeysSection, world: dict, token: str
) -> None:
    tok = token_node(opened, token)
    finish(qtbot, opened.generate(tok.token.info, KeyType.EcP256, "ui-signer", b"\x51\x01"))
    qtbot.waitUntil(lambda: opened.task is None and bool(key_nodes(opened, token)), timeout=WAIT_MS)
    [key] = key_nodes(opened, token)
    assert key.key.algorithm == "EC P-256" and key.key.key_id == "5101"
    assert key.key.sensitive and not key.key.extractable and key.key.warnings == ()
    assert opened.selected() == key  # the new key is selected
    fp = key.key.fingerprint
    assert row_text(opened, key, Column.Fingerprint).replace(" ", "").rstrip("…") == \
        fp[:16].upper()
    shown = opened.details.fields["SHA-256 fingerprint"].text()
    assert "".join(shown.split()) == fp.upper() and len(shown.split()) == 16
    assert len(shown.splitlines()) == 4  # whole: laid out in lines, never cut by wrapping
    words = opened.details.fields["Read aloud"].text().split()
    assert words == key_fingerprints.fingerprint_words(fp) and len(words) == 32
    assert not opened.details.warnings.isVisible()
    [event] = world["vault"].audit_events(action="keys.generate")
    assert event.details["fingerprint"] == fp and event.details["token_serial"]


def test_signing_files_writes_detached_signatures_that_verify(
    qtbot, opened: KeysSection, world: dict, tmp_path: Path, token: str
) -> None:
    [key] = key_nodes(opened, token)
    files = [tmp_path / "a.txt", tmp_path / "b.bin"]
    files[0].write_bytes(b"release notes\n")
    files[1].write_bytes(os.urandom(3 << 20))  # more than one read chunk
    out = tmp_path / "sigs"
    out.mkdir()
    finish(qtbot, opened.sign_files(key, files, SignAlgorithm.EcdsaSha256, out))
    public = serialization.load_der_public_key(key.key.public_key)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    for f in files:
        public.verify((out / f"{f.name}.sig").read_bytes(), f.read_bytes(),
                      ec.ECDSA(hashes.SHA256()))
    events = world["vault"].audit_events(action="keys.sign")
    assert sorted(e.target for e in events) == ["a.txt", "b.bin"]
    import hashlib

    by_name = {e.target: e.details for e in events}
    assert by_name["b.bin"]["sha256"] == hashlib.sha256(files[1].read_bytes()).hexdigest()
    assert by_name["a.txt"]["key_id"] == "5101"

    # The section's own verify says valid, and invalid for a changed file.
    finish(qtbot, opened.verify(files[0], out / "a.txt.sig", SignAlgorithm.EcdsaSha256,
                                key=key.key))
    assert opened.last_verdict[0] and "Valid" in opened.last_verdict[1]
    files[0].write_bytes(b"release notes, edited\n")
    finish(qtbot, opened.verify(files[0], out / "a.txt.sig", SignAlgorithm.EcdsaSha256,
                                key=key.key))
    assert opened.last_verdict == (False, opened.last_verdict[1])
    assert "Not valid" in opened.last_verdict[1]


def test_export_the_public_key_as_pem_and_verify_with_it(
    qtbot, opened: KeysSection, tmp_path: Path, token: str
) -> None:
    [key] = key_nodes(opened, token)
    pem = tmp_path / "signer.pub.pem"
    finish(qtbot, opened.export_public(key, pem))
    assert oct(pem.stat().st_mode & 0o777) == "0o644"
    loaded = serialization.load_pem_public_key(pem.read_bytes())
    assert loaded.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo) == \
        key.key.public_key
    data = tmp_path / "m.txt"
    data.write_bytes(b"message")
    finish(qtbot, opened.sign_files(key, [data]))  # beside the file, default algorithm
    finish(qtbot, opened.verify(data, tmp_path / "m.txt.sig", SignAlgorithm.EcdsaSha256,
                                pem=pem))
    assert opened.last_verdict is not None and opened.last_verdict[0]


def test_the_sign_dialog_signs_beside_each_file(
    qtbot, opened: KeysSection, world: dict, tmp_path: Path, token: str
) -> None:
    [key] = key_nodes(opened, token)
    select(opened, key)
    assert opened.sign_button.isEnabled()
    dialog = opened.ask_sign()
    assert dialog is not None
    assert [dialog.algorithm.itemText(i) for i in range(dialog.algorithm.count())] == [
        "ecdsa-sha256", "ecdsa-sha384"]
    dialog.algorithm.setCurrentIndex(1)
    assert dialog.chosen_algorithm() is SignAlgorithm.EcdsaSha384
    files = [tmp_path / f"f{i}.txt" for i in range(3)]
    for f in files:
        f.write_text(f.name)
    dialog.add_files([str(f) for f in files] + [str(files[0])])  # a repeat is listed once
    assert dialog.paths() == files
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    ok.click()
    qtbot.waitUntil(lambda: opened.task is None, timeout=WAIT_MS)
    assert world["harness"].errors == []
    assert opened.last_signed is not None and len(opened.last_signed) == 3
    public = serialization.load_der_public_key(key.key.public_key)
    for f in files:
        public.verify(Path(f"{f}.sig").read_bytes(), f.read_bytes(), ec.ECDSA(hashes.SHA384()))
    assert world["harness"].statuses[-1].startswith("Signed 3 file(s) with ui-signer")


def test_cancel_while_signing_leaves_no_signature(
    qtbot, opened: KeysSection, world: dict, tmp_path: Path, token: str
) -> None:
    [key] = key_nodes(opened, token)
    files = [tmp_path / f"c{i}.txt" for i in range(4)]
    for f in files:
        f.write_text(f.name)
    handed: dict[str, Task] = {}
    ready = threading.Event()

    def press_cancel(done: int, _total: int) -> None:  # on the worker, as signature 1 is made
        if done == 1:
            assert ready.wait(WAIT_MS / 1000)
            handed["task"].cancel()

    opened.file_progress.connect(press_cancel, Qt.ConnectionType.DirectConnection)
    try:
        handed["task"] = opened.sign_files(key, files)
        ready.set()
        finish(qtbot, handed["task"])
    finally:
        opened.file_progress.disconnect(press_cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f.name for f in files]  # no temps
    assert world["harness"].statuses[-1] == "Signing cancelled; no signature was written."
    vault = world["vault"]
    assert [e.target for e in vault.audit_events(action="keys.sign")
            if e.target.startswith("c")] == []
    assert any(e.outcome == "failed" and e.details.get("error") == "UserCancelled"
               for e in vault.audit_events(action="keys.sign"))


def test_the_verify_dialog_says_valid_or_not(
    qtbot, opened: KeysSection, tmp_path: Path, token: str
) -> None:
    [key] = key_nodes(opened, token)
    data = tmp_path / "v.txt"
    data.write_text("verify me")
    finish(qtbot, opened.sign_files(key, [data]))
    select(opened, key)
    dialog = opened.ask_verify()
    assert dialog.use_key.isChecked()
    dialog.file[0].setText(str(data))
    dialog.signature[0].setText(f"{data}.sig")
    dialog.verify_button.click()
    qtbot.waitUntil(lambda: dialog.result.text().startswith(("✔", "✘")), timeout=WAIT_MS)
    assert dialog.result.text().startswith("✔ Valid") and dialog.result.property("role") == "ok"
    Path(f"{data}.sig").write_bytes(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    dialog.verify_button.click()
    qtbot.waitUntil(lambda: "Not valid" in dialog.result.text(), timeout=WAIT_MS)
    assert dialog.result.property("role") == "error"
    dialog.reject()


def test_the_generate_dialog_refuses_an_id_that_is_not_hex(
    opened: KeysSection, token: str
) -> None:
    select(opened, token_node(opened, token))
    dialog = opened.ask_generate()
    assert dialog is not None
    assert [KeyType(dialog.key_type.itemData(i)) for i in range(dialog.key_type.count())] == [
        KeyType.EcP256, KeyType.EcP384, KeyType.Ed25519, KeyType.Rsa3072, KeyType.Rsa4096]
    dialog.label.setText("x")
    dialog.key_id.setText("zz")
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.isVisible() and "hexadecimal" in dialog.error.text()
    dialog.key_id.setText("0a:1b")
    kind, label, key_id = dialog.values()
    assert kind is KeyType.EcP256 and (label, key_id) == ("x", b"\x0a\x1b")
    dialog.reject()


def test_a_csr_made_on_the_token_passes_openssl_req_verify(
    qtbot, opened: KeysSection, world: dict, tmp_path: Path, token: str
) -> None:
    [key] = key_nodes(opened, token)
    select(opened, key)
    assert opened.csr_button.isEnabled()
    dialog = opened.ask_csr()
    assert dialog is not None and dialog.subject.text() == "CN=ui-signer"
    dialog.subject.setText("CN=build signer,O=Example,C=de")
    dialog.sans.setText("build.example, 10.0.0.7, ops@example.com")
    dialog.dest.setText(str(tmp_path / "signer.csr.pem"))
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: opened.task is None and (tmp_path / "signer.csr.pem").exists(),
                    timeout=WAIT_MS)
    proc = subprocess.run(["openssl", "req", "-verify", "-noout", "-text", "-in",
                           str(tmp_path / "signer.csr.pem")], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "verify OK" in out or "Certificate request self-signature verify OK" in out
    assert "CN=build signer" in out.replace(" = ", "=") and "C=DE" in out.replace(" = ", "=")
    assert "DNS:build.example" in out and "IP Address:10.0.0.7" in out
    csr = x509.load_pem_x509_csr((tmp_path / "signer.csr.pem").read_bytes())
    assert csr.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.key.public_key
    [event] = world["vault"].audit_events(action="keys.csr")
    assert event.details["fingerprint"] == key.key.fingerprint


def test_a_self_signed_certificate_made_on_the_token(
    qtbot, opened: KeysSection, tmp_path: Path, token: str
) -> None:
    [key] = key_nodes(opened, token)
    select(opened, key)
    dialog = opened.ask_csr()
    assert dialog is not None and not dialog.days.isEnabled()
    dialog.cert.setChecked(True)
    assert dialog.days.isEnabled() and dialog.dest.text().endswith(".crt.pem")
    dialog.subject.setText("CN")  # not NAME=value: refused in the dialog
    dialog.ok_button.click()
    assert dialog.isVisible() and "not NAME=value" in dialog.error.text()
    dialog.subject.setText("CN=ui signer")
    dialog.days.setValue(30)
    dialog.dest.setText(str(tmp_path / "signer.crt.pem"))
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: opened.task is None and (tmp_path / "signer.crt.pem").exists(),
                    timeout=WAIT_MS)
    cert = x509.load_pem_x509_certificate((tmp_path / "signer.crt.pem").read_bytes())
    cert.verify_directly_issued_by(cert)
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert days == 30 and cert.subject.rfc4514_string() == "CN=ui signer"


def test_a_certificate_is_imported_next_to_its_key_and_others_are_refused(
    qtbot, opened: KeysSection, world: dict, tmp_path: Path, token: str
) -> None:
    import datetime as dt

    from strongroom.ui.keys.ops import CsrOrder

    [key] = key_nodes(opened, token)
    assert not key.key.has_certificate
    own = tmp_path / "own.crt.pem"
    finish(qtbot, opened.make_csr(key, CsrOrder("CN=ui signer", (), 30, True, own)))
    qtbot.waitUntil(lambda: opened.task is None, timeout=WAIT_MS)
    errors = world["harness"].errors
    errors.clear()
    # Another key's certificate, and a file that is no certificate: one sentence each.
    other = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string("CN=someone else")
    now = dt.datetime.now(dt.UTC)
    foreign = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(other.public_key()).serial_number(7).not_valid_before(now)
               .not_valid_after(now + dt.timedelta(days=1)).sign(other, hashes.SHA256()))
    (tmp_path / "foreign.pem").write_bytes(foreign.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "notes.pem").write_text("not a certificate")
    for bad in ("foreign.pem", "notes.pem"):
        finish(qtbot, opened.import_cert(key, tmp_path / bad))
        qtbot.waitUntil(lambda: opened.task is None, timeout=WAIT_MS)
    assert errors == ["The certificate's public key is not that of key 'ui-signer'",
                      "Not an X.509 certificate (PEM or DER)"]
    assert not next(k for k in key_nodes(opened, token)).key.has_certificate

    finish(qtbot, opened.import_cert(key, own))
    qtbot.waitUntil(lambda: opened.task is None and next(
        k for k in key_nodes(opened, token)).key.has_certificate, timeout=WAIT_MS)
    [event] = world["vault"].audit_events(action="keys.import_cert", outcome="ok")
    assert event.details["fingerprint"] == key.key.fingerprint


def test_the_fingerprint_reads_aloud_as_pgp_words(opened: KeysSection, token: str) -> None:
    [key] = key_nodes(opened, token)
    select(opened, key)
    words = opened.details.fields["Read aloud"].text().split()
    assert words == key_fingerprints.fingerprint_words(key.key.fingerprint) and len(words) == 32


def test_an_extractable_key_made_elsewhere_is_flagged(
    qtbot, opened: KeysSection, softhsm: SoftHsm, token: str  # noqa: F811
) -> None:
    script = (
        "import sys, pkcs11\n"
        "from pkcs11 import Attribute, KeyType, Mechanism\n"
        "from pkcs11.util.ec import encode_named_curve_parameters\n"
        "lib = pkcs11.lib(sys.argv[1])\n"
        "tok = lib.get_token(token_label=sys.argv[2])\n"
        "with tok.open(rw=True, user_pin=sys.stdin.readline().strip()) as s:\n"
        "    params = s.create_domain_parameters(KeyType.EC, {Attribute.EC_PARAMS:"
        " encode_named_curve_parameters('secp256r1')}, local=True)\n"
        "    params.generate_keypair(store=True, label='leaky', id=b'\\x77',"
        " private_template={Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False})\n"
    )
    subprocess.run([sys.executable, "-c", script, softhsm.module, token],
                   input=softhsm.pin + "\n", text=True, check=True, capture_output=True)
    finish(qtbot, opened.refresh())
    [leaky] = [k for k in key_nodes(opened, token) if k.key.label == "leaky"]
    assert leaky.key.extractable
    assert "EXTRACTABLE" in row_text(opened, leaky, Column.Flags)
    select(opened, leaky)
    warnings = opened.details.warnings
    assert warnings.isVisible() and "extractable" in warnings.text()
    assert "not marked sensitive" in warnings.text()


def test_no_provider_or_token_call_runs_on_the_gui_thread(opened: KeysSection,
                                                         world: dict) -> None:
    calls = world["calls"]
    names = {name for name, _t in calls}
    assert {"modules", "tokens", "open", "list_keys", "generate", "sign_many"} <= names
    main = threading.main_thread()
    assert [name for name, thread in calls if thread is main] == []


def test_locking_logs_out_of_the_token_and_clears_the_tree(
    qtbot, opened: KeysSection, world: dict, softhsm: SoftHsm, token: str  # noqa: F811
) -> None:
    info = token_node(opened, token).token.info
    assert opened.stores
    verify = opened.ask_verify()
    assert verify.isVisible() and opened.dialogs == [verify]
    opened.vault_locked()
    assert opened.dialogs == [] and not verify.isVisible()
    assert opened.stores == {} and opened.model.rowCount() == 0
    assert not opened.sign_button.isEnabled() and opened.refresh() is None
    assert opened.hw.wait(WAIT_MS)
    provider = world["pkcs11"]
    [again] = [t for t in provider.tokens(softhsm.module) if t.serial == info.serial]
    assert not again.logged_in
    opened.vault_unlocked(world["vault"])
    qtbot.waitUntil(lambda: opened.task is None and opened.model.rowCount() > 0,
                    timeout=WAIT_MS)
    assert row_text(opened, token_node(opened, token), Column.Flags).startswith("logged out")


def test_adding_a_module_that_is_not_a_library_is_one_sentence(
    qtbot, opened: KeysSection, world: dict, tmp_path: Path
) -> None:
    errors = world["harness"].errors
    errors.clear()
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    finish(qtbot, opened.add_module(str(bogus)))
    assert errors == ["notes.txt is not a shared library (.so, .dll or .dylib)"]


def test_an_added_module_is_remembered_until_forgotten(
    qtbot, opened: KeysSection, world: dict, softhsm: SoftHsm, tmp_path: Path  # noqa: F811
) -> None:
    import shutil

    from strongroom.app.keys import module_config

    vendor = tmp_path / "libvendor-hsm.so"  # on no detected path
    shutil.copyfile(softhsm.module, vendor)
    assert module_config.remembered_modules() == []
    finish(qtbot, opened.add_module(str(vendor)))
    qtbot.waitUntil(lambda: opened.task is None, timeout=WAIT_MS)
    assert module_config.remembered_modules() == [str(vendor)]
    added = next(n for n in nodes(opened) if isinstance(n, ModuleNode)
                 and n.module.path == str(vendor))
    # A module found on the usual paths cannot be forgotten; the added one can.
    detected = next(n for n in nodes(opened) if isinstance(n, ModuleNode)
                    and n.module.info is not None and n.module.info.detected)
    select(opened, detected)
    assert not opened.forget_button.isEnabled()
    select(opened, added)
    assert opened.forget_button.isEnabled()
    # A new console (another start) finds it through the remembered list.
    assert str(vendor) in {m.path for m in key_tokens.load_provider("pkcs11").modules()}

    finish(qtbot, opened.forget_selected_module())
    qtbot.waitUntil(lambda: opened.task is None, timeout=WAIT_MS)
    assert module_config.remembered_modules() == [] and vendor.exists()
    assert not any(isinstance(n, ModuleNode) and n.module.path == str(vendor)
                   for n in nodes(opened))


def test_every_button_has_an_accessible_name(opened: KeysSection) -> None:
    for widget in opened.findChildren(QWidget):
        if isinstance(widget, QAbstractButton) and widget.isVisible():
            assert widget.accessibleName(), widget.text()


def test_hardware_is_read_only_once_the_section_is_shown(qtbot, world: dict) -> None:
    calls: list[tuple[str, threading.Thread]] = []
    pkcs11 = Recorder(world["pkcs11"], calls)
    section = KeysSection(world["harness"].services, providers=lambda _name: pkcs11)
    qtbot.addWidget(section)
    section.vault_unlocked(world["vault"])  # unlocked while another section is on screen
    assert section.task is None and calls == []  # a refresh would have been submitted here
    section.show()
    qtbot.waitUntil(lambda: section.task is None and section.model.rowCount() > 0,
                    timeout=WAIT_MS)
    assert {"modules", "tokens"} <= {name for name, _t in calls}
    section.vault_locked()
    assert section.hw.wait(WAIT_MS)


def test_the_console_uses_this_section() -> None:
    from strongroom.ui.main_window import default_sections

    assert KeysSection in default_sections()



def test_the_tpm_shows_its_keys_and_signs_with_blobs_kept_in_the_vault(
    qtbot, swtpm, tmp_path: Path
) -> None:
    from strongroom.backends.tpm import TpmKeyProvider

    harness = make_services(tmp_path / "console.ini", lambda _s: NoClipboard())
    tpm = TpmKeyProvider(swtpm.tcti)

    def providers(name: str) -> Any:
        if name == "tpm-keys":
            return tpm
        raise BackendUnavailable("no PKCS#11 in this test")

    vault = make_vault(tmp_path / "vault")
    section = KeysSection(harness.services, providers=providers)
    qtbot.addWidget(section)
    section.show()
    section.vault_unlocked(vault)
    qtbot.waitUntil(lambda: section.task is None and section.model.rowCount() > 0,
                    timeout=WAIT_MS)
    [module] = [n for n in nodes(section) if isinstance(n, ModuleNode)
                and n.module.store == "tpm"]
    assert row_text(section, module, Column.Label) == f"TPM ({swtpm.tcti})"
    [tok] = [n for n in nodes(section) if isinstance(n, TokenNode)]
    select(section, tok)
    assert section.generate_button.isEnabled() and section.login_button.isEnabled()
    finish(qtbot, section.generate(tok.token.info, KeyType.EcP256, "tpm-signer"))
    qtbot.waitUntil(lambda: section.task is None, timeout=WAIT_MS)
    [key] = [n for n in nodes(section) if isinstance(n, KeyNode)]
    assert section.selected() == key and key.key.warnings == ()
    assert [b.label for b in vault.blobs("tpm")] == ["tpm-signer"]
    data = tmp_path / "tpm.txt"
    data.write_text("signed in the TPM")
    finish(qtbot, section.sign_files(key, [data]))
    assert harness.errors == []
    public = serialization.load_der_public_key(key.key.public_key)
    public.verify(Path(f"{data}.sig").read_bytes(), data.read_bytes(), ec.ECDSA(hashes.SHA256()))
    section.vault_locked()
    assert section.hw.wait(WAIT_MS)
    vault.lock()
