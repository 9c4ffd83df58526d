"""First run: create the vault — passphrase twice with a live strength meter, unlock time, and
the place where a second unlock method will be offered."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSlider,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from zxcvbn import zxcvbn

from strongroom.app.keyslots import normalize_passphrase
from strongroom.app.passphrase_strength import MIN_SCORE, weakness
from strongroom.app.vault import Vault

from ..widgets.common import heading, paragraph
from ..widgets.strength import StrengthMeter, repolish
from ..workers import Task, TaskRunner, user_message

UNLOCK_TIMES_MS = [250, 500, 1000, 2000, 3000, 5000]


def _page(title: str, *parts: str | QWidget | QLayout) -> QWidget:
    """One step: its heading, then each part in turn (a text becomes a paragraph), top-aligned."""
    page = QWidget()
    lay = QVBoxLayout(page)
    lay.addWidget(heading(title))
    for part in parts:
        if isinstance(part, QLayout):
            lay.addLayout(part)
        else:
            lay.addWidget(paragraph(part) if isinstance(part, str) else part)
    lay.addStretch(1)
    return page


class FirstRunWizard(QWidget):
    """Creates a vault at ``path`` in the runner; emits ``created(vault)`` unlocked."""

    created = Signal(object)

    def __init__(self, path: Path, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.runner = runner
        self._task: Task | None = None
        self.pages = QStackedWidget()
        self.pages.addWidget(self._welcome_page())
        self.pages.addWidget(self._passphrase_page())
        self.pages.addWidget(self._unlock_time_page())
        self.pages.addWidget(self._second_method_page())

        self.back = QPushButton("Back")
        self.back.setAccessibleName("Previous step")
        self.back.clicked.connect(lambda: self._go(self.pages.currentIndex() - 1))
        self.next = QPushButton("Next")
        self.next.setDefault(True)
        self.next.setAccessibleName("Next step")
        self.next.clicked.connect(self._next_clicked)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumHeight(6)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Set-up status")

        buttons = QHBoxLayout()
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.back)
        buttons.addWidget(self.next)
        card = QFrame()
        card.setObjectName("card")
        card.setMaximumWidth(620)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(28, 24, 28, 24)
        inner.addWidget(self.pages)
        inner.addWidget(self.progress)
        inner.addLayout(buttons)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(card, 3)
        outer.addStretch(1)
        self._go(0)

    # ----- pages ---------------------------------------------------------------------------------

    def _welcome_page(self) -> QWidget:
        where = paragraph(f"The vault will be created in:\n{self.path}")
        where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return _page(
            "Welcome to Strongroom",
            "Strongroom keeps your secrets in an encrypted vault on this computer, records every "
            "access in a tamper-evident audit log, and never sends anything anywhere.",
            where,
        )

    def _passphrase_page(self) -> QWidget:
        self.pass1 = QLineEdit()
        self.pass1.setEchoMode(QLineEdit.EchoMode.Password)
        self.pass1.setAccessibleName("New passphrase")
        self.pass2 = QLineEdit()
        self.pass2.setEchoMode(QLineEdit.EchoMode.Password)
        self.pass2.setAccessibleName("Repeat the passphrase")
        self.meter = StrengthMeter("Passphrase strength")
        self.feedback = paragraph("")
        self.feedback.setAccessibleName("Passphrase feedback")
        self.pass1.textChanged.connect(self._rate)
        self.pass2.textChanged.connect(self._rate)
        form = QFormLayout()
        form.addRow("Passphrase", self.pass1)
        form.addRow("Repeat", self.pass2)
        form.addRow("Strength", self.meter)
        return _page(
            "Choose a passphrase",
            "It opens the vault. Several unrelated words are easier to remember and harder to "
            "guess than a short password. Nobody can recover it for you.",
            form,
            self.feedback,
        )

    def _unlock_time_page(self) -> QWidget:
        self.time_slider = QSlider(Qt.Orientation.Horizontal)
        self.time_slider.setRange(0, len(UNLOCK_TIMES_MS) - 1)
        self.time_slider.setValue(UNLOCK_TIMES_MS.index(1000))
        self.time_slider.setAccessibleName("Unlock time")
        self.time_label = QLabel()
        self.time_slider.valueChanged.connect(self._time_changed)
        self._time_changed(self.time_slider.value())
        row = QHBoxLayout()
        row.addWidget(self.time_slider, 1)
        row.addWidget(self.time_label)
        return _page(
            "How long may unlocking take?",
            "Each unlock runs Argon2id with 64 MiB of memory for about this long. Longer makes "
            "every guess of an attacker who copied the vault slower in the same proportion.",
            row,
        )

    def _second_method_page(self) -> QWidget:
        return _page(
            "Add a second way in, later",
            "A passphrase alone is one point of failure. Once hardware unlock is available you "
            "can enrol a FIDO2 security key (two, ideally), bind the vault to this computer's "
            "TPM, or let the OS keyring remember it, under Settings → Unlock methods.",
            "Make a backup after creating the vault (Settings → Backup now) and keep it apart "
            "from this computer.",
        )

    # ----- behaviour -----------------------------------------------------------------------------

    def _go(self, index: int) -> None:
        index = max(0, min(index, self.pages.count() - 1))
        self.pages.setCurrentIndex(index)
        self.back.setEnabled(index > 0 and self._task is None)
        last = index == self.pages.count() - 1
        self.next.setText("Create vault" if last else "Next")
        self.message.setText("")
        if index == 1:
            self.pass1.setFocus()
            self._rate()
        else:
            self.next.setEnabled(self._task is None)

    def _rate(self) -> None:
        text = self.pass1.text()
        score = zxcvbn(text[:100])["score"] if text else 0
        self.meter.set_score(score if text else None)
        reason = weakness(text) if text else "Type a passphrase."
        if reason is None and self.pass2.text() != text:
            reason = "The two passphrases differ." if self.pass2.text() else "Repeat it below."
        self.feedback.setText("" if reason is None else reason[:1].upper() + reason[1:])
        self.feedback.setProperty("role", "" if reason is None else "warning")
        repolish(self.feedback)  # the warning colour follows the role
        ok = reason is None and score >= MIN_SCORE
        if self.pages.currentIndex() == 1:
            self.next.setEnabled(ok)

    def _time_changed(self, index: int) -> None:
        ms = UNLOCK_TIMES_MS[index]
        self.time_label.setText(f"{ms / 1000:g} s")

    @property
    def kdf_time_ms(self) -> int:
        return UNLOCK_TIMES_MS[self.time_slider.value()]

    def _next_clicked(self) -> None:
        if self.pages.currentIndex() < self.pages.count() - 1:
            self._go(self.pages.currentIndex() + 1)
            return
        self.create()

    def create(self) -> None:
        if self._task is not None:
            return
        text = self.pass1.text()
        if weakness(text) is not None or text != self.pass2.text():
            self._go(1)
            return
        secret = normalize_passphrase(text)
        self.pass1.clear()
        self.pass2.clear()
        path, ms = self.path, self.kdf_time_ms
        self.progress.show()
        self.next.setEnabled(False)
        self.back.setEnabled(False)
        self.message.setText("Creating the vault…")

        def work(cancel, progress):  # type: ignore[no-untyped-def]
            progress("Calibrating Argon2id and creating the vault")
            return Vault.create(path, secret, kdf_time_ms=ms)

        self._task = self.runner.submit(
            "create vault", work, on_success=self._created, on_error=self._failed,
            on_progress=lambda s: self.message.setText(s + "…"),
        )

    def _created(self, vault: Vault) -> None:
        self._task = None
        self.progress.hide()
        self.created.emit(vault)

    def _failed(self, error: BaseException) -> None:
        self._task = None
        self.progress.hide()
        self._go(1)
        self.message.setText(user_message(error) + ".")
