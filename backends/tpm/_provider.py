"""TpmKeyProvider: the TPM on one TCTI as a key store provider (entry point ``tpm-keys``).

It lists the TCTI as the one "module" and the TPM as its one token, says whether the TPM answers,
and opens a :class:`~.keys.TpmKeyStore` on it, given the vault's :class:`KeyBlobStore` (the TPM
itself keeps no key).
"""

from __future__ import annotations

from importlib import metadata

from strongroom.app.errors import NotFound, UsageError
from strongroom.app.keys.ports import KeyBlobStore, ModuleInfo, TokenInfo
from strongroom.app.plugins import Availability

from ._worker import DEVICE_TCTI, TpmWorker, default_tcti, library, worker_for
from .keys import KIND, STORE, TpmKeyStore, _availability, _token_info


class TpmKeyProvider:
    """app.keys.ports.KeyStoreProvider for the TPM on one TCTI."""

    store = STORE
    kind = KIND

    def __init__(self, tcti: str | None = None) -> None:
        self.tcti = tcti or default_tcti()

    @property
    def _worker(self) -> TpmWorker:
        return worker_for(self.tcti)

    def available(self) -> Availability:
        return _availability(self._worker)

    def modules(self) -> list[ModuleInfo]:
        """The TCTI as the one "module"; manufacturer blank when the TPM does not answer."""
        manufacturer = ""
        if self.available().ok:
            manufacturer = self._worker.call(library().facts).manufacturer
        try:
            version = metadata.version("tpm2-pytss")
        except metadata.PackageNotFoundError:
            version = "not installed"
        return [ModuleInfo(
            path=self.tcti, description="TPM 2.0 through the TSS ESAPI", manufacturer=manufacturer,
            library_version=f"tpm2-pytss {version}", cryptoki_version="",
            detected=self.tcti == DEVICE_TCTI,
        )]

    def tokens(self, module: str | None = None) -> list[TokenInfo]:
        if module not in (None, self.tcti) or not self.available().ok:
            return []
        return [_token_info(self._worker)]

    def open(
        self,
        token: TokenInfo,
        pin: str | None,
        *,
        blobs: KeyBlobStore | None = None,
    ) -> TpmKeyStore:
        """Open the TPM store; ``pin`` protects keys generated now and opens PIN-protected ones."""
        if blobs is None:
            raise UsageError("TPM keys are kept in the vault: open the TPM store with a vault")
        if token.module != self.tcti:
            raise NotFound(f"no TPM token at {token.module}")
        return TpmKeyStore(self.tcti, blobs, pin)
