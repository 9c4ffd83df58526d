"""The clipboard guard: copies a secret marked for clipboard managers to skip, and clears it later.

It keeps no copy of the value: only a keyed hash (a fresh random key per copy), enough to tell
whether the clipboard still holds what we put there. It clears the clipboard after the
``clipboard_clear_seconds`` setting, and only if the clipboard still holds our value — never
what the user copied since.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from PySide6.QtCore import QMimeData, QObject, QTimer, Signal, Slot
from PySide6.QtGui import QClipboard, QGuiApplication

from strongroom.app.errors import UsageError

from .settings.store import ConsoleSettings

DEFAULT_CLEAR_SECONDS = 30

# Formats that ask clipboard managers and histories not to record the copy. Every platform
# ignores the ones it does not know, so all are set everywhere.
CONCEAL_HINTS: tuple[tuple[str, bytes], ...] = (
    ("x-kde-passwordManagerHint", b"secret"),  # KDE Klipper, wl-clip-persist, cliphist, ...
    ("ExcludeClipboardContentFromMonitorProcessing", b"1"),  # Windows
    ('application/x-qt-windows-mime;value="ExcludeClipboardContentFromMonitorProcessing"', b"1"),
    ('application/x-qt-windows-mime;value="CanIncludeInClipboardHistory"', b"\0\0\0\0"),
    ('application/x-qt-windows-mime;value="CanUploadToCloudClipboard"', b"\0\0\0\0"),
    ("org.nspasteboard.ConcealedType", b"secret"),  # macOS, nspasteboard.org convention
    ("application/x-nspasteboard-concealed-type", b"secret"),  # how Qt on macOS spells it
)


def secret_text(value: bytes) -> str:
    """The value as clipboard text; a value that is not UTF-8 text cannot be pasted as such."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("this value is binary data and cannot be copied as text") from None


def shown_text(value: bytes) -> str:
    """The value as the console displays it: its text, or hex when it is binary."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return f"(binary, {len(value)} bytes) {value.hex()}"


class ClipboardGuard(QObject):
    """Copies secrets to the system clipboard and wipes them after a while if still there."""

    cleared = Signal()  # the guard wiped its value from the clipboard

    def __init__(
        self,
        settings: ConsoleSettings | None = None,
        parent: QObject | None = None,
        clipboard: QClipboard | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self._clipboard = clipboard or QGuiApplication.clipboard()
        self._key = b""
        self._digest: bytes | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clear_if_ours)
        self._clipboard.dataChanged.connect(self._on_changed)

    @property
    def clear_seconds(self) -> int:
        seconds = (
            self._settings.clipboard_clear_seconds if self._settings else DEFAULT_CLEAR_SECONDS
        )
        return seconds if seconds > 0 else DEFAULT_CLEAR_SECONDS

    @property
    def holding(self) -> bool:
        """True while the clipboard holds a value we copied and have not yet cleared."""
        return self._digest is not None

    def remaining_ms(self) -> int:
        return self._timer.remainingTime() if self._timer.isActive() else 0

    def _hash(self, text: str) -> bytes:
        return hmac.new(self._key, text.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def _holds_ours(self) -> bool:
        if self._digest is None:
            return False
        mime = self._clipboard.mimeData(QClipboard.Mode.Clipboard)
        if mime is None or not mime.hasText():
            return False
        return hmac.compare_digest(self._hash(mime.text()), self._digest)

    def copy_secret(self, value: bytes) -> None:
        """Put ``value`` on the clipboard, concealed from managers; clear it after the delay."""
        text = secret_text(value)
        mime = QMimeData()
        mime.setText(text)
        for fmt, data in CONCEAL_HINTS:
            mime.setData(fmt, data)
        self._key = secrets.token_bytes(32)
        self._digest = self._hash(text)
        del text
        self._clipboard.setMimeData(mime, QClipboard.Mode.Clipboard)  # Qt takes ownership
        self._timer.start(self.clear_seconds * 1000)

    @Slot()
    def clear_if_ours(self) -> None:
        """Wipe the clipboard if it still holds our value; forget the value either way."""
        ours = self._holds_ours()
        self._forget()
        if ours:
            self._clipboard.clear(QClipboard.Mode.Clipboard)
            self.cleared.emit()

    def _forget(self) -> None:
        self._timer.stop()
        self._digest = None
        self._key = b""

    @Slot()
    def _on_changed(self) -> None:
        # Someone else copied something: nothing of ours left to clear, so stop tracking.
        if self._digest is not None and not self._holds_ours():
            self._forget()
