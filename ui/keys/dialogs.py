"""Dialogs of the Keys & Signing section: token PIN, generate a key, sign files, verify.

None of them touches a token: each collects what the user chose and the section runs the work on
its hardware runner. The PIN dialog hands the PIN over once and clears its field; it keeps no copy.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.errors import WrongPin
from strongroom.app.keys.ports import KeyInfo, KeyType, SignAlgorithm, StoreKind, TokenInfo

from ..widgets.common import button
from ..workers import user_message
from .details import pin_state

KEY_TYPES = {
    KeyType.EcP256: "EC P-256 (ECDSA)", KeyType.EcP384: "EC P-384 (ECDSA)",
    KeyType.Ed25519: "Ed25519", KeyType.Rsa3072: "RSA 3072", KeyType.Rsa4096: "RSA 4096",
}


def pin_error_text(exc: BaseException) -> str:
    """The login error, with the tries left when the device counts them and did not say so."""
    text = user_message(exc)
    retries = getattr(exc, "retries", None)
    said = "try" in text or "tries" in text
    if isinstance(exc, WrongPin) and retries is not None and not said:
        text = f"{text.rstrip('.')}; {retries} {'try' if retries == 1 else 'tries'} left."
    return text


def _buttons(dialog: QDialog, ok_text: str) -> QDialogButtonBox:
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                           | QDialogButtonBox.StandardButton.Cancel)
    ok = box.button(QDialogButtonBox.StandardButton.Ok)
    ok.setText(ok_text)
    ok.setAccessibleName(ok_text)
    box.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
    box.rejected.connect(dialog.reject)
    return box


def _error_label() -> QLabel:
    label = QLabel()
    label.setProperty("role", "error")
    label.setWordWrap(True)
    label.setAccessibleName("Error")
    label.hide()
    return label


class TokenPinDialog(QDialog):
    """Asks a token's user PIN (masked). ``submitted`` carries it once; the field is then cleared.

    It stays open while the login runs so a wrong PIN can be shown with what the token says
    about tries left; the user decides whether to try again, nothing retries by itself.
    """

    submitted = Signal(str)

    def __init__(self, token: TokenInfo, parent: QWidget | None = None, *,
                 title: str = "Log in to the token", ok_text: str = "Log in",
                 kind: StoreKind | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.token = token
        intro = QLabel(
            f"Enter the PIN that protects your {kind.title} keys; keys generated in this "
            "session get it." if kind is not None and kind.key_pins else
            f"Enter the user PIN of token “{token.label}” (serial {token.serial}).")
        intro.setWordWrap(True)
        self.caution = QLabel(pin_state(token.flags))
        self.caution.setProperty("role", "warning")
        self.caution.setWordWrap(True)
        self.caution.setVisible(bool(self.caution.text()))
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setAccessibleName("Token PIN")
        self.pin.setInputMethodHints(Qt.InputMethodHint.ImhHiddenText
                                     | Qt.InputMethodHint.ImhSensitiveData
                                     | Qt.InputMethodHint.ImhNoPredictiveText)
        self.error = _error_label()
        self.box = _buttons(self, ok_text)
        self.ok_button = self.box.button(QDialogButtonBox.StandardButton.Ok)
        self.box.accepted.connect(self.submit)
        self.pin.textChanged.connect(lambda t: self.ok_button.setEnabled(bool(t)))
        self.ok_button.setEnabled(False)
        lay = QVBoxLayout(self)
        for widget in (intro, self.caution, self.pin, self.error, self.box):
            lay.addWidget(widget)

    def submit(self) -> None:
        pin = self.pin.text()
        self.pin.clear()
        if not pin:
            return
        self.set_busy(True)
        self.submitted.emit(pin)

    def set_busy(self, busy: bool) -> None:
        self.pin.setEnabled(not busy)
        self.ok_button.setEnabled(not busy and bool(self.pin.text()))
        if busy:
            self.error.hide()

    def show_error(self, text: str) -> None:
        """The login failed: say why (and what the token says about tries left)."""
        self.set_busy(False)
        self.error.setText(text)
        self.error.show()
        self.pin.setFocus()


class GenerateDialog(QDialog):
    """Type, label and optional id of a new key (generated sensitive and never extractable)."""

    def __init__(self, token: TokenInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Generate a key on {token.label}")
        self.key_type = QComboBox()
        self.key_type.setAccessibleName("Key type")
        for kind, text in KEY_TYPES.items():
            self.key_type.addItem(text, kind)
        self.label = QLineEdit()
        self.label.setAccessibleName("Key label")
        self.key_id = QLineEdit()
        self.key_id.setAccessibleName("Key id in hex (optional)")
        self.key_id.setPlaceholderText("random when empty")
        note = QLabel("The private key is generated on the device, marked sensitive and never "
                      "extractable.")
        note.setWordWrap(True)
        note.setProperty("role", "muted")
        self.error = _error_label()
        box = _buttons(self, "Generate")
        box.accepted.connect(self._check)
        form = QFormLayout()
        form.addRow("Type", self.key_type)
        form.addRow("Label", self.label)
        form.addRow("Id (hex)", self.key_id)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(self.error)
        lay.addWidget(box)

    def values(self) -> tuple[KeyType, str, bytes | None]:
        """(type, label, id); raises ValueError for an id that is not hex."""
        text = self.key_id.text().strip().replace(":", "").replace(" ", "")
        # Qt hands a StrEnum back as its str value.
        return (KeyType(self.key_type.currentData()), self.label.text().strip(),
                bytes.fromhex(text) if text else None)

    def _check(self) -> None:
        try:
            _kind, label, _id = self.values()
        except ValueError:
            self._fail("The id must be hexadecimal, like 0a1b2c.")
            return
        if not label:
            self._fail("Give the key a label.")
            return
        self.accept()

    def _fail(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()


def _algorithm_combo(algorithms: tuple[SignAlgorithm, ...]) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName("Signature algorithm")
    for algorithm in algorithms:
        combo.addItem(algorithm.value, algorithm)
    return combo


class SignDialog(QDialog):
    """Files to sign with one key; signatures go next to each file or into one folder."""

    def __init__(self, key: KeyInfo, algorithms: tuple[SignAlgorithm, ...],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Sign files with {key.label}")
        self.files = QListWidget()
        self.files.setAccessibleName("Files to sign")
        add = button("Add files…", self._add_files)
        self.algorithm = _algorithm_combo(algorithms)
        self.beside = QRadioButton("Next to each file (file.sig)")
        self.beside.setChecked(True)
        self.into = QRadioButton("Into a folder:")
        self.folder = QLineEdit()
        self.folder.setAccessibleName("Folder for the signatures")
        self.folder.textChanged.connect(lambda t: self.into.setChecked(bool(t)) if t else None)
        choose = button("Choose…", self._choose_folder)
        self.error = _error_label()
        box = _buttons(self, "Sign")
        box.accepted.connect(self._check)
        where = QHBoxLayout()
        where.addWidget(self.into)
        where.addWidget(self.folder, 1)
        where.addWidget(choose)
        form = QFormLayout()
        form.addRow("Algorithm", self.algorithm)
        lay = QVBoxLayout(self)
        lay.addWidget(self.files)
        lay.addWidget(add, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addLayout(form)
        lay.addWidget(self.beside)
        lay.addLayout(where)
        lay.addWidget(self.error)
        lay.addWidget(box)

    def chosen_algorithm(self) -> SignAlgorithm:
        return SignAlgorithm(self.algorithm.currentData())

    def add_files(self, paths: list[str]) -> None:
        present = set(self.paths())
        for path in paths:
            if Path(path) not in present:
                present.add(Path(path))
                self.files.addItem(str(Path(path)))

    def paths(self) -> list[Path]:
        return [Path(self.files.item(i).text()) for i in range(self.files.count())]

    def out_dir(self) -> Path | None:
        return Path(self.folder.text()) if self.into.isChecked() and self.folder.text() else None

    def _add_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Files to sign", str(Path.home()))
        self.add_files(paths)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the signatures")
        if folder:
            self.folder.setText(folder)

    def _check(self) -> None:
        if not self.paths():
            self.error.setText("Add at least one file.")
        elif self.into.isChecked() and not (self.out_dir() and self.out_dir().is_dir()):
            self.error.setText("Choose an existing folder for the signatures.")
        else:
            self.accept()
            return
        self.error.show()


class VerifyDialog(QDialog):
    """A file, its detached signature and the public key: the selected key or a PEM file."""

    verify_requested = Signal()

    def __init__(self, key: KeyInfo | None, algorithms: tuple[SignAlgorithm, ...],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Verify a signature")
        self.key = key
        self.file = self._path_row("Signed file", "Choose the signed file")
        self.signature = self._path_row("Signature file", "Choose the signature")
        self.use_key = QRadioButton(f"The selected key ({key.label})" if key else "No key selected")
        self.use_key.setEnabled(key is not None)
        self.use_pem = QRadioButton("A public key file (PEM):")
        self.pem = self._path_row("Public key file", "Choose the public key")
        (self.use_key if key is not None else self.use_pem).setChecked(True)
        self.pem[0].textChanged.connect(lambda t: self.use_pem.setChecked(True) if t else None)
        self.algorithm = _algorithm_combo(algorithms or tuple(SignAlgorithm))
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setAccessibleName("Verification result")
        bold = self.result.font()
        bold.setBold(True)
        self.result.setFont(bold)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        self.verify_button = box.addButton("Verify", QDialogButtonBox.ButtonRole.ActionRole)
        self.verify_button.setAccessibleName("Verify")
        self.verify_button.clicked.connect(self.verify_requested)
        form = QFormLayout()
        form.addRow("File", self.file[1])
        form.addRow("Signature", self.signature[1])
        form.addRow("Key", self.use_key)
        form.addRow(self.use_pem, self.pem[1])
        form.addRow("Algorithm", self.algorithm)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.result)
        lay.addWidget(box)

    def _path_row(self, name: str, title: str) -> tuple[QLineEdit, QWidget]:
        edit = QLineEdit()
        edit.setAccessibleName(name)
        choose = button("Choose…", lambda: self._choose(edit, title))
        choose.setAccessibleName(f"Choose the {name.lower()}")
        host = QWidget()
        row = QHBoxLayout(host)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        row.addWidget(choose)
        return edit, host

    def _choose(self, edit: QLineEdit, title: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, title, edit.text() or str(Path.home()))
        if path:
            edit.setText(path)
            if edit is self.file[0] and not self.signature[0].text():
                self.signature[0].setText(path + ".sig")

    def chosen_algorithm(self) -> SignAlgorithm:
        return SignAlgorithm(self.algorithm.currentData())

    def show_result(self, ok: bool | None, text: str) -> None:
        self.result.setText(text)
        self.result.setProperty("role", "" if ok is None else ("ok" if ok else "error"))
        self.result.style().unpolish(self.result)
        self.result.style().polish(self.result)
