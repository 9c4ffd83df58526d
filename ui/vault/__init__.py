"""The Vault section: the secrets table, the secret form and its value field, version history."""
