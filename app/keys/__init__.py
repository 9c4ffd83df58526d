"""Keys & Signing: key stores (PKCS#11 tokens, the TPM) behind one port, and what is done with them.

``ports`` declares the port and its facts; ``tokens`` finds providers, tokens and keys;
``algorithms`` chooses signature algorithms and verifies; ``signing`` signs files, writes what
comes out and audits it; ``fingerprints`` shows fingerprints for ceremonies; ``certificates``
builds CSRs and certificates; ``checkpoints`` signs the audit log's head;
``module_config`` remembers the PKCS#11 modules a user added.
"""
