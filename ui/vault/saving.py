"""What saving the editor's form does in the runner: add the secret, or update it; retried with a
second holder's approval where a dual-control level's key needs one (no Qt here)."""

from __future__ import annotations

from strongroom.app.access.approvals import Approval
from strongroom.app.model import SecretInfo
from strongroom.app.vault import NewSecret, Vault

from ..widgets.approval_flow import Change
from ..widgets.approvers import reads_alone
from .secret_dialog import SecretForm


def change(vault: Vault, old: SecretInfo | None, form: SecretForm) -> Change:
    """The add (``old`` None) or the update, to run with or without an approval."""

    def save(approval: Approval | None) -> SecretInfo:
        if old is None:
            return vault.add_secret(NewSecret(
                form.name, form.value or b"", form.classification, form.tags, form.note,
                form.owner or None, form.expires, form.rotation_due, form.kind,
            ), approval=approval)
        value = form.value
        # A value typed again unchanged is not a new version. The compare is an audited read,
        # made only where the operator reads alone: an approval serves the write, not a read.
        if value is not None and form.kind == old.kind and approval is None and reads_alone(
                vault, old.classification.value) and vault.get_secret(
                old.name, purpose="read") == value:
            value = None
        return vault.update_secret(
            old.name, value, classification=form.classification, tags=form.tags,
            note=form.note, owner=form.owner or None,
            expires=form.expires, clear_expires=form.expires is None,
            rotation_due=form.rotation_due, clear_rotation_due=form.rotation_due is None,
            kind=form.kind if value is not None else None, approval=approval,
        )

    return save
