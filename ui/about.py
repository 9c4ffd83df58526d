"""About Strongroom (F1, or the sidebar's About button): the version, the licence, and the versions
of Qt and of the libraries that do the cryptography and talk to hardware (from app.about), so a
bug report can say exactly what ran. The text is selectable; nothing in it is secret."""

from __future__ import annotations

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from strongroom.app import about

ICON_SIZE = 72


def component_rows() -> list[about.Component]:
    """Qt as it runs (the library, not the wheel's name for it), then app.about's list."""
    return [about.Component("Qt", qVersion()), *(
        about.Component("PySide6", PySide6.__version__) if c.name == "PySide6" else c
        for c in about.components())]


def selectable(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class AboutDialog(QDialog):
    """Who this is and what it runs on; one Close button."""

    def __init__(self, icon: QIcon | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Strongroom")
        self.setAccessibleName("About Strongroom")

        picture = QLabel()
        if icon is not None and not icon.isNull():
            picture.setPixmap(icon.pixmap(ICON_SIZE, ICON_SIZE))
        picture.setFixedSize(ICON_SIZE, ICON_SIZE)
        name = QLabel("Strongroom")
        font = QFont(name.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        name.setFont(font)
        self.version = selectable(f"Version {about.strongroom_version()}")
        self.version.setAccessibleName("Version")
        summary = QLabel("A local secrets and key custodian for security admins.")
        summary.setWordWrap(True)
        summary.setProperty("role", "muted")
        # "LicenseRef-Proprietary" is SPDX for a licence of its own; people read "Proprietary"
        self.licence = selectable(f"Licence: {about.licence().removeprefix('LicenseRef-')}")
        self.licence.setAccessibleName("Licence")
        heading = QVBoxLayout()
        heading.setSpacing(2)
        for widget in (name, self.version, summary, self.licence):
            heading.addWidget(widget)
        top = QHBoxLayout()
        top.setSpacing(16)
        top.addWidget(picture, 0, Qt.AlignmentFlag.AlignTop)
        top.addLayout(heading, 1)

        runs_on = QLabel("Runs on")
        runs_on.setProperty("role", "muted")
        self.rows: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setHorizontalSpacing(18)
        form.setVerticalSpacing(4)
        for component in component_rows():
            value = selectable(component.shown)
            value.setAccessibleName(f"{component.name} version")
            if component.version is None:
                value.setProperty("role", "muted")
            self.rows[component.name] = value
            form.addRow(f"{component.name}", value)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(22, 20, 22, 14)
        lay.setSpacing(10)
        lay.addLayout(top)
        lay.addSpacing(4)
        lay.addWidget(runs_on)
        lay.addLayout(form)
        lay.addWidget(buttons)
        self.setMinimumWidth(480)

    def text(self) -> str:
        """Everything shown, one fact a line (what a bug report wants)."""
        lines = [self.version.text(), self.licence.text()]
        return "\n".join(lines + [f"{name}: {label.text()}" for name, label in self.rows.items()])
