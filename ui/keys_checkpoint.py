"""Sign an audit checkpoint with the selected key: a mixin of the Keys & Signing section.

A checkpoint (``app.checkpoints``) has a device key sign the audit chain's head, so a history
rewritten by someone holding the vault's keys no longer matches it. Like every token call it runs
on the section's hardware runner: through the console's session on the token, or a session
opened for the call. When the token needs a login the console does not hold, the PIN is asked,
used for that one call and not kept; a wrong PIN is shown in the dialog and signs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strongroom.app.checkpoints import Checkpoint

from . import keys_ops as ops
from .keys_dialogs import TokenPinDialog, pin_error_text
from .keys_inventory import token_key
from .keys_model import KeyNode
from .workers import Task

if TYPE_CHECKING:
    from .keys_section import KeysSection

    _Base = KeysSection
else:
    _Base = object


class CheckpointActions(_Base):
    """Mixed into :class:`~.keys_section.KeysSection`."""

    last_checkpoint: Checkpoint | None = None

    def ask_checkpoint(self, node: KeyNode | None = None) -> TokenPinDialog | Task | None:
        """Sign a checkpoint with ``node`` (default: the selected key), asking the PIN first
        when the token needs a login the console does not hold."""
        node = node or self._selected_key()
        if node is None or self.vault is None or not ops.can_checkpoint(node.key):
            return None
        token = node.token.info
        if token_key(token) in self.stores or "login-required" not in token.flags:
            return self.sign_checkpoint(node)
        if self.pin_dialog is not None:
            return None
        dialog = TokenPinDialog(token, self, title="Sign an audit checkpoint",
                                ok_text="Sign checkpoint")
        dialog.submitted.connect(lambda pin: self.sign_checkpoint(node, pin))
        dialog.finished.connect(lambda _r: setattr(self, "pin_dialog", None))
        self.pin_dialog = dialog
        dialog.open()
        return dialog

    def sign_checkpoint(self, node: KeyNode, pin: str | None = None) -> Task | None:
        """Sign the audit chain's head with ``node``'s key and record it; with ``pin``, through
        a session opened for this call only."""
        vault, key, token, backends = self.vault, node.key, node.token.info, self.backends
        if vault is None:
            return None
        if pin is None:
            call = self.with_store(token, lambda s: ops.sign_checkpoint(vault, s, token, key))
        else:
            def call() -> Checkpoint:
                return ops.checkpoint_with_pin(backends, vault, token, key, pin)
        dialog = self.pin_dialog if pin is not None else None

        def done(cp: Checkpoint) -> None:
            self.last_checkpoint = cp
            if dialog is not None and dialog is self.pin_dialog:
                dialog.accept()
            self.services.status(f"Checkpoint of audit event {cp.seq} signed by "
                                 f"{cp.key_label}.")

        def failed(exc: BaseException) -> None:
            if dialog is not None and dialog is self.pin_dialog:
                dialog.show_error(pin_error_text(exc))
            else:
                self._failed(exc)

        return self.run("audit.checkpoint", f"Signing an audit checkpoint with {key.label}…",
                        lambda _c, _p: call(), done, failed,
                        cancelled="Checkpoint cancelled; nothing was signed.")
