"""What the PKCS#11 key store is and can do; importable where python-pkcs11 is not."""

from __future__ import annotations

from strongroom.app.keys.ports import PssSalt, StoreKind

KIND = StoreKind(
    name="pkcs11",
    title="PKCS#11",
    entry_point="pkcs11",
    takes_modules=True,
    keeps_certificates=True,
    pss_salt=PssSalt.HashLength,  # _keys.sign_plan asks the token for sLen = hLen
)
