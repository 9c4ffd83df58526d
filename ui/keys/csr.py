"""The CSR / self-signed certificate dialog: subject, subject alternative names, validity, output.

The request or certificate is built and signed on the token by the app layer
(``strongroom.app.keys.certificates``); this dialog only collects and checks what the user typed.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.errors import UsageError
from strongroom.app.keys import certificates as x509req
from strongroom.app.keys.ports import KeyInfo

from .ops import CsrOrder

SAN_PREFIX = {"dns": "DNS", "ip": "IP", "email": "email", "uri": "URI"}


def parse_sans(text: str) -> tuple[str, ...]:
    """'a.example, 10.0.0.1, ops@example.com' → ('DNS:a.example', 'IP:10.0.0.1', 'email:…')."""
    out: list[str] = []
    for raw in text.replace("\n", ",").split(","):
        item = raw.strip()
        if not item:
            continue
        kind, sep, value = item.partition(":")
        if sep and kind.lower() in SAN_PREFIX and value.strip():
            out.append(f"{SAN_PREFIX[kind.lower()]}:{value.strip()}")
            continue
        try:
            ipaddress.ip_address(item)
        except ValueError:
            out.append(f"email:{item}" if "@" in item else f"DNS:{item}")
        else:
            out.append(f"IP:{item}")
    return tuple(out)


def check_subject(subject: str) -> str | None:
    """Why ``subject`` is not a usable distinguished name (one sentence), or None."""
    try:
        x509req.parse_subject(subject)
    except UsageError as e:
        text = str(e)
        return f"{text[:1].upper()}{text[1:]}."
    return None


class CsrDialog(QDialog):
    """Subject, SANs and validity for a CSR or a self-signed certificate of one key."""

    def __init__(self, key: KeyInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Certificate request for {key.label}")
        self.csr = QRadioButton("Certificate signing request (CSR) for a CA")
        self.csr.setChecked(True)
        self.cert = QRadioButton("Self-signed certificate")
        self.subject = QLineEdit(f"CN={key.label}")
        self.subject.setAccessibleName("Subject")
        self.sans = QLineEdit()
        self.sans.setAccessibleName("Subject alternative names")
        self.sans.setPlaceholderText("host.example, 10.0.0.1, ops@example.com")
        self.days = QSpinBox()
        self.days.setRange(1, x509req.MAX_DAYS)
        self.days.setValue(365)
        self.days.setSuffix(" days")
        self.days.setAccessibleName("Validity in days")
        self.cert.toggled.connect(self.days.setEnabled)
        self.days.setEnabled(False)
        self.dest = QLineEdit(str(Path.home() / f"{key.label or key.key_id}.csr.pem"))
        self.dest.setAccessibleName("Save as")
        choose = QPushButton("Choose…")
        choose.setAccessibleName("Choose where to save")
        choose.clicked.connect(self._choose)
        self.cert.toggled.connect(self._suffix)
        self.error = QLabel()
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = box.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Create")
        self.ok_button.setAccessibleName("Create")
        box.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        box.accepted.connect(self._check)
        box.rejected.connect(self.reject)
        where = QHBoxLayout()
        where.addWidget(self.dest, 1)
        where.addWidget(choose)
        form = QFormLayout()
        form.addRow("Subject", self.subject)
        form.addRow("Alternative names", self.sans)
        form.addRow("Validity", self.days)
        form.addRow("Save as", where)
        note = QLabel("Signed on the token with this key; the private key never leaves it.")
        note.setProperty("role", "muted")
        note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addWidget(self.csr)
        lay.addWidget(self.cert)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(self.error)
        lay.addWidget(box)

    def order(self) -> CsrOrder:
        return CsrOrder(self.subject.text().strip(), parse_sans(self.sans.text()),
                        self.days.value(), self.cert.isChecked(), Path(self.dest.text().strip()))

    def _suffix(self, self_signed: bool) -> None:
        text = self.dest.text()
        old, new = (".csr.pem", ".crt.pem") if self_signed else (".crt.pem", ".csr.pem")
        if text.endswith(old):
            self.dest.setText(text[: -len(old)] + new)

    def _choose(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save as", self.dest.text(), "PEM (*.pem)")
        if path:
            self.dest.setText(path)

    def _check(self) -> None:
        problem = check_subject(self.subject.text())
        dest = Path(self.dest.text().strip())
        if problem is None and (not self.dest.text().strip() or not dest.parent.is_dir()):
            problem = "Choose where to save it (an existing folder)."
        if problem is not None:
            self.error.setText(problem)
            self.error.show()
            return
        self.accept()
