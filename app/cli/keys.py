"""``strongroom keys …`` and ``strongroom audit checkpoint``: keys that live in hardware.

Keys are on PKCS#11 tokens (``--store pkcs11``, the default; ``--module PATH`` repeatable, else the
detected modules) or in the TPM (``--store tpm``; the TCTI from ``STRONGROOM_TPM_TCTI``, else the
device). The token PIN is read like the passphrase: ``--pin-fd N`` (its first line) or a hidden
prompt, never argv or the environment. A TPM key's PIN is read only when ``--pin-fd`` is given.

Commands that use a private key (generate, sign, csr, selfsign, import-cert, audit checkpoint)
open the vault first (``--passphrase-fd`` or ``--unlock``; a different fd from ``--pin-fd``) and
are audit events. modules, tokens, list, export-pub and verify need no vault, except with
``--store tpm``: TPM keys are kept in the vault.

Exit codes: 0 ok · 1 failed (module missing, no such token or key, unsupported type or algorithm,
token removed, output directory missing) · 2 usage (bad option, ambiguous key or token) · 3 a
signature that does not verify, or a signature file that is corrupt (not DER, wrong length), or an
audit checkpoint that fails · 4 wrong PIN or passphrase, PIN blocked. After any failure no output
file has changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    AuthenticationFailed,
    NotFound,
    Refused,
    StorageError,
    StrongroomError,
    Unsupported,
    UsageError,
    WrongPin,
)
from ..keys import certificates as x509req
from ..keys import checkpoints, module_config
from ..keys import service as keys_service
from ..keys.ports import KeyInfo, KeyStore, KeyStoreProvider, KeyType, SignAlgorithm, TokenInfo
from ..keys.service import (
    STORES,
    BadSignature,
    audit_details,
    choose_algorithm,
    find_key,
    record_failure,
)

if TYPE_CHECKING:
    from ..vault import Vault
    from . import Context

EXIT_OK, EXIT_INTEGRITY = 0, 3


# ----- providers, tokens, sessions ---------------------------------------------------------------


def _provider(ctx: Context) -> KeyStoreProvider:
    provider = keys_service.load_provider(ctx.args.store)
    keys_service.require_available(provider)
    if provider.store == "pkcs11":
        keys_service.add_modules(provider, ctx.args.module or ())
    return provider


def _modules(ctx: Context) -> list[str]:
    return list(ctx.args.module or ()) if ctx.args.store == "pkcs11" else []


def _token(ctx: Context, provider: KeyStoreProvider) -> TokenInfo:
    tokens = keys_service.find_tokens(provider, _modules(ctx))
    return keys_service.choose_token(tokens, getattr(ctx.args, "token", None))


def _pin(ctx: Context, token: TokenInfo) -> str | None:
    if token.store == "tpm":
        # Using a key: asked once the key is known to have a PIN (session). Generating: a PIN
        # on --pin-fd becomes the new key's PIN.
        if getattr(ctx.args, "key", None) or ctx.args.pin_fd is None:
            return None
        return ctx.next_pin("PIN for the new TPM key: ")
    if "login-required" not in token.flags and ctx.args.pin_fd is None:
        return None
    return ctx.next_pin(f"PIN for token '{token.label}': ")


def _pin_error(e: AuthenticationFailed) -> AuthenticationFailed:
    retries = getattr(e, "retries", None)
    if isinstance(e, WrongPin) and retries is not None and "attempt" not in str(e):
        return WrongPin(f"{e} ({retries} attempts left)", retries)
    return e


@contextlib.contextmanager
def session(ctx: Context, vault: Vault | None) -> Iterator[tuple[TokenInfo, KeyStore]]:
    """A logged-in store on the chosen token (the TPM's keys come from the vault)."""
    provider = _provider(ctx)
    if provider.store == "tpm" and vault is None:
        raise UsageError("TPM keys are kept in the vault: this needs the vault")
    token = _token(ctx, provider)
    pin = _pin(ctx, token)
    try:
        store = provider.open(token, pin, blobs=vault)
        if pin is None and _key_needs_pin(ctx, store):
            # A TPM key with a PIN of its own: asked once the key is known.
            store.close()
            pin = ctx.next_pin(f"PIN for the TPM key '{ctx.args.key}': ")
            store = provider.open(token, pin, blobs=vault)
    except AuthenticationFailed as e:
        record_failure(vault, "keys.login", token.label,
                       audit_details(token, operation="login"), e)
        raise _pin_error(e) from e
    finally:
        pin = None
    try:
        yield token, store
    finally:
        store.close()


def _key_needs_pin(ctx: Context, store: KeyStore) -> bool:
    wanted = getattr(ctx.args, "key", None)
    if store.store != "tpm" or not wanted:
        return False
    try:
        return keys_service.find_key(store.list_keys(), wanted).needs_pin
    except StrongroomError:
        return False  # the command reports the unknown or ambiguous key itself


@contextlib.contextmanager
def _vault_if(ctx: Context, needed: bool) -> Iterator[Vault | None]:
    if not needed:
        yield None
        return
    with ctx.unlocked() as vault:
        yield vault


def _needs_vault(ctx: Context) -> bool:
    return bool(ctx.args.store == "tpm")


# ----- output ------------------------------------------------------------------------------------


def key_json(key: KeyInfo) -> dict[str, Any]:
    try:
        algorithms = [a.value for a in keys_service.allowed_algorithms(key)]
    except Unsupported:
        algorithms = []
    return {
        "label": key.label,
        "key_id": key.key_id,
        "algorithm": key.algorithm,
        "key_type": None if key.key_type is None else key.key_type.value,
        "fingerprint": key.fingerprint,
        "fingerprint_words": keys_service.fingerprint_words(key.fingerprint),
        "store": key.store,
        "token_label": key.token_label,
        "token_serial": key.token_serial,
        "capabilities": sorted(c.value for c in key.capabilities),
        "sensitive": key.sensitive,
        "extractable": key.extractable,
        "has_certificate": key.has_certificate,
        "needs_pin": key.needs_pin,
        "algorithms": algorithms,
        "default_algorithm": algorithms[0] if algorithms else None,
        "warnings": list(key.warnings),
    }


def _token_json(t: TokenInfo) -> dict[str, Any]:
    out = dataclasses.asdict(t)
    out["flags"] = list(t.flags)
    return out


def _key_text(key: KeyInfo) -> str:
    lines = [
        f"{key.label}  id {key.key_id or '-'}  {key.algorithm}",
        f"  fingerprint {keys_service.grouped_hex(key.fingerprint)}",
        f"  words       {' '.join(keys_service.fingerprint_words(key.fingerprint))}",
    ]
    lines += [f"  warning: {w}" for w in key.warnings]
    return "\n".join(lines)


# ----- read-only commands ------------------------------------------------------------------------


def cmd_modules(ctx: Context) -> int:
    a = ctx.args
    if a.add or a.forget:
        return _change_modules(ctx)
    provider = _provider(ctx)
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
    a = ctx.args
    if a.add and a.forget:
        raise UsageError("give --add or --forget, not both")
    if a.add:
        path = os.path.abspath(os.path.expanduser(a.add))
        module_config.check_module_path(path)
        keys_service.add_modules(keys_service.load_provider("pkcs11"), [path])  # loaded: bad fails
        added = module_config.remember_module(path)
        text = (f"Remembered the PKCS#11 module {path}." if added
                else f"{path} was remembered already.")
    else:
        path = os.path.abspath(os.path.expanduser(a.forget))
        module_config.forget_module(path)
        text = f"Forgot the PKCS#11 module {path} (the file is untouched)."
    ctx.out.emit({"remembered": module_config.remembered_modules(),
                  "config": str(module_config.config_file())}, text)
    return EXIT_OK


def cmd_tokens(ctx: Context) -> int:
    provider = _provider(ctx)
    tokens = keys_service.find_tokens(provider, _modules(ctx))
    ctx.out.emit(
        [_token_json(t) for t in tokens],
        lambda: "\n".join(
            f"{t.label}  serial {t.serial}  {t.manufacturer} {t.model}  slot "
            f"{'-' if t.slot is None else t.slot}  {t.module}" for t in tokens
        ) or "(no tokens present)",
    )
    return EXIT_OK


def cmd_list(ctx: Context) -> int:
    with _vault_if(ctx, _needs_vault(ctx)) as vault, session(ctx, vault) as (token, store):
        keys = store.list_keys()
    ctx.out.emit(
        {"token": _token_json(token), "keys": [key_json(k) for k in keys]},
        lambda: f"Token '{token.label}' (serial {token.serial}):\n"
        + ("\n".join(_key_text(k) for k in keys) or "(no keys)"),
    )
    return EXIT_OK


def cmd_export_pub(ctx: Context) -> int:
    a = ctx.args
    if a.out is not None and not Path(a.out).parent.is_dir():
        raise NotFound(f"no directory {Path(a.out).parent} for {Path(a.out).name}")
    with _vault_if(ctx, _needs_vault(ctx)) as vault, session(ctx, vault) as (_, store):
        key = find_key(store.list_keys(), a.key)
    pem = keys_service.public_pem(key.public_key)
    if a.out is None and not ctx.out.json:
        ctx.stdout.write(pem.decode())
        return EXIT_OK
    if a.out is not None:
        keys_service.write_public(Path(a.out), pem)
    ctx.out.emit({**key_json(key), "public_key_pem": pem.decode(), "out": a.out},
                 f"Wrote the public key of {key.label} to {a.out}.")
    return EXIT_OK


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no {what} file {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory, not a {what} file") from None
    except OSError as e:
        raise StorageError(f"could not read {path}: {e.strerror or type(e).__name__}") from e


def cmd_verify(ctx: Context) -> int:
    a = ctx.args
    if (a.key is None) == (a.pubkey is None):
        raise UsageError("give either --key X (on a token) or --pubkey PEM")
    signature = _read(a.sig, "signature")
    if not Path(a.infile).is_file():
        raise NotFound(f"no file {a.infile} to verify")
    label = a.pubkey
    if a.pubkey is not None:
        spki = keys_service.spki_der(keys_service.load_public_key(_read(a.pubkey, "public key")))
        info = KeyInfo("file", "", "", Path(a.pubkey).name, "", "", None, frozenset(), True,
                       False, spki)
    else:
        with _vault_if(ctx, _needs_vault(ctx)) as vault, session(ctx, vault) as (_t, store):
            info = find_key(store.list_keys(), a.key)
        label = info.label
    algorithm = choose_algorithm(info, a.algorithm)
    digest = keys_service.digest_file(Path(a.infile), algorithm)
    good = keys_service.verify(info.public_key, digest.signed, signature, algorithm,
                               prehashed=algorithm is not SignAlgorithm.Ed25519)
    if not good:
        raise BadSignature(
            f"BAD signature: {a.sig} is not a {algorithm.value} signature of {a.infile} by "
            f"{label}"
        )
    ctx.out.emit(
        {"valid": True, "file": a.infile, "signature": a.sig, "algorithm": algorithm.value,
         "fingerprint": info.fingerprint, "sha256": digest.sha256},
        f"Good signature: {a.infile} signed by {label} ({algorithm.value}, key "
        f"{info.fingerprint[:16]}).",
    )
    return EXIT_OK


# ----- commands that use a private key (vault + PIN, audited) ------------------------------------


def cmd_generate(ctx: Context) -> int:
    a = ctx.args
    key_id = None
    if a.id is not None:
        try:
            key_id = bytes.fromhex(a.id)
        except ValueError:
            raise UsageError("--id takes hex digits, like 01 or a1b2") from None
        if not key_id:
            raise UsageError("--id must not be empty")
    key_type = KeyType(a.type)
    with ctx.unlocked() as vault, session(ctx, vault) as (token, store):
        if any(k.label == a.label for k in store.list_keys()):
            raise Refused(f"a key labelled {a.label!r} is already on token '{token.label}'")
        key = keys_service.generate_key(store, a.label, key_type, key_id, vault=vault,
                                        token=token)
    ctx.out.emit(key_json(key), lambda: f"Generated on '{token.label}':\n{_key_text(key)}")
    return EXIT_OK


def cmd_sign(ctx: Context) -> int:
    a = ctx.args
    files = [Path(p) for p in a.infiles or ()]
    if a.digest is not None and files:
        raise UsageError("give either --in FILE… or --digest HEX, not both")
    if a.digest is None and not files:
        raise UsageError("nothing to sign: give --in FILE… or --digest HEX")
    out = Path(a.out) if a.out else None
    out_dir = Path(a.out_dir) if a.out_dir else None
    if a.digest is not None:
        if out is None:
            raise UsageError("--digest needs --out SIG")
        keys_service.signature_paths([Path("digest")], out, None)
    else:
        keys_service.signature_paths(files, out, out_dir)
        for f in files:
            if not f.is_file():
                raise NotFound(f"no file {f} to sign")
    with ctx.unlocked() as vault, session(ctx, vault) as (token, store):
        key = find_key(store.list_keys(), a.key)
        algorithm = choose_algorithm(key, a.algorithm)
        if a.digest is not None:
            assert out is not None  # noqa: S101 - checked above
            results = [keys_service.sign_digest(store, key, a.digest, algorithm, out,
                                                vault=vault, token=token)]
        else:
            progress = _progress(ctx, len(files))
            results = keys_service.sign_files(
                store, key, files, algorithm, out=out, out_dir=out_dir, vault=vault,
                token=token, on_progress=progress,
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


def _certificate_common(ctx: Context, action: str, build: Callable[[KeyStore, KeyInfo], bytes],
                        what: str) -> int:
    a = ctx.args
    if a.out is not None and not Path(a.out).parent.is_dir():
        raise NotFound(f"no directory {Path(a.out).parent} for {Path(a.out).name}")
    x509req.parse_subject(a.subject)  # bad input fails before any prompt
    x509req.parse_sans(a.san or ())
    with ctx.unlocked() as vault, session(ctx, vault) as (token, store):
        key = find_key(store.list_keys(), a.key)
        algorithm = choose_algorithm(key, a.algorithm)
        details = audit_details(token, key, operation=action.split(".")[1],
                                algorithm=algorithm.value, subject=a.subject,
                                sans=list(a.san or ()))
        try:
            pem = build(store, key)
        except BaseException as e:
            record_failure(vault, action, key.label, details, e)
            raise
        from asn1crypto import pem as pem_mod  # type: ignore[import-untyped]

        der = pem_mod.unarmor(pem)[2]
        if a.out is not None:
            keys_service.write_public(Path(a.out), pem)
        vault.record(action, key.label,
                     details={**details, "sha256": hashlib.sha256(der).hexdigest(),
                              "out": a.out})
    if a.out is None and not ctx.out.json:
        ctx.stdout.write(pem.decode())
        return EXIT_OK
    ctx.out.emit({"key": key.label, "fingerprint": key.fingerprint, "out": a.out,
                  "pem": pem.decode(), "algorithm": algorithm.value},
                 f"Wrote {what} for {key.label} to {a.out}.")
    return EXIT_OK


def cmd_csr(ctx: Context) -> int:
    a = ctx.args
    return _certificate_common(
        ctx, "keys.csr",
        lambda store, key: x509req.build_csr(store, key, a.subject, sans=a.san or (),
                                             algorithm=a.algorithm, ca=a.ca),
        "a certificate request",
    )


def cmd_selfsign(ctx: Context) -> int:
    a = ctx.args
    if not 1 <= a.days <= x509req.MAX_DAYS:
        raise UsageError(f"--days must be between 1 and {x509req.MAX_DAYS}")
    return _certificate_common(
        ctx, "keys.selfsign",
        lambda store, key: x509req.build_self_signed(
            store, key, a.subject, days=a.days, sans=a.san or (), ca=a.ca,
            algorithm=a.algorithm),
        "a self-signed certificate",
    )


def cmd_import_cert(ctx: Context) -> int:
    a = ctx.args
    der = x509req.certificate_der(_read(a.cert, "certificate"))
    with ctx.unlocked() as vault, session(ctx, vault) as (token, store):
        key = find_key(store.list_keys(), a.key)
        keys_service.import_certificate(store, key, der, vault=vault, token=token)
    ctx.out.emit({"key": key.label, "fingerprint": key.fingerprint, "imported": True,
                  "sha256": hashlib.sha256(der).hexdigest()},
                 f"Stored the certificate next to {key.label} on '{token.label}'.")
    return EXIT_OK


# ----- audit checkpoints -------------------------------------------------------------------------


def cmd_audit_checkpoint(ctx: Context) -> int:
    with ctx.unlocked() as vault, session(ctx, vault) as (token, store):
        key = find_key(store.list_keys(), ctx.args.key)
        cp = checkpoints.create_checkpoint(vault, store, key, token=token,
                                           algorithm=ctx.args.algorithm)
    ctx.out.emit(
        cp.to_json(),
        f"Checkpoint of audit event {cp.seq} ({cp.head_hash[:16]}) signed by {cp.key_label} "
        f"({cp.algorithm.value}, key {cp.fingerprint[:16]}).",
    )
    return EXIT_OK


def checkpoint_report(ctx: Context, vault: Vault) -> checkpoints.CheckpointReport:
    """For ``audit verify``: check every checkpoint; trust keys from --trust and, with
    --hardware, the keys on the chosen token now."""
    a = ctx.args
    trusted = [_read(p, "public key") for p in (getattr(a, "trust", None) or ())]
    hardware: list[KeyInfo] = []
    if getattr(a, "hardware", False):
        with session(ctx, vault) as (_, store):
            hardware = store.list_keys()
    return checkpoints.verify_checkpoints(vault, trusted_keys=trusted, hardware_keys=hardware)


def checkpoints_pass(ctx: Context, report: checkpoints.CheckpointReport) -> bool:
    """No checkpoint is invalid; untrusted ones fail only when trust was asked for (--trust,
    --hardware or --require-trusted). Without a trusted key a checkpoint proves nothing either
    way, so a plain ``audit verify`` reports it and judges the chain alone."""
    a = ctx.args
    asked = bool(getattr(a, "trust", None) or getattr(a, "hardware", False)
                 or getattr(a, "require_trusted", False))
    counts = report.counts()
    return counts["invalid"] == 0 and (counts["untrusted"] == 0 or not asked)


def checkpoint_text(report: checkpoints.CheckpointReport) -> str:
    if not report.results:
        return report.summary()
    lines = [report.summary()]
    lines += [f"  checkpoint event {r.event_seq}: {r.status.value.upper()}: {r.reason}"
              for r in report.results if r.status is not checkpoints.Status.Valid]
    if report.counts()["untrusted"]:
        lines.append("  (an untrusted signer proves nothing: confirm it with --trust PUBKEY.pem "
                     "or --hardware)")
    return "\n".join(lines)


# ----- parser ------------------------------------------------------------------------------------


def _device_options(cp: Any, *, token: bool = True) -> None:
    cp.add_argument("--store", choices=STORES, default="pkcs11",
                    help="pkcs11 (tokens, HSMs; default) or tpm")
    cp.add_argument("--module", action="append", metavar="PATH",
                    help="PKCS#11 module (repeatable; default: the detected modules)")
    if token:
        cp.add_argument("--token", metavar="LABEL", help="token label or serial")


def _algorithm_option(cp: Any) -> None:
    cp.add_argument("--algorithm", choices=[a.value for a in SignAlgorithm], metavar="A",
                    help="signature algorithm (default: the key's: ecdsa-sha256/384, "
                    "rsa-pss-sha256, ed25519)")


def register(sub: Any, command: Callable[..., Any]) -> None:
    """Add the ``keys`` group to the top-level subparsers."""
    from . import _Parser

    keys = sub.add_parser("keys", help="hardware keys: list, generate, sign, verify, CSRs")
    ksub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True,
                               parser_class=_Parser)
    mods = command(ksub, "modules", cmd_modules,
                   "list PKCS#11 modules; --add or --forget one for later commands")
    _device_options(mods, token=False)
    mods.add_argument("--add", metavar="PATH", help="load and remember a PKCS#11 module")
    mods.add_argument("--forget", metavar="PATH", help="stop using a remembered module")
    _device_options(command(ksub, "tokens", cmd_tokens, "list tokens present"), token=False)
    _device_options(command(ksub, "list", cmd_list, "list a token's keys (logs in)"))

    gen = command(ksub, "generate", cmd_generate, "generate a key pair on the token (audited)")
    _device_options(gen)
    gen.add_argument("--label", required=True)
    gen.add_argument("--type", required=True, choices=[t.value for t in KeyType])
    gen.add_argument("--id", metavar="HEX", help="CKA_ID for the new key (default: random)")

    sign = command(ksub, "sign", cmd_sign, "sign files on the token (audited)")
    _device_options(sign)
    sign.add_argument("--key", required=True, metavar="X", help="label, hex id or fingerprint")
    sign.add_argument("--in", dest="infiles", nargs="+", metavar="FILE")
    sign.add_argument("--out", metavar="SIG", help="signature file (one input)")
    sign.add_argument("--out-dir", metavar="DIR", help="write DIR/NAME.sig for each input")
    sign.add_argument("--digest", metavar="HEX", help="sign this digest instead of a file")
    _algorithm_option(sign)

    ver = command(ksub, "verify", cmd_verify, "verify a signature (exit 3 if it does not)")
    _device_options(ver)
    ver.add_argument("--key", metavar="X")
    ver.add_argument("--pubkey", metavar="PEM")
    ver.add_argument("--in", dest="infile", required=True, metavar="FILE")
    ver.add_argument("--sig", required=True, metavar="SIG")
    _algorithm_option(ver)

    exp = command(ksub, "export-pub", cmd_export_pub, "write a key's public key (PEM)")
    _device_options(exp)
    exp.add_argument("--key", required=True, metavar="X")
    exp.add_argument("--out", metavar="FILE", help="default: standard output")

    for name, func, help_text in (
        ("csr", cmd_csr, "a PKCS#10 certificate request signed on the token (audited)"),
        ("selfsign", cmd_selfsign, "a self-signed certificate signed on the token (audited)"),
    ):
        cp = command(ksub, name, func, help_text)
        _device_options(cp)
        cp.add_argument("--key", required=True, metavar="X")
        cp.add_argument("--subject", required=True, metavar="DN",
                        help="like 'CN=build signer,O=Example,C=DE'")
        cp.add_argument("--san", action="append", metavar="NAME",
                        help="DNS:name, email:addr, IP:addr or URI:uri (repeatable)")
        cp.add_argument("--out", metavar="FILE", help="default: standard output")
        cp.add_argument("--ca", action="store_true", help="a CA: basicConstraints CA, keyCertSign")
        _algorithm_option(cp)
        if name == "selfsign":
            cp.add_argument("--days", type=int, default=365, metavar="N",
                            help="validity in days (default 365)")

    imp = command(ksub, "import-cert", cmd_import_cert,
                  "store a certificate next to its key on the token (audited)")
    _device_options(imp)
    imp.add_argument("--key", required=True, metavar="X")
    imp.add_argument("--cert", required=True, metavar="FILE", help="PEM or DER")


def register_audit(asub: Any, verify_parser: Any, command: Callable[..., Any]) -> None:
    """``audit checkpoint`` and the checkpoint options of ``audit verify``."""
    cp = command(asub, "checkpoint", cmd_audit_checkpoint,
                 "sign the audit chain's head with a hardware key (stored as an audit event)")
    _device_options(cp)
    cp.add_argument("--key", required=True, metavar="X", help="label, hex id or fingerprint")
    _algorithm_option(cp)
    verify_parser.add_argument(
        "--trust", action="append", metavar="PUBKEY.pem",
        help="trust checkpoints signed by this public key (repeatable)")
    verify_parser.add_argument(
        "--hardware", action="store_true",
        help="trust checkpoints signed by a key on the token now (logs in: --pin-fd)")
    verify_parser.add_argument(
        "--require-trusted", action="store_true",
        help="fail (exit 3) when a checkpoint's signer is not trusted; implied by --trust and "
        "--hardware")
    _device_options(verify_parser)
