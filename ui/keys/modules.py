"""Add and forget PKCS#11 modules from Keys & Signing: a controller the section holds.

An added module is loaded on the hardware runner first (a file that is no PKCS#11 module fails
there, in one sentence), then remembered in the user's module list (``app.module_config``), which
the command line reads too. Forgetting drops it from that list and from this session; the file is
untouched. Modules found on the usual paths are not remembered and cannot be forgotten.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from ..workers import Task
from .host import SectionHost
from .inventory import add_module, forget_module
from .model import ModuleNode


class ModuleActions:
    """Add module… and Forget module; ``parent`` holds the file dialog."""

    def __init__(self, host: SectionHost, parent: QWidget) -> None:
        self.host = host
        self.parent = parent

    def add_module(self, path: str) -> Task | None:
        host = self.host
        if host.vault is None:
            return None
        backends = host.backends

        def done(_info: object) -> None:
            host.services.status(f"Added the PKCS#11 module {Path(path).name}; it is "
                                 "remembered for the next start and the command line.")
            host.refresh()

        return host.run("keys.module.add", "Loading the module…",
                        lambda _c, _p: add_module(backends, path), done)

    def ask_add_module(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.parent, "Add a PKCS#11 module", "/usr/lib",
            "PKCS#11 modules (*.so *.dll *.dylib);;All files (*)")
        if path:
            self.add_module(path)

    def selected_added_module(self) -> str | None:
        """The path of the selected module if the user added it (not found on the usual paths)."""
        node = self.host.selected()
        if not isinstance(node, ModuleNode) or not node.module.kind.takes_modules:
            return None
        info = node.module.info
        return node.module.path if info is not None and not info.detected else None

    def forget_selected_module(self) -> Task | None:
        host, path = self.host, self.selected_added_module()
        if path is None or host.vault is None:
            return None
        backends = host.backends

        def done(_r: object) -> None:
            host.services.status(f"Forgot the PKCS#11 module {Path(path).name} (the file is "
                                 "untouched).")
            host.refresh()

        return host.run("keys.module.forget", "Forgetting the module…",
                        lambda _c, _p: forget_module(backends, path), done)
