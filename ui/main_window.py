"""The main window: first-run wizard or lock screen, then the sidebar of sections.

Locking (Ctrl+L, the tray, idle time, the OS session locking) drops every key reference: the
sections clear their models and close dialogs showing secrets, the clipboard is cleared if it
still holds our value, and the vault is locked on the worker thread after any running task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from strongroom.app.errors import StrongroomError
from strongroom.app.vault import Vault

from . import integrity_watch, menus
from .base import ClipboardLike, Section, Services
from .clipboard import ClipboardGuard
from .session_watch import SessionWatcher
from .settings.store import ConsoleSettings
from .unlock.lock_screen import LockScreen
from .workers import TaskRunner

SectionFactory = Callable[[Services], Section]

ACTIVITY_EVENTS = {
    QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
}


def default_sections() -> list[SectionFactory]:
    from .access.section import AccessReviewsSection
    from .audit.section import AuditSection
    from .ceremonies.section import CeremoniesSection
    from .compliance.section import ComplianceSection
    from .keys.section import KeysSection
    from .settings.section import SettingsSection
    from .vault.section import VaultSection

    return [VaultSection, KeysSection, CeremoniesSection, AccessReviewsSection,
            ComplianceSection, AuditSection, SettingsSection]


class _ActivityFilter(QObject):
    def __init__(self, on_activity: Callable[[], None]) -> None:
        super().__init__()
        self.on_activity = on_activity

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() in ACTIVITY_EVENTS:
            self.on_activity()
        return False


class MainWindow(QMainWindow):
    """One vault directory's console."""

    locked = Signal()
    unlocked = Signal()

    def __init__(
        self,
        vault_dir: Path,
        settings: ConsoleSettings | None = None,
        sections: Sequence[SectionFactory] | None = None,
        clipboard: ClipboardLike | None = None,
        icon: QIcon | None = None,
    ) -> None:
        super().__init__()
        self.vault_dir = vault_dir
        self.vault: Vault | None = None
        self.settings = settings or ConsoleSettings()
        self.runner = TaskRunner(self)
        self.clipboard = clipboard or ClipboardGuard(self.settings)
        self._quitting = False
        self.idle_override_ms = 0  # a shorter idle time, for tests and demos
        self.setWindowTitle("Strongroom")
        if icon is not None:
            self.setWindowIcon(icon)
        self.resize(1180, 740)

        self.services = Services(
            runner=self.runner, settings=self.settings, clipboard=self.clipboard,
            status=self.show_status, error=self.show_error, lock_now=self.lock,
            activity=self.reset_idle,
        )
        self.pages = QStackedWidget()
        self.setCentralWidget(self.pages)
        self.lock_screen = LockScreen(self.runner)
        self.lock_screen.unlocked.connect(self._on_unlocked)
        self.pages.addWidget(self.lock_screen)
        self.wizard: QWidget | None = None

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAccessibleName("Sections")
        self.stack = QStackedWidget()
        # Sections are built at the first unlock, so the lock screen shows without importing them.
        self._factories = sections
        self.sections: list[Section] = []
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        pane = QWidget()
        pane.setObjectName("sidebarPane")
        pane.setFixedWidth(190)
        column = QVBoxLayout(pane)
        column.setContentsMargins(0, 0, 0, 10)
        brand = QLabel("Strongroom")
        brand.setObjectName("brand")
        lock_button = QPushButton("Lock  (Ctrl+L)")
        lock_button.setAccessibleName("Lock the vault now")
        lock_button.clicked.connect(lambda: self.lock("button"))
        column.addWidget(brand)
        column.addWidget(self.sidebar, 1)
        column.addWidget(lock_button, 0, Qt.AlignmentFlag.AlignHCenter)
        about_button = QPushButton("About  (F1)")
        about_button.setAccessibleName("About Strongroom")
        about_button.clicked.connect(self.show_about)
        column.addWidget(about_button, 0, Qt.AlignmentFlag.AlignHCenter)
        workspace = QWidget()
        row = QHBoxLayout(workspace)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(pane)
        row.addWidget(self.stack, 1)
        self.workspace = workspace
        self.pages.addWidget(workspace)

        self.state_label = QLabel()
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setMaximumHeight(10)
        self.busy.setTextVisible(False)
        self.busy.setAccessibleName("Working")
        self.busy.hide()
        self.runner.busy_changed.connect(self.busy.setVisible)
        self.statusBar().addPermanentWidget(self.busy)
        self.statusBar().addPermanentWidget(self.state_label)

        self.idle = QTimer(self)
        self.idle.setSingleShot(True)
        self.idle.timeout.connect(lambda: self.lock("idle"))
        self._activity = _ActivityFilter(self.reset_idle)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._activity)
        self.settings.changed.connect(self._setting_changed)
        self.session_watch = SessionWatcher(self)
        self.session_watch.session_locked.connect(self._session_locked)

        self._shortcuts()
        self.menu_actions = menus.install(self.menuBar(), {
            "import": lambda: self._on_vault_section("import_secrets"),
            "export": lambda: self._on_vault_section("export_secrets"),
            "lock": lambda: self.lock("menu"), "quit": self.quit, "about": self.show_about})
        self.unlocked.connect(lambda: menus.set_unlocked(self.menu_actions, True))
        self.locked.connect(lambda: menus.set_unlocked(self.menu_actions, False))
        self._tray()
        self._start()

    # ----- set-up --------------------------------------------------------------------------------

    def _shortcuts(self) -> None:
        lock = QShortcut(QKeySequence("Ctrl+L"), self)
        lock.activated.connect(lambda: self.lock("shortcut"))
        find = QShortcut(QKeySequence.StandardKey.Find, self)
        find.activated.connect(self._focus_search)
        quit_ = QShortcut(QKeySequence.StandardKey.Quit, self)
        quit_.activated.connect(self.quit)
        about = QShortcut(QKeySequence(Qt.Key.Key_F1), self)
        about.activated.connect(self.show_about)

    def _on_vault_section(self, verb: str) -> None:
        """Show the section that offers ``verb`` (the Vault section's import and export) and
        call it there."""
        for row, section in enumerate(self.sections):
            act = getattr(section, verb, None)
            if callable(act) and section.vault is not None:
                self.sidebar.setCurrentRow(row)
                act()
                return

    def _tray(self) -> None:
        self.tray: QSystemTrayIcon | None = None
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return
        tray = QSystemTrayIcon(self.windowIcon(), self)
        menu = QMenu(self)
        for text, slot in (("Lock now", lambda: self.lock("tray")),
                           ("Show", self.show_normal), ("Quit", self.quit)):
            action = QAction(text, menu)
            action.triggered.connect(slot)
            menu.addAction(action)
        tray.setContextMenu(menu)
        tray.setToolTip("Strongroom")
        tray.activated.connect(lambda reason: self.show_normal()
                               if reason == QSystemTrayIcon.ActivationReason.Trigger else None)
        tray.show()
        self.tray = tray

    def _start(self) -> None:
        try:
            exists = Vault.exists(self.vault_dir)
            vault = Vault.open(self.vault_dir) if exists else None
        except StrongroomError as e:
            self.lock_screen.vault = None
            self.lock_screen.location.setText(str(self.vault_dir))
            self.lock_screen.set_message(str(e)[:1].upper() + str(e)[1:] + ".", "error")
            self.lock_screen.unlock_button.setEnabled(False)
            self.pages.setCurrentWidget(self.lock_screen)
            self._set_state("cannot open the vault")
            return
        if vault is None:
            from .unlock.wizard import FirstRunWizard  # zxcvbn and the wizard only on a first run

            self.wizard = FirstRunWizard(self.vault_dir, self.runner)
            self.wizard.created.connect(self._on_created)
            self.pages.addWidget(self.wizard)
            self.pages.setCurrentWidget(self.wizard)
            self._set_state("no vault yet")
            return
        self.vault = vault
        self.lock_screen.show_vault(vault)
        self.pages.setCurrentWidget(self.lock_screen)
        self._set_state("locked")

    # ----- lock and unlock -----------------------------------------------------------------------

    def _on_created(self, vault: Vault) -> None:
        if self.wizard is not None:
            self.pages.removeWidget(self.wizard)
            self.wizard.deleteLater()
            self.wizard = None
        self._on_unlocked(vault)
        self.show_status("Vault created. Make a backup under Settings.")

    def _build_sections(self) -> None:
        if self.sections:
            return
        factories = self._factories if self._factories is not None else default_sections()
        for factory in factories:
            section = factory(self.services)
            self.sections.append(section)
            self.stack.addWidget(section)
            self.sidebar.addItem(section.title)

    def _on_unlocked(self, vault: Vault) -> None:
        self.vault = vault
        self._build_sections()
        for section in self.sections:
            section.vault_unlocked(vault)
        self.pages.setCurrentWidget(self.workspace)
        if self.sidebar.currentRow() < 0:
            self.sidebar.setCurrentRow(0)
        self._set_state("unlocked")
        self.reset_idle()
        integrity_watch.start(self.runner, vault, lambda: self.vault, self.show_error)
        self.unlocked.emit()

    def lock(self, why: str = "") -> None:
        """Drop keys everywhere and show the lock screen; the UI never waits for the worker."""
        vault = self.vault
        if vault is None or self.pages.currentWidget() is not self.workspace:
            return
        self.idle.stop()
        self.runner.cancel_all()
        for section in self.sections:
            section.vault_locked()
        self.clipboard.clear_if_ours()
        for dialog in self.findChildren(QMessageBox):
            dialog.close()
        self.runner.submit("lock", lambda cancel, progress: vault.lock())
        self.lock_screen.show_vault(vault)
        self.pages.setCurrentWidget(self.lock_screen)
        self._set_state("locked" + (f" ({why})" if why else ""))
        self.locked.emit()

    @property
    def is_unlocked(self) -> bool:
        return self.pages.currentWidget() is self.workspace

    def reset_idle(self) -> None:
        if not self.is_unlocked:
            return
        ms = self.idle_override_ms or self.settings.auto_lock_minutes * 60_000
        if ms > 0:
            self.idle.start(ms)
        else:
            self.idle.stop()

    def _session_locked(self, why: str) -> None:
        if self.settings.lock_on_session_lock:
            self.lock(why)

    def _setting_changed(self, key: str) -> None:
        if key == "auto_lock_minutes":
            self.reset_idle()

    # ----- status --------------------------------------------------------------------------------

    def _set_state(self, text: str) -> None:
        self.state_label.setText(f"{self.vault_dir}  ·  {text}")

    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def show_error(self, text: str) -> None:
        self.statusBar().showMessage(text, 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, "Strongroom", text,
                          QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def show_about(self) -> None:
        from .about import AboutDialog

        dialog = AboutDialog(self.windowIcon(), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _focus_search(self) -> None:
        section = self.stack.currentWidget()
        if self.is_unlocked and isinstance(section, Section):
            section.focus_search()

    # ----- window --------------------------------------------------------------------------------

    def show_normal(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def quit(self) -> None:
        self._quitting = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        if not self._quitting and self.settings.minimize_to_tray and self.tray is not None:
            event.ignore()
            self.hide()
            self.tray.showMessage("Strongroom", "Still running in the tray.",
                                  QSystemTrayIcon.MessageIcon.Information, 3000)
            return
        self.runner.cancel_all()  # a hardware unlock may be waiting for a touch or a PIN
        if self.is_unlocked:
            self.lock("closing")
        self.clipboard.clear_if_ours()
        self.runner.wait(10_000)
        if self.vault is not None:
            self.vault.lock()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._activity)
        if self.tray is not None:
            self.tray.hide()
        event.accept()
        if app is not None:
            app.quit()
