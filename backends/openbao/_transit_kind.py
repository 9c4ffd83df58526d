"""What the OpenBao Transit key store is and can do; importable where hvac is not."""

from __future__ import annotations

from strongroom.app.keys.ports import PssSalt, StoreKind

KIND = StoreKind(
    name="transit",
    title="OpenBao Transit",
    entry_point="transit",
    needs_remotes=True,  # its tokens are the vault's remotes; opening one reads its credential
    pss_salt=PssSalt.HashLength,  # every PSS signature is asked for with salt_length=hash
)
