"""The details pane beside the keys tree: a module's, a token's or a key's facts and warnings."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QFormLayout, QFrame, QLabel, QVBoxLayout, QWidget

from strongroom.app.keys.ports import KeyInfo

from .inventory import ModuleView, TokenView, fingerprint_words, grouped_hex, size_text
from .model import KeyNode, ModuleNode, Node, TokenNode, module_label, token_heading


def in_lines(items: list[str], per_line: int) -> str:
    return "\n".join(" ".join(items[i:i + per_line]) for i in range(0, len(items), per_line))


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def login_text(token: TokenView) -> str:
    if token.session:
        return "logged in (this console holds a session)"
    if token.info.logged_in:
        return "logged in"
    if "login-required" in token.info.flags:
        return "logged out: log in to use its private keys"
    return "no login needed"


def pin_state(flags: tuple[str, ...]) -> str:
    """What the token's flags say about the user PIN ('' when nothing worth saying)."""
    if "user-pin-locked" in flags:
        return "The user PIN is locked: unblock it with the SO PIN."
    if "user-pin-final-try" in flags:
        return "The next wrong PIN is the final try before the token locks."
    if "user-pin-count-low" in flags:
        return "A wrong PIN was entered recently: few tries are left."
    return ""


class Details(QFrame):
    """Facts as a form; warnings above them in bold; the fingerprint selectable for copying."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.heading = QLabel()
        font = self.heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.heading.setFont(font)
        self.heading.setWordWrap(True)
        self.warnings = QLabel()
        self.warnings.setProperty("role", "error")
        self.warnings.setWordWrap(True)
        self.warnings.setAccessibleName("Warnings")
        bold = self.warnings.font()
        bold.setBold(True)
        self.warnings.setFont(bold)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.fields: dict[str, QLabel] = {}
        lay = QVBoxLayout(self)
        lay.addWidget(self.heading)
        lay.addWidget(self.warnings)
        lay.addWidget(self.form_host)
        lay.addStretch(1)
        self.show_node(None)

    def show_node(self, node: Node | None) -> None:
        self.fields.clear()
        while self.form.rowCount():
            self.form.removeRow(0)
        self._warn(())
        if node is None:
            self.heading.setText("Select a module, token or key.")
        elif isinstance(node, ModuleNode):
            self._module(node.module)
        elif isinstance(node, TokenNode):
            self._token(node.token)
        else:
            self._key(node)

    def _warn(self, warnings: tuple[str, ...]) -> None:
        self.warnings.setText("\n".join(f"⚠ {w[:1].upper()}{w[1:]}." for w in warnings))
        self.warnings.setVisible(bool(warnings))

    def _add(self, name: str, value: str, mono: bool = False, wrap: bool = True) -> QLabel:
        label = QLabel(value)
        label.setWordWrap(wrap)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setAccessibleName(name)
        if mono:
            label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.form.addRow(name, label)
        self.fields[name] = label
        return label

    def _module(self, module: ModuleView) -> None:
        self.heading.setText(module_label(module))
        if module.error:
            self._warn((f"{module.title} is unavailable: {module.error}",))
        if module.path:
            self._add("Path", module.path)
        if module.info is not None:
            info = module.info
            self._add("Description", info.description)
            self._add("Manufacturer", info.manufacturer)
            self._add("Library version", info.library_version)
            self._add("Cryptoki version", info.cryptoki_version)
            self._add("Found", "detected" if info.detected else "added")
        self._add("Tokens", str(len(module.tokens)))

    def _token(self, token: TokenView) -> None:
        info = token.info
        self.heading.setText(token_heading(info))
        note = pin_state(info.flags)
        if note:
            self._warn((note.rstrip("."),))
        self._add("Login", login_text(token))
        for name, value in (("Manufacturer", info.manufacturer), ("Model", info.model),
                            ("Serial", info.serial), ("Slot", "" if info.slot is None
                                                       else str(info.slot)),
                            ("Module", info.module), ("Flags", ", ".join(info.flags))):
            self._add(name, value)
        self._add("Free public memory", size_text(info.free_public_memory))
        self._add("Free private memory", size_text(info.free_private_memory))
        self._add("Keys", token.note or str(len(token.keys)))

    def _key(self, node: KeyNode) -> None:
        key: KeyInfo = node.key
        self.heading.setText(f"Key {key.label or '(no label)'}")
        self._warn(key.warnings)
        self._add("Algorithm", key.algorithm)
        self._add("Key id", key.key_id, mono=True)
        self._add("Token", f"{node.token.info.label} (serial {node.token.info.serial})")
        self._add("Capabilities", ", ".join(sorted(c.value for c in key.capabilities)) or "none")
        self._add("Sensitive", yes_no(key.sensitive))
        self._add("Extractable", yes_no(key.extractable))
        self._add("Certificate", "on the token" if key.has_certificate else "none")
        # Broken into lines here, not wrapped by Qt: a wrapped label can be laid out shorter than
        # its text, and a fingerprint shown in part is worse than none.
        self._add("SHA-256 fingerprint", in_lines(grouped_hex(key.fingerprint).split(), 4),
                  mono=True, wrap=False)
        words = fingerprint_words(key.fingerprint).split()
        if words:
            self._add("Read aloud", in_lines(words, 4), wrap=False)
