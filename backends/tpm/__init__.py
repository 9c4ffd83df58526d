"""The TPM 2.0 backend (tpm2-pytss ESAPI): sealed keyslots, device-bound signing keys and the
vault's monotonic counter.

Entry points ``tpm`` (:func:`source`), ``tpm-keys`` (:func:`key_provider`) and ``tpm-counter``
(:func:`monotonic_counter`), and
``strongroom.keystores:tpm`` (:data:`KEY_STORE_KIND`). The TCTI is always explicit: the
constructor's ``tcti``, else ``STRONGROOM_TPM_TCTI``, else ``device:/dev/tpmrm0``.
Importing this package never loads tpm2-pytss; ``available()`` says why the TPM cannot be used.
"""

from __future__ import annotations

from strongroom.app.counters import MonotonicCounter
from strongroom.app.keys.ports import KeyStoreProvider
from strongroom.app.unlock_methods import SlotSecretSource

from ._provider import TpmKeyProvider
from ._worker import DEVICE_TCTI, ENV_TCTI, default_tcti
from .counter import TpmCounter
from .keys import KIND as KEY_STORE_KIND
from .keys import TpmKeyStore
from .seal import PcrStateChanged, TpmSealSource

__all__ = [
    "DEVICE_TCTI",
    "ENV_TCTI",
    "KEY_STORE_KIND",
    "PcrStateChanged",
    "TpmCounter",
    "TpmKeyProvider",
    "TpmKeyStore",
    "TpmSealSource",
    "default_tcti",
    "key_provider",
    "monotonic_counter",
    "source",
]


def source() -> SlotSecretSource:
    """Entry point ``tpm``: the TPM keyslot source on the default TCTI."""
    return TpmSealSource()


def key_provider() -> KeyStoreProvider:
    """Entry point ``tpm-keys``: the TPM as a key store on the default TCTI."""
    return TpmKeyProvider()


def monotonic_counter() -> MonotonicCounter:
    """Entry point ``tpm-counter``: NV counters on the default TCTI."""
    return TpmCounter()
