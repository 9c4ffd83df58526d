"""What every Keys & Signing controller needs from the section, as a Protocol.

The section (:mod:`.section`) builds the controllers (:mod:`.login`, :mod:`.modules`,
:mod:`.actions`, :mod:`.checkpoint`) and passes itself as their host. Each controller declares
what more it needs in a Protocol of its own built on this one, so none of them imports the section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from strongroom.app.vault import Vault

from ..base import Services
from ..workers import Task
from .inventory import Backends
from .model import Node, Selection


class SectionHost(Protocol):
    """The open vault, the services, and the section's hardware runner and tree."""

    vault: Vault | None
    services: Services
    backends: Backends

    def run(self, name: str, text: str, work: Callable[..., Any],
            on_success: Callable[[Any], None],
            on_error: Callable[[BaseException], None] | None = None, *,
            cancelled: str = "") -> Task:
        """Run ``work(cancel, progress)`` on the hardware runner with the busy row showing."""
        ...

    def refresh(self, then_select: Selection | None = None) -> Task | None:
        """Read the tree again, then select ``then_select`` (or what was selected)."""
        ...

    def selected(self) -> Node | None: ...

    def failed(self, exc: BaseException) -> None:
        """Show ``exc`` as the section's error sentence."""
        ...

