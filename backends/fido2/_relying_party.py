"""The relying party every Strongroom FIDO2 credential is made for (CTAP and Windows paths)."""

RP_ID = "strongroom.local"
ORIGIN = f"https://{RP_ID}"
RP_NAME = "Strongroom"
