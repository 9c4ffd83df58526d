"""The Keys & Signing actions (generate, sign, verify, export, CSR): a controller the section holds.

Each ``ask_*`` opens a dialog; each action method is public and returns the Task it started, so
tests and the dialogs share one path. The work itself is in :mod:`.ops` (no Qt). Signing with a
key the policy marks high-value goes through the two-person rule's approver flow
(ui/widgets/approval_flow.py), on the section's hardware runner.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QDialog, QFileDialog, QWidget

from strongroom.app.access.approvals import Approval
from strongroom.app.errors import AccessDenied, UsageError
from strongroom.app.keys import algorithms, signing
from strongroom.app.keys import certificates as x509req
from strongroom.app.keys.ports import KeyInfo, KeyStore, KeyType, SignAlgorithm, TokenInfo
from strongroom.app.vault import Vault

from ..base import Services
from ..widgets.approval_flow import Guarded
from ..widgets.approvers import approval_needed
from ..workers import Task, Work, user_message
from . import ops
from .csr import CsrDialog
from .dialogs import GenerateDialog, SignDialog, VerifyDialog
from .host import SectionHost
from .inventory import token_key
from .model import KeyNode


class ActionsHost(SectionHost, Protocol):
    """What the key actions need from the section besides the basics."""

    file_progress: SignalInstance  # (files signed, of how many), emitted from the worker

    def selected_key(self) -> KeyNode | None: ...

    def selected_token(self) -> TokenInfo | None: ...

    def with_store(self, token: TokenInfo, fn: Callable[[KeyStore], Any]) -> Callable[[], Any]:
        """``fn`` on the console's session on ``token``, or on a session opened for the call."""
        ...


CANCELLED = {"keys.sign": "Signing cancelled; no signature was written."}


class _Approvals:
    """The section as the approver flow's host: its vault, and its hardware runner and busy row."""

    def __init__(self, host: ActionsHost, parent: QWidget) -> None:
        self._host, self._parent = host, parent

    @property
    def services(self) -> Services:
        return self._host.services

    @property
    def vault(self) -> Vault | None:
        return self._host.vault

    def submit(self, name: str, text: str, work: Work, on_success: Callable[[Any], None],
               on_error: Callable[[BaseException], None] | None = None) -> Task:
        return self._host.run(name, text, work, on_success, on_error,
                              cancelled=CANCELLED.get(name, ""))

    def window(self) -> QWidget:
        return self._parent.window()


class KeyActions:
    """Generate, sign, verify, export, CSR and import certificate; ``parent`` holds the dialogs."""

    def __init__(self, host: ActionsHost, parent: QWidget) -> None:
        self.host = host
        self.parent = parent
        self.guard = Guarded(_Approvals(host, parent))  # signing with a high-value key
        self.dialogs: list[QDialog] = []  # the generate, sign, verify and CSR dialogs open
        self.last_verdict: tuple[bool, str] | None = None
        self.last_signed: list[ops.Signed] | None = None

    def close_dialogs(self) -> None:
        self.guard.close()
        dialogs, self.dialogs = self.dialogs, []
        for dialog in dialogs:
            dialog.reject()

    def _keep(self, dialog: QDialog) -> QDialog:
        """Open ``dialog`` (window-modal, not blocking) and forget it once it is closed."""
        self.dialogs.append(dialog)

        def closed(_result: int) -> None:
            if dialog in self.dialogs:
                self.dialogs.remove(dialog)
            dialog.deleteLater()

        dialog.finished.connect(closed)
        dialog.open()
        return dialog

    # ----- generate ------------------------------------------------------------------------------

    def ask_generate(self) -> GenerateDialog | None:
        token = self.host.selected_token()
        if token is None:
            return None
        dialog = GenerateDialog(token, self.parent)
        dialog.accepted.connect(lambda: self.generate(token, *dialog.values()))
        self._keep(dialog)
        return dialog

    def generate(self, token: TokenInfo, key_type: KeyType, label: str,
                 key_id: bytes | None = None) -> Task | None:
        """Generate a key pair on ``token`` (sensitive, never extractable), audited."""
        host, vault = self.host, self.host.vault
        if vault is None:
            return None

        def make(store: KeyStore, cancel: threading.Event) -> KeyInfo:
            return signing.generate_key(store, label, key_type, key_id, vault=vault, token=token,
                                        cancel=cancel)

        def done(key: KeyInfo) -> None:
            host.services.status(f"Generated {key.algorithm} key {key.label} on {token.label}.")
            host.refresh(("key", token_key(token), key.key_id, key.fingerprint))

        return host.run("key.generate", f"Generating a {key_type.value} key on {token.label}…",
                        lambda cancel, _p: host.with_store(token, lambda s: make(s, cancel))(),
                        done)

    # ----- sign ----------------------------------------------------------------------------------

    def ask_sign(self) -> SignDialog | None:
        node = self.host.selected_key()
        if node is None:
            return None
        dialog = SignDialog(node.key, ops.algorithms_for(node.key), self.parent)
        dialog.accepted.connect(lambda: self.sign_files(
            node, dialog.paths(), dialog.chosen_algorithm(), dialog.out_dir()))
        self._keep(dialog)
        return dialog

    def sign_files(self, node: KeyNode, files: Sequence[Path],
                   algorithm: SignAlgorithm | None = None,
                   out_dir: Path | None = None) -> Task | None:
        """Detached ``.sig`` files for ``files`` (beside them or in ``out_dir``), each audited."""
        host, vault, key, token = self.host, self.host.vault, node.key, node.token.info
        choices = ops.algorithms_for(key)
        algorithm = algorithm or (choices[0] if choices else None)
        if vault is None or algorithm is None or not files:
            if vault is not None:
                host.services.error(f"Strongroom cannot sign with a {key.algorithm} key.")
            return None
        emit, paths = host.file_progress.emit, list(files)
        folders = {out_dir or p.parent for p in paths}

        def work(approval: Approval | None, cancel: Any, _p: object) -> list[ops.Signed]:
            emit(0, len(paths))
            try:
                return host.with_store(token, lambda s: ops.sign_files(
                    vault, s, token, key, paths, algorithm, out_dir, cancel, emit,
                    approval=approval))()
            except AccessDenied as e:  # refused before anything was signed
                if approval is None and len(folders) > 1 and approval_needed(e):
                    raise UsageError(
                        f"{user_message(e).rstrip('.')}. An approval covers one signing: sign "
                        "the files of one folder at a time, or choose a folder for the "
                        "signatures") from e
                raise

        def done(signed: list[ops.Signed]) -> None:
            self.last_signed = signed
            names = ", ".join(s.signature.name for s in signed[:3])
            more = f" and {len(signed) - 3} more" if len(signed) > 3 else ""
            host.services.status(f"Signed {len(signed)} file(s) with {key.label}: {names}{more}.")

        return self.guard.run_work("keys.sign", f"Signing {len(paths)} file(s) with {key.label}…",
                                   work, done, nothing="no signature was written")

    # ----- verify --------------------------------------------------------------------------------

    def ask_verify(self) -> VerifyDialog:
        node = self.host.selected_key()
        key = node.key if node is not None else None
        dialog = VerifyDialog(key, ops.algorithms_for(key) if key else (), self.parent)
        dialog.verify_requested.connect(lambda: self._verify_from(dialog))
        self._keep(dialog)
        return dialog

    def _verify_from(self, dialog: VerifyDialog) -> None:
        file, sig = dialog.file[0].text().strip(), dialog.signature[0].text().strip()
        pem = dialog.pem[0].text().strip()
        if not file or not sig or (dialog.use_pem.isChecked() and not pem):
            dialog.show_result(None, "Choose the file, its signature and a key.")
            return
        use_key = dialog.use_key.isChecked() and dialog.key is not None
        dialog.show_result(None, "Checking…")
        self.verify(Path(file), Path(sig), dialog.chosen_algorithm(),
                    key=dialog.key if use_key else None, pem=None if use_key else Path(pem),
                    report=dialog.show_result)

    def verify(self, file: Path, signature: Path, algorithm: SignAlgorithm, *,
               key: KeyInfo | None = None, pem: Path | None = None,
               report: Callable[[bool | None, str], None] | None = None) -> Task | None:
        """Check a detached signature with ``key`` or a public key file; the verdict is shown
        through ``report`` and kept in ``last_verdict``."""
        if self.host.vault is None or (key is None and pem is None):
            return None

        def work(_c: object, _p: object) -> bool:
            spki = key.public_key if key is not None else ops.load_public_key(
                _read(pem, "public key"))
            return ops.verify_file(spki, file, _read(signature, "signature"), algorithm)

        def show(ok: bool | None, text: str) -> None:
            self.last_verdict = (bool(ok), text)
            (report or (lambda _ok, t: self.host.services.status(t)))(ok, text)

        who = key.label if key is not None else (pem.name if pem else "")

        def done(ok: bool) -> None:
            show(ok, f"✔ Valid: {file.name} was signed by {who} ({algorithm.value})." if ok
                 else f"✘ Not valid: the signature does not match {file.name} and {who}.")

        def failed(exc: BaseException) -> None:
            if isinstance(exc, algorithms.CorruptSignature):
                show(False, f"✘ Not valid: {exc}.")
            else:
                show(False, f"✘ {user_message(exc)}")

        return self.host.run("keys.verify", f"Verifying {file.name}…", work, done, failed)

    # ----- export and CSR ------------------------------------------------------------------------

    def ask_export(self) -> None:
        node = self.host.selected_key()
        if node is None:
            return
        name = f"{node.key.label or node.key.key_id}.pub.pem".replace("/", "_")
        path, _ = QFileDialog.getSaveFileName(self.parent, "Export the public key",
                                              str(Path.home() / name), "PEM (*.pem)")
        if path:
            self.export_public(node, Path(path))

    def export_public(self, node: KeyNode, dest: Path) -> Task | None:
        host, vault = self.host, self.host.vault
        if vault is None:
            return None
        return host.run(
            "keys.export", "Writing the public key…",
            lambda _c, _p: ops.export_public(vault, node.token.info, node.key, dest),
            lambda path: host.services.status(f"Wrote the public key of {node.key.label} to "
                                              f"{path.name}."))

    def ask_csr(self) -> CsrDialog | None:
        node = self.host.selected_key()
        if node is None:
            return None
        dialog = CsrDialog(node.key, self.parent)
        dialog.accepted.connect(lambda: self.make_csr(node, dialog.order()))
        self._keep(dialog)
        return dialog

    def make_csr(self, node: KeyNode, order: ops.CsrOrder) -> Task | None:
        """A PKCS#10 request or a self-signed certificate for the key, signed on its token."""
        host, vault, key, token = self.host, self.host.vault, node.key, node.token.info
        if vault is None:
            return None
        what = "certificate" if order.self_signed else "certificate request"
        return host.run(
            "keys.certificate" if order.self_signed else "keys.csr",
            f"Signing the {what} on {token.label}…",
            lambda _c, _p: host.with_store(token, lambda s: ops.make_csr(
                vault, s, token, key, order))(),
            lambda path: host.services.status(f"Wrote the {what} for {key.label} to "
                                              f"{path.name}."))

    def ask_import_cert(self) -> None:
        node = self.host.selected_key()
        if node is None:
            return
        path, _ = QFileDialog.getOpenFileName(
            self.parent, f"Certificate for {node.key.label}", str(Path.home()),
            "Certificates (*.pem *.crt *.cer *.der);;All files (*)")
        if path:
            self.import_cert(node, Path(path))

    def import_cert(self, node: KeyNode, path: Path) -> Task | None:
        """Store the certificate in ``path`` on the token next to the key (it must be for that
        key); audited like every token operation."""
        host, vault, key, token = self.host, self.host.vault, node.key, node.token.info
        if vault is None:
            return None

        def work(_c: object, _p: object) -> None:
            der = x509req.certificate_der(_read(path, "certificate"))
            host.with_store(token, lambda s: signing.import_certificate(
                s, key, der, vault=vault, token=token))()

        def done(_r: object) -> None:
            host.services.status(f"Stored the certificate {path.name} next to {key.label} on "
                                 f"{token.label}.")
            host.refresh()

        return host.run("keys.import_cert", f"Storing the certificate on {token.label}…",
                        work, done)


def _read(path: Path | None, what: str) -> bytes:
    if path is None:
        raise UsageError(f"choose the {what} file")
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise UsageError(f"there is no {what} file {path.name}") from e
    except OSError as e:
        raise UsageError(f"cannot read the {what} file {path.name}: {e.strerror}") from e
