"""Keys & Signing: key stores (PKCS#11 tokens, the TPM) behind one port, and what is done with them.

``ports`` declares the port and its facts; ``service`` finds tokens and signs and verifies files;
``certificates`` builds CSRs and certificates; ``checkpoints`` signs the audit log's head;
``module_config`` remembers the PKCS#11 modules a user added.
"""
