"""``strongroom ceremony …``: validate a script, run a ceremony, list runs, verify a transcript.

``run`` is the Ceremony Administrator's session (their passphrase first on ``--passphrase-fd``,
or ``--unlock``); every confirmation then asks the confirming person for their own passphrase,
in the order the run needs them (one per line on ``--passphrase-fd`` after the administrator's:
the witness's for each ``--accept-preflight``, the witness's confirming the clock, then each step's
people and the witness; an empty line passes to the next person of the role). The token's PIN
comes from ``--pin-fd``. Exit codes: 2 a script with problems, 3 a transcript that does not
verify, 6 a confirmation missing or refused.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from .. import unlock_methods
from ..access import approvals
from ..ceremony import lint, run_store, runner, script, signing, transcript_pdf, verify
from ..ceremony.actions import StepContext
from ..ceremony.transcript import Transcript
from ..compliance import storage
from ..errors import IntegrityError, UsageError
from ..keys import tokens as key_tokens
from ..keyslots import PassphraseUnlocker
from ..unlock_methods import HardwareUnlocker
from ..vault import Vault
from .common import EXIT_OK, EXIT_USAGE, AddCommand, CliPrompts, Context, subcommands

TRANSCRIPT = "transcript.json"
PDF = "transcript.pdf"


def cmd_validate(ctx: Context) -> int:
    path = Path(ctx.args.script)
    text_problems: list[Any] = []
    try:
        parsed = script.load(path)
    except script.ScriptInvalid as e:
        parsed, text_problems = None, e.problems
    if parsed is not None and ctx.args.operators:
        with ctx.unlocked() as vault, vault._read() as conn:
            from ..access import operators

            people = {o.name.casefold(): (o.name, o.active, o.roles)
                      for o in operators.all_operators(conn)}
        text_problems = script.check_operators(parsed, people)
    rows = [{"line": p.line, "message": p.message} for p in text_problems]
    ctx.out.emit({"script": str(path), "valid": not rows, "problems": rows,
                  **({} if parsed is None else {"name": parsed.name, "steps": len(parsed.steps),
                                                "sha256": parsed.sha256})},
                 lambda: "\n".join([f"{path.name} line {r['line']}: {r['message']}"
                                    for r in rows] or [f"{path.name} is a valid ceremony "
                                                       f"script ({len(parsed.steps)} steps)."
                                                       if parsed else ""]))
    return EXIT_USAGE if rows else EXIT_OK


def cmd_list(ctx: Context) -> int:
    with ctx.unlocked() as vault:
        runs = run_store.listing(vault)
    ctx.out.emit({"ceremonies": runs}, lambda: "\n".join(
        f"{r['id'][:12]}  {r['status']:<9} {r['started'][:16]}  {r['name']}  ({r['records']} "
        "records)" for r in runs) or "No ceremonies in this vault.")
    return EXIT_OK


def cmd_verify(ctx: Context) -> int:
    report = verify.verify_file(Path(ctx.args.transcript),
                                Path(ctx.args.files) if ctx.args.files else None)
    if not report.ok:
        raise IntegrityError(f"the transcript does not verify: {report.first_problem}")
    ctx.out.emit({"ok": True, "records": report.records, "signatures": report.signatures_checked,
                  "files": report.files_checked, "head": report.head},
                 f"The transcript verifies: {report.records} records, "
                 f"{report.signatures_checked} signatures, {report.files_checked} files; head "
                 f"{report.head}.")
    return EXIT_OK


def cmd_run(ctx: Context) -> int:
    args = ctx.args
    if args.resume is None and (args.script is None or args.folder is None):
        raise UsageError("give a SCRIPT and --folder DIR, or --resume ID")
    parsed = None if args.resume else script.load(Path(args.script))
    with ctx.unlocked() as vault:
        run = (runner.CeremonyRun.start(vault, parsed, Path(args.folder)) if parsed
               else runner.CeremonyRun.resume(vault, args.resume))
        say = _Speaker(ctx)
        say(f"Ceremony {run.row.id} — {run.script.name}: {run.script.purpose}")
        asker = _Confirmations(ctx, vault, run)
        token, store = _open_token(ctx, run, vault)
        try:
            if not any(r["type"] == "preflight" for r in run.records()):
                _preflight(ctx, vault, run, asker, token)
            while (step := run.next_step()) is not None:
                say(f"\nStep {step.id} ({step.kind}), role {step.role}: {step.title}")
                if "text" in step.params:
                    say(f"  {step.params['text']}")
                record = _run_step(ctx, vault, run, step, asker, store, token, say)
                _show(say, record["data"])
            transcript = run.finish()
        finally:
            if store is not None:
                store.close()
        transcript.save(Path(run.row.folder) / TRANSCRIPT)
        transcript_pdf.save_pdf(transcript, Path(run.row.folder) / PDF, generated=vault._now())
    ctx.out.emit({"ceremony": run.row.id, "head": transcript.head,
                  "transcript": str(Path(run.row.folder) / TRANSCRIPT)},
                 f"\nThe ceremony is done; head {transcript.head}. The administrator and the "
                 f"witness sign it in the console (Ceremonies), or it is kept unsigned at "
                 f"{Path(run.row.folder) / TRANSCRIPT}.")
    return EXIT_OK


def cmd_sign(ctx: Context) -> int:
    """Sign a finished ceremony's head: a role's operator with their security key, or the
    script's key on its token; the transcript file is rewritten with the signature added."""
    args = ctx.args
    with ctx.unlocked() as vault:
        row = run_store.get(vault, args.id)
        if row.status != run_store.FINISHED:
            raise UsageError(f"ceremony {args.id} is {row.status}; sign it once it has finished")
        run = runner.CeremonyRun(vault, row, script.parse(row.script, "the ceremony's script"))
        made = run.transcript()
        path = Path(row.folder) / TRANSCRIPT
        if path.exists():
            saved = Transcript.load(path)
            if saved.head == made.head:
                made = saved  # keep the signatures already made
        if args.key:
            _token, store = _open_token(ctx, run, vault)
            if store is None:
                raise UsageError("the script names no token for --key")
            try:
                key = key_tokens.find_key(store.list_keys(), args.key)
                signing.sign_head_with_key(store, key, made)
            finally:
                store.close()
            who = f"key {args.key}"
        else:
            if not args.role or not args.signer:
                raise UsageError("give --role ROLE --signer NAME (their security key) or --key")
            unlocker = HardwareUnlocker(unlock_methods.load_source("fido2"), vault.vault_id,
                                        prompts=CliPrompts(ctx))
            signing.sign_head_with_fido2(vault, made, args.signer, args.role, unlocker)
            who = f"{args.signer} ({args.role})"
        made.save(path)
    ctx.out.emit({"ceremony": args.id, "head": made.head, "signed_by": who,
                  "signatures": len(made.signatures), "transcript": str(path)},
                 f"{who} signed the head {made.head}; {len(made.signatures)} signatures in "
                 f"{path}.")
    return EXIT_OK


def _run_step(ctx: Context, vault: Vault, run: runner.CeremonyRun, step: script.Step,
              asker: _Confirmations, store: Any, token: Any, say: _Speaker) -> dict[str, Any]:
    """Run one step; when its certificate fails lint with errors ``--accept-lint CODE=REASON``
    names, the witness records the exception (their passphrase) and the step runs once more."""
    context = StepContext(run.out, vault.clock.now(), store, token)
    try:
        return run.run_step(step, asker.for_step(step), context,
                            show_shares=lambda issued: _hand_out(say, issued),
                            ask_share=asker.share)
    except lint.LintFailed as e:
        reasons = dict(item.partition("=")[::2] for item in ctx.args.accept_lint or ())
        for finding in e.report.findings:
            say(f"  lint {finding.severity.value}: {finding}")
        if not all(f.code in reasons and reasons[f.code].strip() for f in e.refused):
            raise
        witness = run.script.role_of_kind("witness")
        if witness is None:
            raise
        accepted = {}
        for finding in e.refused:
            approval = asker.approval(witness.operators[0], runner.EXCEPTION_OPERATION,
                                      runner.target(run.row.id, step.id))
            if approval is None:
                raise UsageError("the witness did not confirm the lint exception") from None
            accepted[finding.code] = run.record_exception(
                f"lint {finding.code}: {reasons[finding.code].strip()}", approval, step.id)
        context.extra["lint_exceptions"] = accepted
        return run.run_step(step, asker.for_step(step), context)


class _Speaker:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def __call__(self, text: str) -> None:
        print(text, file=sys.stderr if self.ctx.out.json else sys.stdout, flush=True)


class _Confirmations:
    """Each person of a step's role (until the quorum), then the witness, with their own
    passphrase, each an approval of this run and step."""

    def __init__(self, ctx: Context, vault: Vault, run: runner.CeremonyRun) -> None:
        self.ctx, self.vault, self.run = ctx, vault, run
        self.line = 1  # line 0 of --passphrase-fd opened the vault

    def ask(self, name: str, what: str) -> str:
        text: str = self.ctx.prompter.ask_optional(
            self.line, f"{name}, your passphrase to {what} (empty to pass): ")
        self.line += 1
        return text

    def share(self, custodian: str) -> str:
        text: str = self.ctx.prompter.ask_optional(
            self.line, f"{custodian}, type your share to check it: ")
        self.line += 1
        return text

    def approval(self, name: str, operation: str, target: str) -> approvals.Approval | None:
        secret = self.ask(name, "confirm")
        if not secret:
            return None
        return approvals.approve(self.vault, operation, target, name,
                                 PassphraseUnlocker.from_text(secret))

    def for_step(self, step: script.Step) -> list[approvals.Approval]:
        people, needed = self.run.confirmers_needed(step)
        got: list[approvals.Approval] = []
        where = runner.target(self.run.row.id, step.id)
        for person in people:
            if len(got) == needed:
                break
            found = self.approval(person, runner.STEP_OPERATION, where)
            if found is not None:
                got.append(found)
        witness = self.run.script.role_of_kind("witness")
        if witness is not None and step.role != witness.id:
            for person in witness.operators:
                found = self.approval(person, runner.STEP_OPERATION, where)
                if found is not None:
                    got.append(found)
                    break
        return got


def _open_token(ctx: Context, run: runner.CeremonyRun, vault: Vault) -> tuple[Any, Any]:
    """The token the script names (its PIN from --pin-fd or a prompt), or the TPM, whose keys'
    blobs the vault keeps."""
    spec = run.script.preflight
    wanted = spec.token_serial or spec.token_label
    if key_tokens.kind_of(spec.token_store).keeps_blobs_in_vault:
        return key_tokens.open_store(spec.token_store, token=wanted, blobs=vault)
    if wanted is None:
        return None, None
    pin = ctx.next_pin(f"PIN for token {wanted}: ")
    return key_tokens.open_store(spec.token_store, token=wanted, pin=pin)


def _preflight(ctx: Context, vault: Vault, run: runner.CeremonyRun, asker: _Confirmations,
               token: Any) -> None:
    latest = storage.runs(vault, limit=1)
    fresh = latest and (vault.clock.now() - dt.datetime.fromisoformat(
        latest[0]["ts"].replace("Z", "+00:00"))) < dt.timedelta(hours=24)
    results = {r["check_id"]: r["status"] for r in latest[0]["results"]} if fresh else {}
    exceptions = {}
    for item in ctx.args.accept_preflight or ():
        check, _, text = item.partition("=")
        witness = run.script.role_of_kind("witness")
        if witness is None or not text.strip():
            raise UsageError("--accept-preflight takes CHECK=the witness's reason")
        approval = asker.approval(witness.operators[0], runner.EXCEPTION_OPERATION,
                                  runner.target(run.row.id, "ceremony"))
        if approval is None:
            raise UsageError("the witness did not confirm the preflight exception")
        exceptions[check.strip()] = (text.strip(), approval)
    witness = run.script.role_of_kind("witness")
    now = vault.clock.now()
    print(f"  The clock says {now.isoformat(timespec='seconds')}.",
          file=sys.stderr if ctx.out.json else sys.stdout)
    clock = None if witness is None else asker.approval(
        witness.operators[0], runner.CLOCK_OPERATION, runner.target(run.row.id, "clock"))
    findings = run.preflight(check_results=results,
                             tokens=(lambda: [token]) if token is not None else None,
                             exceptions=exceptions, now=now, clock_confirmation=clock)
    for f in findings:
        print(f"  preflight {f.check}: {'ok' if f.ok else 'FAILED'} — {f.detail}",
              file=sys.stderr if ctx.out.json else sys.stdout)


def _hand_out(say: _Speaker, issued: Any) -> None:
    """Each custodian's share, shown this once (nothing keeps it): they write it down."""
    for share in issued:
        say(f"\n  Share {share.index} for {share.custodian} — write it down; it is not shown "
            "again:")
        words = share.mnemonic.split()
        for i in range(0, len(words), 10):
            say("    " + " ".join(words[i:i + 10]))


def _show(say: _Speaker, data: dict[str, Any]) -> None:
    key = data.get("key")
    if isinstance(key, dict):
        say(f"  key {key['label']}: {key['grouped']}")
        say(f"  read aloud: {' '.join(key['words'])}")
    for item in [*data.get("outputs", ()), *([data["file"]] if "file" in data else [])]:
        say(f"  {item['name']}: SHA-256 {item['sha256']}")
        say(f"  read aloud: {' '.join(item['words'])}")


def register(sub: Any, command: AddCommand) -> None:
    """Add the ``ceremony`` group to the top-level subparsers."""
    cp = sub.add_parser("ceremony", help="offline key ceremonies: validate, run, verify")
    csub = subcommands(cp, "ceremony_command")
    val = command(csub, "validate", cmd_validate, "check a ceremony script; each problem "
                  "with its line (exit 2 if any)")
    val.add_argument("script")
    val.add_argument("--operators", action="store_true",
                     help="also check the operators against this vault (unlocks it)")
    run = command(csub, "run", cmd_run, "run a ceremony (or --resume ID) step by step")
    run.add_argument("script", nargs="?")
    run.add_argument("--folder", metavar="DIR", help="a new folder for outputs and transcript")
    run.add_argument("--resume", metavar="ID", help="resume an interrupted ceremony")
    run.add_argument("--accept-preflight", action="append", metavar="CHECK=REASON",
                     help="the witness's exception for a failing preflight check")
    run.add_argument("--accept-lint", action="append", metavar="CODE=REASON",
                     help="the witness's exception for a certificate lint error (pkilint code)")
    command(csub, "list", cmd_list, "the ceremonies run in this vault")
    sig = command(csub, "sign", cmd_sign, "sign a finished ceremony's head: an operator's "
                  "security key (--role, --signer) or the ceremony's key (--key)")
    sig.add_argument("id")
    sig.add_argument("--role", metavar="ROLE", help="the script's role id the signer fills")
    sig.add_argument("--signer", metavar="NAME", help="the operator signing with their key")
    sig.add_argument("--key", metavar="LABEL", help="the ceremony key on the token signs")
    ver = command(csub, "verify", cmd_verify, "verify a transcript offline (exit 3 if not)")
    ver.add_argument("transcript")
    ver.add_argument("--files", metavar="DIR", help="also check every output file's hash")
