"""Access changes run in the task runner, under the two-person rule.

The approver flow is shared with the other sections (ui/widgets/approval_flow.py: the dialog asks
who approves and how — their passphrase or their security key — and the change is retried once
with the approval); here it is bound to the Access section through its :class:`SectionHost`.
"""

from __future__ import annotations

from strongroom.app.unlock_methods import load_source

from ..unlock.hw_prompts import SourceFactory
from ..widgets.approval import ApproverDialog
from ..widgets.approval_flow import ApproverRefused, NotApproved
from ..widgets.approval_flow import Guarded as SharedGuarded
from ..widgets.approvers import approval_needed
from .host import SectionHost

__all__ = ["ApproverDialog", "ApproverRefused", "Guarded", "NotApproved", "approval_needed"]


class Guarded(SharedGuarded):
    """The Access section's access changes, with the approver dialog when the rule asks."""

    def __init__(self, section: SectionHost, *, sources: SourceFactory = load_source) -> None:
        super().__init__(section, sources=sources)
