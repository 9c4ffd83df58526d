"""``strongroom keys csr|selfsign|import-cert``: certificates for keys that stay on the token.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import NotFound, UsageError
from ..keys import certificates as x509req
from ..keys import signature_paths as sig_paths
from ..keys import signing
from ..keys.algorithms import choose_algorithm
from ..keys.ports import KeyInfo, KeyStore
from ..keys.signing import audit_details, record_failure
from ..keys.tokens import find_key
from .common import EXIT_OK, AddCommand, Context
from .tokens import algorithm_option, device_options, read_file, session


def _certificate_common(ctx: Context, action: str, build: Callable[[KeyStore, KeyInfo], bytes],
                        what: str) -> int:
    args = ctx.args
    if args.out is not None and not Path(args.out).parent.is_dir():
        raise NotFound(f"no directory {Path(args.out).parent} for {Path(args.out).name}")
    if args.out is not None:
        sig_paths.refuse_existing(Path(args.out), args.force)
    x509req.parse_subject(args.subject)  # bad input fails before any prompt
    x509req.parse_sans(args.san or ())
    with ctx.unlocked() as vault, session(ctx, vault) as (token, store):
        key = find_key(store.list_keys(), args.key)
        algorithm = choose_algorithm(key, args.algorithm)
        details = audit_details(token, key, operation=action.split(".")[1],
                                algorithm=algorithm.value, subject=args.subject,
                                sans=list(args.san or ()))
        try:
            pem = build(store, key)
        except BaseException as e:
            record_failure(vault, action, key.label, details, e)
            raise
        from asn1crypto import pem as pem_mod  # type: ignore[import-untyped]

        der = pem_mod.unarmor(pem)[2]
        if args.out is not None:
            signing.write_public(Path(args.out), pem)
        vault.record(action, key.label,
                     details={**details, "sha256": hashlib.sha256(der).hexdigest(),
                              "out": args.out})
    if args.out is None and not ctx.out.json:
        ctx.stdout.write(pem.decode())
        return EXIT_OK
    ctx.out.emit({"key": key.label, "fingerprint": key.fingerprint, "out": args.out,
                  "pem": pem.decode(), "algorithm": algorithm.value},
                 f"Wrote {what} for {key.label} to {args.out}.")
    return EXIT_OK


def cmd_csr(ctx: Context) -> int:
    args = ctx.args
    return _certificate_common(
        ctx, "keys.csr",
        lambda store, key: x509req.build_csr(store, key, args.subject, sans=args.san or (),
                                             algorithm=args.algorithm, ca=args.ca),
        "a certificate request",
    )


def cmd_selfsign(ctx: Context) -> int:
    args = ctx.args
    if not 1 <= args.days <= x509req.MAX_DAYS:
        raise UsageError(f"--days must be between 1 and {x509req.MAX_DAYS}")
    return _certificate_common(
        ctx, "keys.selfsign",
        lambda store, key: x509req.build_self_signed(
            store, key, args.subject, days=args.days, sans=args.san or (), ca=args.ca,
            algorithm=args.algorithm),
        "a self-signed certificate",
    )


def cmd_import_cert(ctx: Context) -> int:
    args = ctx.args
    der = x509req.certificate_der(read_file(args.cert, "certificate"))
    with ctx.unlocked() as vault, session(ctx, vault) as (token, store):
        key = find_key(store.list_keys(), args.key)
        signing.import_certificate(store, key, der, vault=vault, token=token)
    ctx.out.emit({"key": key.label, "fingerprint": key.fingerprint, "imported": True,
                  "sha256": hashlib.sha256(der).hexdigest()},
                 f"Stored the certificate next to {key.label} on '{token.label}'.")
    return EXIT_OK


def register(ksub: Any, command: AddCommand) -> None:
    """``keys csr``, ``keys selfsign`` and ``keys import-cert``."""
    for name, func, help_text in (
        ("csr", cmd_csr, "a PKCS#10 certificate request signed on the token (audited)"),
        ("selfsign", cmd_selfsign, "a self-signed certificate signed on the token (audited)"),
    ):
        cp = command(ksub, name, func, help_text)
        device_options(cp)
        cp.add_argument("--key", required=True, metavar="X")
        cp.add_argument("--subject", required=True, metavar="DN",
                        help="like 'CN=build signer,O=Example,C=DE'")
        cp.add_argument("--san", action="append", metavar="NAME",
                        help="DNS:name, email:addr, IP:addr or URI:uri (repeatable)")
        cp.add_argument("--out", metavar="FILE", help="default: standard output")
        cp.add_argument("--force", action="store_true", help="replace an existing --out file")
        cp.add_argument("--ca", action="store_true", help="a CA: basicConstraints CA, keyCertSign")
        algorithm_option(cp)
        if name == "selfsign":
            cp.add_argument("--days", type=int, default=365, metavar="N",
                            help="validity in days (default 365)")

    imp = command(ksub, "import-cert", cmd_import_cert,
                  "store a certificate next to its key on the token (audited)")
    device_options(imp)
    imp.add_argument("--key", required=True, metavar="X")
    imp.add_argument("--cert", required=True, metavar="FILE", help="PEM or DER")
