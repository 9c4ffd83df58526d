"""``strongroom audit checkpoint`` and the checkpoint options of ``audit verify``: the audit
chain's head signed with a hardware key, and who is trusted to have signed it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import AlreadyExists, NotFound
from ..keys import checkpoint_files, checkpoints
from ..keys.ports import KeyInfo
from ..keys.tokens import find_key
from ..vault import Vault
from .common import EXIT_OK, AddCommand, Context
from .tokens import algorithm_option, device_options, read_file, session


def cmd_audit_checkpoint(ctx: Context) -> int:
    out = Path(ctx.args.out) if ctx.args.out else None
    if out is not None and out.exists() and not ctx.args.force:  # before any prompt
        raise AlreadyExists(f"{out} already exists; choose a new file name or give --force")
    if out is not None and not out.parent.is_dir():
        raise NotFound(f"no directory {out.parent} for {out.name}")
    with ctx.unlocked() as vault, session(ctx, vault) as (token, store):
        key = find_key(store.list_keys(), ctx.args.key)
        cp = checkpoints.create_checkpoint(vault, store, key, token=token,
                                           algorithm=ctx.args.algorithm)
    if out is not None:
        checkpoint_files.write_checkpoint_file(out, cp, force=ctx.args.force)
    ctx.out.emit(
        {**cp.to_json(), "out": None if out is None else str(out)},
        f"Checkpoint of audit event {cp.seq} ({cp.head_hash[:16]}) signed by {cp.key_label} "
        f"({cp.algorithm.value}, key {cp.fingerprint[:16]})."
        + ("" if out is None else f" Written to {out}: keep it outside this machine."),
    )
    return EXIT_OK


def load_files(ctx: Context) -> list[tuple[Path, checkpoints.Checkpoint]]:
    """The ``--checkpoint FILE`` checkpoints, read before any prompt (a bad file fails first)."""
    paths = [Path(p) for p in (getattr(ctx.args, "checkpoint", None) or ())]
    return [(path, checkpoint_files.load_checkpoint_file(path)) for path in paths]


def file_checks(vault: Vault, loaded: list[tuple[Path, checkpoints.Checkpoint]],
                ) -> list[checkpoint_files.FileCheck]:
    """For ``audit verify --checkpoint FILE``: the log judged against each file."""
    return [checkpoint_files.check_file(vault, path, cp) for path, cp in loaded]


def checkpoint_report(ctx: Context, vault: Vault) -> checkpoints.CheckpointReport:
    """For ``audit verify``: check every checkpoint; trust keys from --trust and, with
    --hardware, the keys on the chosen token now."""
    args = ctx.args
    trusted = [read_file(p, "public key") for p in (getattr(args, "trust", None) or ())]
    hardware: list[KeyInfo] = []
    if getattr(args, "hardware", False):
        with session(ctx, vault) as (_, store):
            hardware = store.list_keys()
    return checkpoints.verify_checkpoints(vault, trusted_keys=trusted, hardware_keys=hardware)


def checkpoints_pass(ctx: Context, report: checkpoints.CheckpointReport) -> bool:
    """No checkpoint is invalid; untrusted ones fail only when trust was asked for (--trust,
    --hardware or --require-trusted). Without a trusted key a checkpoint proves nothing either
    way, so a plain ``audit verify`` reports it and judges the chain alone."""
    args = ctx.args
    asked = bool(getattr(args, "trust", None) or getattr(args, "hardware", False)
                 or getattr(args, "require_trusted", False))
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


def register(asub: Any, verify_parser: Any, command: AddCommand) -> None:
    """``audit checkpoint`` and the checkpoint options of ``audit verify``."""
    cp = command(asub, "checkpoint", cmd_audit_checkpoint,
                 "sign the audit chain's head with a hardware key (stored as an audit event)")
    device_options(cp)
    cp.add_argument("--key", required=True, metavar="X", help="label, hex id or fingerprint")
    algorithm_option(cp)
    cp.add_argument("--out", metavar="FILE",
                    help="also write the signed checkpoint to FILE, to keep outside the machine")
    cp.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    verify_parser.add_argument(
        "--checkpoint", action="append", metavar="FILE",
        help="fail (exit 3) if the log is behind, or differs from, the checkpoint in FILE "
        "(from 'audit checkpoint --out'; repeatable)")
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
    device_options(verify_parser)
