"""What each step kind does once its people have confirmed it: keys generated on the token,
public keys, requests and certificates written to the output folder, files signed, fingerprints
shown as hex and as PGP words. Each returns the data its transcript record keeps (output hashes,
fingerprints, key facts — never a PIN, a share or key material).

Outputs are written whole or not at all (a temp file renamed), and an existing file is replaced
only when the step had not been confirmed before a crash (the runner says so with ``redo``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AlreadyExists, NotFound, UsageError
from ..fsutil import atomic_write
from ..keys import algorithms, certificates, signing
from ..keys.fingerprints import fingerprint_words, grouped_hex
from ..keys.ports import KeyInfo, KeyStore, KeyType, TokenInfo
from . import crls, issuing
from .script import Step

MAX_INPUT_BYTES = 1024 * 1024
PUBLIC_MODE = 0o644


@dataclass
class StepContext:
    folder: Path  # the run's output folder
    now: dt.datetime
    store: KeyStore | None = None
    token: TokenInfo | None = None
    redo: bool = False  # the step ran before a crash without being confirmed: outputs may exist
    extra: dict[str, Any] = field(default_factory=dict)


def run(step: Step, ctx: StepContext) -> dict[str, Any]:
    """Do ``step``; returns what its transcript record keeps."""
    action = ACTIONS[step.kind]
    return action(step.params, ctx)


def _say(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    return {"text": params["text"]}


def _generate(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    store = _store(ctx)
    label = params["label"]
    if any(k.label == label for k in store.list_keys()):
        raise AlreadyExists(
            f"a key labelled {label!r} is already on the token; a ceremony generates its keys "
            "itself (if a crash left it half-made, the witness records an exception and the key "
            "is removed before the step is done again)")
    key = store.generate(label, KeyType(params["type"]))
    return {"key": _key_facts(key)}


def _export(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    key = _key(ctx, params["key"])
    return {"key": _key_facts(key),
            "outputs": [_write(ctx, params["output"], algorithms.public_pem(key.public_key))]}


def _csr(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    key = _key(ctx, params["key"])
    data = certificates.build_csr(_store(ctx), key, params["subject"], ca=False)
    return {"key": _key_facts(key), "outputs": [_write(ctx, params["output"], data)]}


def _root(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    key = _key(ctx, params["key"])
    accepted = _lint_exceptions(ctx)
    issued = issuing.self_signed_root(
        _store(ctx), key, params["subject"], days=params["days"],
        key_usage=params.get("key_usage", ()), path_length=params.get("path_length"),
        now=ctx.now, web_pki=params.get("web_pki", False), accept_errors=list(accepted))
    return {"key": _key_facts(key), "outputs": [_write(ctx, params["output"], issued.pem)],
            "certificate": _cert_facts(issued.pem), "lint": _lint_facts(issued, accepted)}


def _issue(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    key = _key(ctx, params["key"])
    issuer, request = _read(ctx, params["issuer"]), _read(ctx, params["csr"])
    accepted = _lint_exceptions(ctx)
    issued = issuing.issue_for_request(
        _store(ctx), key, issuer_pem=issuer, request_pem=request, days=params["days"],
        ca=params.get("ca", False), path_length=params.get("path_length"),
        key_usage=params.get("key_usage", ()), now=ctx.now,
        web_pki=params.get("web_pki", False), accept_errors=list(accepted))
    return {"key": _key_facts(key), "inputs": [_facts(params["issuer"], issuer),
                                                _facts(params["csr"], request)],
            "outputs": [_write(ctx, params["output"], issued.pem)],
            "certificate": _cert_facts(issued.pem), "lint": _lint_facts(issued, accepted)}


def _cross(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    key = _key(ctx, params["key"])
    accepted = _lint_exceptions(ctx)
    issuer, other = _read(ctx, params["issuer"]), _read(ctx, params["certificate"])
    issued = issuing.cross_certify(
        _store(ctx), key, issuer_pem=issuer, subject_pem=other, days=params["days"],
        path_length=params.get("path_length"), key_usage=params.get("key_usage", ()),
        now=ctx.now, web_pki=params.get("web_pki", False), accept_errors=list(accepted))
    return {"key": _key_facts(key), "inputs": [_facts(params["issuer"], issuer),
                                                _facts(params["certificate"], other)],
            "outputs": [_write(ctx, params["output"], issued.pem)],
            "certificate": _cert_facts(issued.pem), "lint": _lint_facts(issued, accepted)}


def _crl_signer(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    return _issue({**params, "ca": False, "key_usage": ["crl_sign"]}, ctx)


def _crl(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    key = _key(ctx, params["key"])
    accepted = _lint_exceptions(ctx)
    issuer = _read(ctx, params["issuer"])
    data, report = crls.issue_crl(
        _store(ctx), key, issuer_pem=issuer, revoked=crls.parse_serials(params.get("revoked", [])),
        number=params["number"], days=params["days"], now=ctx.now, accept_errors=list(accepted))
    errors = {f.code for f in report.errors}
    return {"key": _key_facts(key), "inputs": [_facts(params["issuer"], issuer)],
            "outputs": [_write(ctx, params["output"], data)],
            "crl": {"number": params["number"], "revoked": params.get("revoked", [])},
            "lint": report.to_json({c: s for c, s in accepted.items() if c in errors})}


def _lint_exceptions(ctx: StepContext) -> dict[str, int]:
    """The lint error codes the witness accepted for this step, each with the seq of its record:
    ``ctx.extra["lint_exceptions"]`` maps a code to the exception record the run appended for it
    (``CeremonyRun.record_exception``, which spends the witness's approval) naming the code."""
    given = ctx.extra.get("lint_exceptions") or {}
    accepted: dict[str, int] = {}
    for code, record in given.items():
        data = record.get("data") if isinstance(record, Mapping) else None
        if (not isinstance(data, Mapping) or record.get("type") != "exception"
                or not data.get("witness") or code not in str(data.get("text", ""))
                or type(record.get("seq")) is not int):
            raise UsageError(f"the lint error {code} is accepted only by an exception the "
                             "witness recorded naming it")
        accepted[code] = record["seq"]
    return accepted


def _lint_facts(issued: issuing.Issued, accepted: Mapping[str, int]) -> dict[str, Any]:
    errors = {f.code for f in issued.lint.errors}
    return issued.lint.to_json({c: seq for c, seq in accepted.items() if c in errors})


def _sign(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    key = _key(ctx, params["key"])
    source = _inside(ctx, params["input"])
    if not source.is_file():
        raise NotFound(f"no input file {params['input']!r} in {ctx.folder}")
    dest = _inside(ctx, params["output"])
    signing.sign_files(_store(ctx), key, [source], algorithms.default_algorithm(key), out=dest,
                       token=ctx.token, force=ctx.redo)
    return {"key": _key_facts(key), "inputs": [_facts(params["input"], _read(ctx,
                                                                             params["input"]))],
            "outputs": [_facts(params["output"], dest.read_bytes())]}


def _fingerprint(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    if "key" in params:
        key = _key(ctx, params["key"])
        return {"key": _key_facts(key)}
    if "file" in params:
        return {"file": _facts(params["file"], _read(ctx, params["file"]))}
    raise UsageError("show-fingerprint needs a key or a file")


def _shares(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    make = ctx.extra.get("create_shares")
    if make is None:
        raise UsageError("this run cannot create shares (no vault is open)")
    result: dict[str, Any] = make(params)
    return result


def _verify_shares(params: Mapping[str, Any], ctx: StepContext) -> dict[str, Any]:
    check = ctx.extra.get("verify_shares")
    if check is None:
        raise UsageError("this run cannot check shares (no vault is open)")
    result: dict[str, Any] = check(params)
    return result


ACTIONS = {
    "instruction": _say,
    "quorum-approval": _say,
    "generate-key": _generate,
    "export-public-key": _export,
    "create-csr": _csr,
    "self-signed-root": _root,
    "issue-certificate": _issue,
    "cross-certificate": _cross,
    "crl-signer-certificate": _crl_signer,
    "issue-crl": _crl,
    "sign-file": _sign,
    "show-fingerprint": _fingerprint,
    "create-shares": _shares,
    "verify-shares": _verify_shares,
}


# ----- what the records keep ----------------------------------------------------------------------


def _key_facts(key: KeyInfo) -> dict[str, Any]:
    return {"label": key.label, "id": key.key_id, "algorithm": key.algorithm,
            "fingerprint": key.fingerprint, "grouped": grouped_hex(key.fingerprint),
            "words": fingerprint_words(key.fingerprint), "token_serial": key.token_serial,
            "spki_sha256": hashlib.sha256(key.public_key).hexdigest(),
            "spki": base64.b64encode(key.public_key).decode("ascii")}


def _facts(name: str, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    return {"name": name, "sha256": digest, "bytes": len(data),
            "words": fingerprint_words(digest)}


def _cert_facts(pem_bytes: bytes) -> dict[str, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(pem_bytes)
    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "serial": format(cert.serial_number, "x"),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "sha256": cert.fingerprint(hashes.SHA256()).hex()}


# ----- the token and the folder -------------------------------------------------------------------


def _store(ctx: StepContext) -> KeyStore:
    if ctx.store is None:
        raise UsageError("this step needs the ceremony's token, and none is open")
    return ctx.store


def _key(ctx: StepContext, label: str) -> KeyInfo:
    found = [k for k in _store(ctx).list_keys() if k.label == label]
    if not found:
        raise NotFound(f"no key labelled {label!r} on the ceremony's token")
    if len(found) > 1:
        raise UsageError(f"two keys are labelled {label!r} on the token; remove one first")
    return found[0]


def _inside(ctx: StepContext, name: str) -> Path:
    path = ctx.folder / name
    if path.parent != ctx.folder:
        raise UsageError(f"{name!r} is not a plain file name")
    return path


def _read(ctx: StepContext, name: str) -> bytes:
    path = _inside(ctx, name)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise NotFound(f"no input file {name!r} in {ctx.folder}") from None
    except OSError as e:
        raise UsageError(f"cannot read {name}: {e.strerror or e}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise UsageError(f"{name} is larger than a ceremony input can be (1 MiB)")
    return data


def _write(ctx: StepContext, name: str, data: bytes) -> dict[str, Any]:
    path = _inside(ctx, name)
    if path.exists() and not ctx.redo:
        raise AlreadyExists(f"{path} exists already; a ceremony never replaces an output")
    atomic_write(path, data, PUBLIC_MODE)
    with open(path, "rb") as f:  # what is on disk is what the record hashes
        os.fsync(f.fileno())
        written = f.read()
    return _facts(name, written)
