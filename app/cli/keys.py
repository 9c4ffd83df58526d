"""``strongroom keys …`` and ``strongroom audit checkpoint``: keys that live in hardware.

Keys are on PKCS#11 tokens (``--store pkcs11``, the default; ``--module PATH`` repeatable, else the
detected modules), in the TPM (``--store tpm``; the TCTI from ``STRONGROOM_TPM_TCTI``, else the
device) or in OpenBao Transit (``--store transit --token REMOTE``: a remote the vault knows, its
credential read from the vault; keys are named by label, ``key_id`` is ``NAME@vN``). The token
PIN is read like the passphrase: ``--pin-fd N`` (its first line) or a hidden prompt, never argv or
the environment. A TPM key's PIN is read only when ``--pin-fd`` is given.

Commands that use a private key (generate, sign, csr, selfsign, import-cert, audit checkpoint)
open the vault first (``--passphrase-fd`` or ``--unlock``; a different fd from ``--pin-fd``) and
are audit events. modules, tokens, list, export-pub and verify need no vault, except with
``--store tpm`` (TPM keys are kept in the vault) and ``--store transit`` (remotes are).

Exit codes: 0 ok · 1 failed (module missing, no such token or key, unsupported type or algorithm,
token removed, output directory missing) · 2 usage (bad option, ambiguous key or token) · 3 a
signature that does not verify, or a signature file that is corrupt (not DER, wrong length), or an
audit checkpoint that fails · 4 wrong PIN or passphrase, PIN blocked, a remote's credential
refused. With --store transit an unreachable, sealed or refusing server (TLS, permission denied)
is 1. After any failure no output file has changed.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import NotFound, Refused, UsageError
from ..keys import algorithms, module_config, signing
from ..keys import signature_paths as sig_paths
from ..keys import tokens as key_tokens
from ..keys.algorithms import BadSignature, choose_algorithm
from ..keys.ports import KeyInfo, KeyType, SignAlgorithm
from ..keys.tokens import find_key
from . import certificates as cli_certificates
from .common import EXIT_OK, AddCommand, Context, subcommands
from .tokens import (
    algorithm_option,
    device_options,
    key_json,
    key_text,
    modules_of,
    needs_vault,
    provider_for,
    read_file,
    session,
    token_json,
    vault_if,
)


def cmd_modules(ctx: Context) -> int:
    args = ctx.args
    if args.add or args.forget:
        return _change_modules(ctx)
    provider = provider_for(ctx)
    mods = provider.modules()
    missing = [p for p in module_config.remembered_modules() if not os.path.isfile(p)]
    ctx.out.emit(
        {"modules": [dataclasses.asdict(m) for m in mods], "missing": missing},
        lambda: "\n".join(
            [f"{m.path}  {m.description} ({m.manufacturer}, library {m.library_version})"
             f"{'' if m.detected else '  [added]'}" for m in mods]
            + [f"{p}  [added, but the file is gone: --forget it]" for p in missing]
        ) or "(no modules found; add one with --add PATH)",
    )
    return EXIT_OK


def _change_modules(ctx: Context) -> int:
    """``--add PATH`` (loaded first, so a file that is no PKCS#11 module is refused) or
    ``--forget PATH``: the remembered list every later command and the console use."""
    args = ctx.args
    if args.add and args.forget:
        raise UsageError("give --add or --forget, not both")
    if args.add:
        path = os.path.abspath(os.path.expanduser(args.add))
        module_config.check_module_path(path)
        key_tokens.add_modules(key_tokens.module_provider(), [path])  # loaded: bad fails
        added = module_config.remember_module(path)
        text = (f"Remembered the PKCS#11 module {path}." if added
                else f"{path} was remembered already.")
    else:
        path = os.path.abspath(os.path.expanduser(args.forget))
        module_config.forget_module(path)
        text = f"Forgot the PKCS#11 module {path} (the file is untouched)."
    ctx.out.emit({"remembered": module_config.remembered_modules(),
                  "config": str(module_config.config_file())}, text)
    return EXIT_OK


def cmd_tokens(ctx: Context) -> int:
    with vault_if(ctx, needs_vault(ctx)) as vault:  # transit: the tokens are the vault's remotes
        provider = provider_for(ctx, vault)
        tokens = key_tokens.find_tokens(provider, modules_of(ctx, provider))
    ctx.out.emit(
        [token_json(t) for t in tokens],
        lambda: "\n".join(
            f"{t.label}  serial {t.serial}  {t.manufacturer} {t.model}  slot "
            f"{'-' if t.slot is None else t.slot}  {t.module}" for t in tokens
        ) or "(no tokens present)",
    )
    return EXIT_OK


def cmd_list(ctx: Context) -> int:
    with vault_if(ctx, needs_vault(ctx)) as vault, session(ctx, vault) as (token, store):
        keys = store.list_keys()
    ctx.out.emit(
        {"token": token_json(token), "keys": [key_json(k) for k in keys]},
        lambda: f"Token '{token.label}' (serial {token.serial}):\n"
        + ("\n".join(key_text(k) for k in keys) or "(no keys)"),
    )
    return EXIT_OK


def cmd_export_pub(ctx: Context) -> int:
    args = ctx.args
    if args.out is not None and not Path(args.out).parent.is_dir():
        raise NotFound(f"no directory {Path(args.out).parent} for {Path(args.out).name}")
    if args.out is not None:
        sig_paths.refuse_existing(Path(args.out), args.force)
    with vault_if(ctx, needs_vault(ctx)) as vault, session(ctx, vault) as (_, store):
        key = find_key(store.list_keys(), args.key)
    pem = algorithms.public_pem(key.public_key)
    if args.out is None and not ctx.out.json:
        ctx.stdout.write(pem.decode())
        return EXIT_OK
    if args.out is not None:
        signing.write_public(Path(args.out), pem)
    ctx.out.emit({**key_json(key), "public_key_pem": pem.decode(), "out": args.out},
                 f"Wrote the public key of {key.label} to {args.out}.")
    return EXIT_OK


def cmd_verify(ctx: Context) -> int:
    args = ctx.args
    if (args.key is None) == (args.pubkey is None):
        raise UsageError("give either --key X (on a token) or --pubkey PEM")
    signature = read_file(args.sig, "signature")
    if not Path(args.infile).is_file():
        raise NotFound(f"no file {args.infile} to verify")
    label = args.pubkey
    if args.pubkey is not None:
        public = algorithms.load_public_key(read_file(args.pubkey, "public key"))
        spki = algorithms.spki_der(public)
        info = KeyInfo("file", "", "", Path(args.pubkey).name, "", "", None, frozenset(), True,
                       False, spki)
    else:
        with vault_if(ctx, needs_vault(ctx)) as vault, session(ctx, vault) as (_t, store):
            info = find_key(store.list_keys(), args.key)
        label = info.label
    algorithm = choose_algorithm(info, args.algorithm)
    digest = signing.digest_file(Path(args.infile), algorithm)
    good = algorithms.verify(info.public_key, digest.signed, signature, algorithm,
                             prehashed=algorithm is not SignAlgorithm.Ed25519)
    if not good:
        raise BadSignature(
            f"BAD signature: {args.sig} is not a {algorithm.value} signature of {args.infile} by "
            f"{label}"
        )
    ctx.out.emit(
        {"valid": True, "file": args.infile, "signature": args.sig, "algorithm": algorithm.value,
         "fingerprint": info.fingerprint, "sha256": digest.sha256},
        f"Good signature: {args.infile} signed by {label} ({algorithm.value}, key "
        f"{info.fingerprint[:16]}).",
    )
    return EXIT_OK


def cmd_generate(ctx: Context) -> int:
    args = ctx.args
    key_id = None
    if args.id is not None:
        try:
            key_id = bytes.fromhex(args.id)
        except ValueError:
            raise UsageError("--id takes hex digits, like 01 or a1b2") from None
        if not key_id:
            raise UsageError("--id must not be empty")
    key_type = KeyType(args.type)
    with ctx.unlocked() as vault, session(ctx, vault) as (token, store):
        if any(k.label == args.label for k in store.list_keys()):
            raise Refused(f"a key labelled {args.label!r} is already on token '{token.label}'")
        key = signing.generate_key(store, args.label, key_type, key_id, vault=vault,
                                   token=token)
    ctx.out.emit(key_json(key), lambda: f"Generated on '{token.label}':\n{key_text(key)}")
    return EXIT_OK


def cmd_sign(ctx: Context) -> int:
    args = ctx.args
    files = [Path(p) for p in args.infiles or ()]
    if args.digest is not None and files:
        raise UsageError("give either --in FILE… or --digest HEX, not both")
    if args.digest is None and not files:
        raise UsageError("nothing to sign: give --in FILE… or --digest HEX")
    out = Path(args.out) if args.out else None
    out_dir = Path(args.out_dir) if args.out_dir else None
    if args.digest is not None:
        if out is None:
            raise UsageError("--digest needs --out SIG")
        sig_paths.signature_paths([Path("digest")], out, None, force=args.force)
    else:
        sig_paths.signature_paths(files, out, out_dir, force=args.force)
        for f in files:
            if not f.is_file():
                raise NotFound(f"no file {f} to sign")
    with ctx.unlocked() as vault, session(ctx, vault) as (token, store):
        key = find_key(store.list_keys(), args.key)
        algorithm = choose_algorithm(key, args.algorithm)
        approval = ctx.approval(vault, "key.sign", key.key_id)
        if args.digest is not None:
            assert out is not None  # noqa: S101 - checked above
            results = [signing.sign_digest(store, key, args.digest, algorithm, out,
                                           vault=vault, token=token, force=args.force,
                                           approval=approval)]
        else:
            progress = _progress(ctx, len(files))
            results = signing.sign_files(
                store, key, files, algorithm, out=out, out_dir=out_dir, vault=vault,
                token=token, on_progress=progress, force=args.force, approval=approval,
            )
    ctx.out.emit(
        {"key": key.label, "fingerprint": key.fingerprint, "algorithm": algorithm.value,
         "signed": [r.to_json() for r in results]},
        lambda: "\n".join(f"Signed {r.source or 'digest ' + r.sha256} → {r.signature}"
                          for r in results),
    )
    return EXIT_OK


def _progress(ctx: Context, total: int) -> Callable[[int, int], None] | None:
    if total < 10 or ctx.out.json or not sys.stderr.isatty():
        return None

    def show(done: int, _total: int) -> None:
        print(f"\rSigned {done}/{total}", end="" if done < total else "\n", file=sys.stderr,
              flush=True)

    return show


def register(sub: Any, command: AddCommand) -> None:
    """Add the ``keys`` group to the top-level subparsers."""
    keys = sub.add_parser("keys", help="hardware keys: list, generate, sign, verify, CSRs")
    ksub = subcommands(keys, "keys_command")
    mods = command(ksub, "modules", cmd_modules,
                   "list PKCS#11 modules; --add or --forget one for later commands")
    device_options(mods, token=False)
    mods.add_argument("--add", metavar="PATH", help="load and remember a PKCS#11 module")
    mods.add_argument("--forget", metavar="PATH", help="stop using a remembered module")
    device_options(command(ksub, "tokens", cmd_tokens, "list tokens present"), token=False)
    device_options(command(ksub, "list", cmd_list, "list a token's keys (logs in)"))

    gen = command(ksub, "generate", cmd_generate, "generate a key pair on the token (audited)")
    device_options(gen)
    gen.add_argument("--label", required=True)
    gen.add_argument("--type", required=True, choices=[t.value for t in KeyType])
    gen.add_argument("--id", metavar="HEX", help="CKA_ID for the new key (default: random)")

    sign = command(ksub, "sign", cmd_sign, "sign files on the token (audited)")
    device_options(sign)
    sign.add_argument("--key", required=True, metavar="X", help="label, hex id or fingerprint")
    sign.add_argument("--in", dest="infiles", nargs="+", metavar="FILE")
    sign.add_argument("--out", metavar="SIG", help="signature file (one input)")
    sign.add_argument("--out-dir", metavar="DIR", help="write DIR/NAME.sig for each input")
    sign.add_argument("--digest", metavar="HEX", help="sign this digest instead of a file")
    sign.add_argument("--force", action="store_true", help="replace existing signature files")
    algorithm_option(sign)

    ver = command(ksub, "verify", cmd_verify, "verify a signature (exit 3 if it does not)")
    device_options(ver)
    ver.add_argument("--key", metavar="X")
    ver.add_argument("--pubkey", metavar="PEM")
    ver.add_argument("--in", dest="infile", required=True, metavar="FILE")
    ver.add_argument("--sig", required=True, metavar="SIG")
    algorithm_option(ver)

    exp = command(ksub, "export-pub", cmd_export_pub, "write a key's public key (PEM)")
    device_options(exp)
    exp.add_argument("--key", required=True, metavar="X")
    exp.add_argument("--out", metavar="FILE", help="default: standard output")
    exp.add_argument("--force", action="store_true", help="replace an existing --out file")

    cli_certificates.register(ksub, command)
