"""The script library: the shipped scripts and any opened from a file; the one selected shows its
purpose, its roles and who may fill them, its preflight and its steps; Validate lists each
problem with its line (with this vault's operators); Start runs it in a new, empty folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..widgets.common import button
from ..workers import user_message
from . import env
from .env import Entry, People
from .host import CeremonyHost
from .look import card, label, set_role


class LibraryTab(QWidget):
    def __init__(self, host: CeremonyHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.entries: list[Entry] = []
        self.people: People | None = None
        self.scripts = QListWidget()
        self.scripts.setAccessibleName("Ceremony scripts")
        self.scripts.currentRowChanged.connect(lambda _r: self._show(self.current()))
        self.open_button = button("Open script…", self._open,
                                  "Add a ceremony script from a file to the list")
        left = QWidget()
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(label("Scripts", bold=True))
        left_lay.addWidget(self.scripts, 1)
        left_lay.addWidget(self.open_button)

        self.title = label(scale=1.3, bold=True, name="Script name")
        self.purpose = label(name="Purpose", selectable=True)
        self.origin = label(role="muted", name="Where the script is from", selectable=True)
        self.roles = label(name="Roles", selectable=True)
        self.preflight = label(name="Preflight", selectable=True)
        self.steps = label(name="Steps", selectable=True)
        self.steps.setTextFormat(Qt.TextFormat.RichText)
        self.validate_button = button("Validate", self._validate,
                                      "Check the script, and its roles against this vault's "
                                      "operators")
        self.start_button = button("Start…", self._start,
                                   "Run this ceremony, its outputs in a new empty folder")
        self.start_button.setDefault(True)
        self.verdict = label(name="Validation result")
        self.problems = QListWidget()
        self.problems.setAccessibleName("Problems, each with its line")
        self.problems.setMaximumHeight(130)
        self.problems.hide()
        detail = QWidget()
        detail_lay = QVBoxLayout(detail)
        detail_lay.addWidget(self.title)
        detail_lay.addWidget(self.purpose)
        detail_lay.addWidget(self.origin)
        for heading_text, body in (("Roles", self.roles), ("Preflight", self.preflight),
                                   ("Steps", self.steps)):
            box, box_lay = card(heading_text)
            box_lay.addWidget(label(heading_text, bold=True))
            box_lay.addWidget(body)
            detail_lay.addWidget(box)
        detail_lay.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(detail)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        actions = QHBoxLayout()
        actions.addWidget(self.validate_button)
        actions.addWidget(self.verdict, 1)
        actions.addWidget(self.start_button)
        right = QWidget()
        right_lay = QVBoxLayout(right)
        right_lay.setContentsMargins(0, 0, 0, 0)
        right_lay.addWidget(scroll, 1)
        right_lay.addWidget(self.problems)
        right_lay.addLayout(actions)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 800])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 8, 0, 0)
        lay.addWidget(split)
        self._show(None)

    # ----- loading ------------------------------------------------------------------------------

    def load(self) -> None:
        """The shipped scripts and the vault's operators (in the runner)."""
        vault = self.host.vault
        if vault is None:
            return
        opened = [e for e in self.entries if e.origin != "shipped"]

        def done(result: tuple[list[Entry], People]) -> None:
            shipped, self.people = result
            self._set_entries(shipped + opened)

        self.host.submit("ceremony.library", "Reading the ceremony scripts…",
                         lambda _c, _p: (env.shipped(), env.people(vault)), done)

    def clear(self) -> None:
        self.people = None
        self.entries = [e for e in self.entries if e.origin == "shipped"]
        self.problems.clear()
        self.problems.hide()
        self.verdict.setText("")

    def _set_entries(self, entries: list[Entry], select: int | None = None) -> None:
        chosen = select if select is not None else max(0, self.scripts.currentRow())
        self.entries = entries
        self.scripts.blockSignals(True)
        self.scripts.clear()
        for item in entries:
            text = item.title if item.script is not None else f"{item.name} (has problems)"
            row = QListWidgetItem(text)
            row.setToolTip(item.origin if item.origin != "shipped" else f"shipped: {item.name}")
            self.scripts.addItem(row)
        self.scripts.blockSignals(False)
        if entries:
            self.scripts.setCurrentRow(min(chosen, len(entries) - 1))
        self._show(self.current())

    def current(self) -> Entry | None:
        row = self.scripts.currentRow()
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def select(self, name: str) -> bool:
        """Select the script whose file or ceremony is ``name`` (tests, screenshots)."""
        for row, item in enumerate(self.entries):
            if name in (item.name, item.title):
                self.scripts.setCurrentRow(row)
                return True
        return False

    def _open(self) -> None:
        path = self.host.choose_script(self.window())
        if path is None:
            return

        def done(item: Entry) -> None:
            kept = [e for e in self.entries if e.origin != item.origin]
            self._set_entries([*kept, item], select=len(kept))

        self.host.submit("ceremony.open-script", f"Reading {path.name}…",
                         lambda _c, _p: env.opened(Path(path)), done)

    # ----- showing ------------------------------------------------------------------------------

    def _show(self, item: Entry | None) -> None:
        self.problems.clear()
        self.problems.hide()
        self.verdict.setText("")
        self.validate_button.setEnabled(item is not None)
        self.start_button.setEnabled(item is not None and item.script is not None
                                     and self.host.vault is not None)
        if item is None:
            for widget in (self.title, self.purpose, self.origin, self.roles, self.preflight,
                           self.steps):
                widget.setText("")
            self.title.setText("No script selected")
            return
        self.origin.setText(("Shipped with Strongroom: " if item.origin == "shipped" else
                             "Opened from ") + (item.name if item.origin == "shipped"
                                                else item.origin))
        script = item.script
        if script is None:
            self.title.setText(item.name)
            self.purpose.setText(f"This script does not parse: {len(item.problems)} "
                                 "problem(s). Validate lists each with its line.")
            for widget in (self.roles, self.preflight, self.steps):
                widget.setText("")
            return
        self.title.setText(script.name)
        self.purpose.setText(script.purpose)
        self.origin.setText(self.origin.text() + f" · SHA-256 {script.sha256[:16]}…")
        self.roles.setText("\n".join(env.role_line(script, r, self.people)
                                     for r in script.roles))
        spec = script.preflight
        token = spec.token_serial or spec.token_label
        self.preflight.setText("\n".join([
            f"Offline: {'required' if spec.offline else 'not checked'}",
            f"Endpoint checks: {', '.join(spec.checks) or 'none'}",
            f"Token: {f'{spec.token_store} {token}' if token else 'none'}",
            f"Output folder: {spec.output} (inside the run folder)",
            f"Clock: the witness confirms it within {spec.clock_skew_minutes} minutes"]))
        self.steps.setText("<ol style='margin-left:-20px'>" + "".join(
            f"<li><b>{_esc(s.title)}</b> <i>({s.kind}, {s.role})</i><br>"
            f"{_esc(env.describe(s, script))}</li>" for s in script.steps) + "</ol>")

    # ----- validating and starting -----------------------------------------------------------

    def _validate(self) -> None:
        item = self.current()
        vault = self.host.vault
        if item is None:
            return

        def work(_c: object, _p: object) -> tuple[list[env.Problem], People | None]:
            found = env.people(vault) if vault is not None else None
            return env.validate(item, found), found

        def done(result: tuple[list[env.Problem], People | None]) -> None:
            problems, self.people = result
            self.problems.clear()
            for problem in problems:
                self.problems.addItem(f"line {problem.line}: {problem.message}")
            self.problems.setVisible(bool(problems))
            if problems:
                self.verdict.setText(f"✗ {len(problems)} problem(s), each with its line below.")
                set_role(self.verdict, "error")
            else:
                self.verdict.setText("✓ Valid, and every role's operators hold their role in "
                                     "this vault.")
                set_role(self.verdict, "ok")
            self._show_roles(item)

        self.host.submit("ceremony.validate", "Validating the script…", work, done,
                         lambda exc: self.verdict.setText(user_message(exc)))

    def _show_roles(self, item: Entry) -> None:
        if item.script is not None:
            self.roles.setText("\n".join(env.role_line(item.script, r, self.people)
                                         for r in item.script.roles))

    def _start(self) -> None:
        item = self.current()
        if item is None or item.script is None:
            return
        folder = self.host.choose_folder(self.window())
        if folder is not None:
            self.host.start_run(item, folder)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
