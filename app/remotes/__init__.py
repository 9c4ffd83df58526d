"""Remotes: an OpenBao / HashiCorp Vault server as the shared store for the vault's secrets.

- ``config``: a remote's settings and its credential (a vault secret it names)
- ``port``: what a KV v2 engine must do (``KvEngine``) and what a backend offers
  (``RemoteBackend``); the hvac adapter lives in ``backends/openbao``
- ``errors``: the server's failures as Strongroom errors, one sentence each
- ``codec``: a secret's value as KV data and back (outside input, checked)
- ``state``: the ``remote_sync`` rows (last synced local and remote versions)
- ``sync``: publish and pull, planned first, then run with check-and-set
"""
