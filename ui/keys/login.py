"""Log in to a token and out again, from Keys & Signing: a controller the section holds.

The PIN is asked in a :class:`~.dialogs.TokenPinDialog`, passed to the token once on the hardware
runner and never kept; a wrong PIN is shown in that dialog (with the tries left) and audited. The
session opened is the console's until the user logs out or the vault locks.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtWidgets import QWidget

from strongroom.app.errors import AuthenticationFailed
from strongroom.app.keys import signing
from strongroom.app.keys.ports import KeyStore, TokenInfo

from ..workers import Task, TaskRunner
from .dialogs import TokenPinDialog, pin_error_text
from .host import SectionHost
from .inventory import TokenKey, open_store, token_key


class LoginHost(SectionHost, Protocol):
    """What logging in needs from the section besides the basics."""

    stores: dict[TokenKey, KeyStore]  # the console's logged-in sessions
    pin_dialog: TokenPinDialog | None  # the one PIN dialog open (login or checkpoint)
    hw: TaskRunner  # the hardware runner
    epoch: int  # changes when the vault locks or opens

    def selected_token(self) -> TokenInfo | None: ...

    def update_buttons(self) -> None: ...


class Login:
    """Log in… and Log out; ``parent`` holds the PIN dialog."""

    def __init__(self, host: LoginHost, parent: QWidget) -> None:
        self.host = host
        self.parent = parent

    def ask_login(self) -> TokenPinDialog | None:
        host, token = self.host, self.host.selected_token()
        if token is None or host.vault is None or host.pin_dialog is not None:
            return None
        dialog = TokenPinDialog(token, self.parent, kind=host.backends.kind(token.store))
        dialog.submitted.connect(lambda pin: self.login(token, pin))
        dialog.finished.connect(lambda _r: setattr(host, "pin_dialog", None))
        host.pin_dialog = dialog
        dialog.open()
        return dialog

    def login(self, token: TokenInfo, pin: str) -> Task | None:
        """Log in to ``token``; a wrong PIN is shown (in the PIN dialog if open), never retried."""
        host = self.host
        vault, backends = host.vault, host.backends
        if vault is None:
            return None

        def work(_c: object, _p: object) -> KeyStore:
            details = signing.audit_details(token, operation="login")
            try:
                store = open_store(backends, token, pin, vault)
            except AuthenticationFailed as e:  # a wrong PIN is worth an audit event
                signing.record_failure(vault, "keys.login", token.label, details, e)
                raise
            try:
                signing.record(vault, "keys.login", token.label, details)
            except BaseException:
                store.close()
                raise
            return store

        epoch = host.epoch

        def done(store: KeyStore) -> None:
            host.stores[token_key(token)] = store
            if host.pin_dialog is not None:
                host.pin_dialog.accept()
            host.services.status(f"Logged in to token {token.label}.")
            host.refresh()

        def failed(exc: BaseException) -> None:
            if host.pin_dialog is not None:
                host.pin_dialog.show_error(pin_error_text(exc))
            else:
                host.failed(exc)

        task = host.run("keys.login", f"Logging in to {token.label}…", work, done, failed)
        # A login that finishes after the vault locked is logged out again at once.
        task.succeeded.connect(lambda s: host.hw.submit("keys.logout", lambda _c, _p: s.close())
                               if epoch != host.epoch else None)
        return task

    def logout_selected(self) -> Task | None:
        host, token = self.host, self.host.selected_token()
        store = host.stores.pop(token_key(token), None) if token is not None else None
        if store is None:
            return None
        host.update_buttons()
        return host.run("keys.logout", "Logging out…", lambda _c, _p: store.close(),
                        lambda _r: host.refresh())
