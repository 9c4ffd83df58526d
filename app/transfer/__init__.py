"""Moving secrets in and out: KeePass KDBX, Bitwarden JSON, CSV, and the Strongroom archive."""
