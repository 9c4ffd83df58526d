"""Looking for a secret where it must not be: the byte forms a leak could take, and a search."""

from __future__ import annotations

import base64


def forms(secret: bytes) -> list[bytes]:
    """The byte forms a leak of ``secret`` could take: raw (also without its trailing newline),
    hex in either case, base64 and URL-safe base64 (the whole secret, and the part of it that
    shows whatever bytes come before it in a larger encoded blob), UTF-16."""
    core = secret.rstrip(b"\n")
    out = [core, core.hex().encode(), core.hex().upper().encode(), base64.b64encode(secret),
           core.decode("utf-8", errors="replace").encode("utf-16-le")]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for shift in range(3):
            # With `shift` bytes before it, the first group mixes them in and the last one the
            # bytes after it: the groups in between are the secret's alone.
            encoded = encode(b"\0" * shift + core)
            middle = encoded[4:-4] if shift else encoded[:-4]
            if len(middle) >= 12:
                out.append(middle)
    return list(dict.fromkeys(out))


def found(data: bytes, needles: dict[str, list[bytes]]) -> list[str]:
    """The names of the secrets (``name -> forms``) some form of which is in ``data``."""
    return [name for name, its_forms in needles.items() if any(f in data for f in its_forms)]
