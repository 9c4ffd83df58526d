"""Running a ceremony: start (the Ceremony Administrator, at the vault's console), preflight, the
steps one at a time, exceptions, and the end — each a record in the run's hash chain.

Every step is confirmed by the people of the role that acts, each with their own factor (an
approval of ``ceremony.step`` for this run and step, app/access/approvals.py), and co-confirmed by
the witness; a crypto-officer step needs the role's quorum of distinct officers. Confirmations
are checked and spent before the step runs; the step's record names who confirmed it and keeps
its outputs' hashes and fingerprints. A run interrupted anywhere resumes at the first step without
a record (the output of a step done but not recorded is written again).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..access import approvals, enforce, operators
from ..access.approvals import Approval
from ..access.roles import CEREMONY_RUN
from ..errors import AccessDenied, Refused, UsageError
from ..vault import keyslot_admin
from . import actions, preflight, recovery, run_store, shares, transcript
from .actions import StepContext
from .preflight import Finding
from .run_store import FINISHED, RUNNING, RunRow
from .script import Script, ScriptInvalid, Step, check_operators, parse
from .shares import IssuedShare
from .transcript import Transcript

if TYPE_CHECKING:
    from ..vault.session import VaultSession

STEP_OPERATION = "ceremony.step"
EXCEPTION_OPERATION = "ceremony.exception"
CLOCK_OPERATION = "ceremony.clock"
END_OPERATION = "ceremony.end"


def target(run_id: str, what: str) -> str:
    return f"{run_id}/{what}"


class CeremonyRun:
    def __init__(self, vault: VaultSession, row: RunRow, script: Script) -> None:
        self.vault = vault
        self.row = row
        self.script = script

    # ----- starting and resuming -----------------------------------------------------------------

    @classmethod
    def start(cls, vault: VaultSession, script: Script, folder: Path) -> CeremonyRun:
        """A new run of ``script`` by the acting operator, who must fill its administrator role;
        ``folder`` (new or empty) receives the outputs and the transcript."""
        admin = script.role_of_kind("ceremony-administrator")
        with vault._read() as conn:
            enforce.require_role(vault, conn, CEREMONY_RUN, "run key ceremonies")
            people = {o.name.casefold(): (o.name, o.active, o.roles)
                      for o in operators.all_operators(conn)}
        found = check_operators(script, people)
        if found:
            raise ScriptInvalid("the script", found)
        if admin is None or vault.actor.casefold() not in (p.casefold() for p in admin.operators):
            raise AccessDenied(f"{vault.actor} is not this script's ceremony administrator",
                               target=script.name, details={"missing": "role:admin"})
        folder = Path(folder)
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise Refused(f"{folder} is not an empty folder; a ceremony starts in a new one")
        run_id = uuid.uuid4().hex
        row = RunRow(run_id, script.name, script.text, script.sha256,
                     {r.id: list(r.operators) for r in script.roles.values()},
                     str(folder.resolve()), RUNNING, vault._now(), None,
                     transcript.genesis(run_id, script.sha256))
        (folder / script.preflight.output).mkdir(parents=True, exist_ok=True)
        run_store.insert(vault, row)
        return cls(vault, row, script)

    @classmethod
    def resume(cls, vault: VaultSession, ceremony_id: str) -> CeremonyRun:
        row = run_store.get(vault, ceremony_id)
        if row.status != RUNNING:
            raise Refused(f"ceremony {ceremony_id} is {row.status}; only a running one resumes")
        run = cls(vault, row, parse(row.script, "the ceremony's script"))
        done = run.next_step()
        run.append("resume", None, {"at": None if done is None else done.id})
        return run

    # ----- the chain ------------------------------------------------------------------------------

    def append(self, kind: str, step: str | None, data: Mapping[str, Any], *,
               status: str | None = None) -> dict[str, Any]:
        record = run_store.append(self.vault, self.row, kind, step=step, actor=self.vault.actor,
                                  data=data, status=status)
        self.row = run_store.get(self.vault, self.row.id)
        return record

    def records(self) -> list[dict[str, Any]]:
        return run_store.records(self.vault, self.row.id)

    @property
    def out(self) -> Path:
        return Path(self.row.folder) / self.script.preflight.output

    # ----- preflight ------------------------------------------------------------------------------

    def preflight(self, *, check_results: Mapping[str, str],
                  tokens: Callable[[], Sequence[Any]] | None,
                  exceptions: Mapping[str, tuple[str, Approval]] | None = None,
                  proc_root: Path = Path("/proc"),
                  interfaces: Callable[[], list[tuple[str, int]]] | None = None,
                  now: dt.datetime | None = None,
                  clock_confirmation: Approval | None = None) -> list[Finding]:
        """Run the script's preflight and record it; a failed check stops the ceremony unless
        ``exceptions`` holds the witness's text and approval for it. The clock counts only when
        the witness confirms the time shown (``clock_confirmation``: their approval of
        ``ceremony.clock`` for this run)."""
        now = now or self.vault.clock.now()
        findings = preflight.run_all(self.script.preflight, folder=self.out, now=now,
                                     check_results=check_results, tokens=tokens,
                                     proc_root=proc_root, interfaces=interfaces)
        findings = [self._clock(f, now, clock_confirmation) if f.check == "clock" else f
                    for f in findings]
        exceptions = exceptions or {}
        failed = [f for f in findings if f.ok is not True and f.check not in exceptions]
        self.append("preflight", None, {"findings": [f.to_json() for f in findings],
                                        "passed": not failed})
        for check, (text, approval) in exceptions.items():
            if any(f.check == check and f.ok is not True for f in findings):
                self.record_exception(f"preflight {check}: {text}", approval)
        if failed:
            raise Refused("preflight failed: " + "; ".join(f.detail for f in failed)
                          + " (the witness may record an exception for it)")
        return findings

    def _clock(self, found: Finding, now: dt.datetime, confirmation: Approval | None
               ) -> Finding:
        if not found.ok:
            return found
        witness = self.script.role_of_kind("witness")
        if confirmation is None or witness is None or confirmation.approver.casefold() not in (
                w.casefold() for w in witness.operators):
            return Finding("clock", False, f"{found.detail}, but the witness has not confirmed "
                                           "it", found.evidence)
        with self.vault._write() as conn:
            approvals.spend(self.vault, conn, confirmation, CLOCK_OPERATION,
                            target(self.row.id, "clock"))
        self.append("clock", None, {"shown": now.isoformat(), "witness": confirmation.approver})
        return Finding("clock", True, f"{found.detail}; {confirmation.approver} confirmed it",
                       found.evidence)

    def preflight_passed(self) -> bool:
        return any(r["type"] == "preflight" and r["data"].get("passed")
                   for r in self.records())

    # ----- steps ----------------------------------------------------------------------------------

    def done_steps(self) -> set[str]:
        return {r["step"] for r in self.records() if r["type"] == "step"}

    def next_step(self) -> Step | None:
        done = self.done_steps()
        return next((s for s in self.script.steps if s.id not in done), None)

    def confirmers_needed(self, step: Step) -> tuple[list[str], int]:
        """Who may confirm ``step`` and how many of them must."""
        role = self.script.roles[step.role]
        return list(role.operators), (role.quorum if role.kind == "crypto-officer" else 1)

    def run_step(self, step: Step, confirmations: Sequence[Approval], ctx: StepContext, *,
                 show_shares: Callable[[Sequence[IssuedShare]], None] | None = None,
                 ask_share: Callable[[str], str] | None = None) -> dict[str, Any]:
        """Check and spend the confirmations (the role's quorum and the witness), do the step,
        and record it. A create-shares step hands each custodian's share to ``show_shares``
        (shown once, never stored); a verify-shares step asks ``ask_share(custodian)``."""
        if not self.preflight_passed():
            raise Refused("the preflight has not passed; run it (the witness may record an "
                          "exception for a failed check) before the first step")
        if step.id in self.done_steps():
            raise Refused(f"step {step.id!r} was already done in this ceremony")
        nxt = self.next_step()
        if nxt is None or nxt.id != step.id:
            raise Refused(f"step {step.id!r} is not next; do {nxt.id if nxt else 'nothing'!r}")
        who = self._spend(step, confirmations)
        ctx.redo = any(r["type"] == "resume" for r in self.records())
        ctx.extra.update(create_shares=lambda p: self._create_shares(p, show_shares),
                         verify_shares=lambda p: self._verify_shares(p, ask_share))
        data = actions.run(step, ctx)
        record = self.append("step", step.id, {"kind": step.kind, "role": step.role,
                                               "confirmed_by": who, **data})
        for output in data.get("outputs", ()):  # what `ceremony verify --files` checks
            self.append("output", step.id, {"file": output["name"], "sha256": output["sha256"]})
        return record

    def _spend(self, step: Step, confirmations: Sequence[Approval]) -> dict[str, Any]:
        people, needed = self.confirmers_needed(step)
        witness = self.script.role_of_kind("witness")
        witnesses = [] if witness is None else list(witness.operators)
        acting = {p.casefold() for p in people}
        got: list[str] = []
        seen_witness: str | None = None
        with self.vault._write() as conn:
            for approval in confirmations:
                name = approval.approver.casefold()
                if name in acting and approval.approver not in got:
                    approvals.spend(self.vault, conn, approval, STEP_OPERATION,
                                    target(self.row.id, step.id))
                    got.append(approval.approver)
                elif witness is not None and name in (w.casefold() for w in witnesses):
                    approvals.spend(self.vault, conn, approval, STEP_OPERATION,
                                    target(self.row.id, step.id))
                    seen_witness = approval.approver
                else:
                    raise AccessDenied(f"{approval.approver} may not confirm step {step.id!r}: "
                                       f"it is role {step.role!r}'s (or the witness's)",
                                       target=step.id, details={"missing": "role"})
            if len(got) < needed:
                raise AccessDenied(
                    f"step {step.id!r} needs {needed} of {', '.join(people)} to confirm; "
                    f"{len(got)} did", target=step.id, details={"missing": "quorum"})
            if seen_witness is None and step.role != (witness.id if witness else None):
                raise AccessDenied(f"step {step.id!r} needs the witness to co-confirm",
                                   target=step.id, details={"missing": "witness"})
        return {"role": got, "witness": seen_witness}

    # ----- shares -------------------------------------------------------------------------------

    def _create_shares(self, params: Mapping[str, Any],
                       show: Callable[[Sequence[IssuedShare]], None] | None) -> dict[str, Any]:
        if show is None:
            raise UsageError("this run has no way to show shares to their custodians")
        custodians = self.script.roles[params["custodians"]].operators
        self._drop_unrecorded_shares()
        setup = recovery.create_recovery_slot(self.vault, params["threshold"], custodians,
                                              ceremony_id=self.row.id)
        try:
            show(setup.shares)
        except BaseException:
            self._drop_unrecorded_shares()  # shares nobody saw must not open the vault
            raise
        made = setup.share_set
        return {"set": made.id, "slot": setup.slot.id, "threshold": made.threshold,
                "count": made.count, "custodians": [h.custodian for h in made.holders],
                "commitments": [h.commitment.hex() for h in made.holders]}

    def _drop_unrecorded_shares(self) -> None:
        """A recovery keyslot this run made in a create-shares step that was never recorded
        (the run stopped while the shares were being handed out) is removed before new shares
        are made, so no set of shares outside the transcript opens the vault."""
        recorded = {r["data"].get("slot") for r in self.records() if r["type"] == "step"}
        for made in shares.share_sets(self.vault):
            slot = made.slot_id or ""
            if (made.ceremony_id == self.row.id and slot not in recorded
                    and self.vault.header.slot(slot) is not None):
                keyslot_admin.remove_slot(self.vault, slot, rekey=False)

    def _verify_shares(self, params: Mapping[str, Any],
                       ask: Callable[[str], str] | None) -> dict[str, Any]:
        if ask is None:
            raise UsageError("this run has no way to ask custodians for their shares")
        made = next((r for r in self.records() if r["type"] == "step"
                     and r["step"] == params["set"]), None)
        if made is None:
            raise Refused(f"step {params['set']!r} has not made its shares yet")
        checked = []
        for custodian in made["data"]["custodians"]:
            shares.drill(self.vault, made["data"]["set"], custodian, ask(custodian))
            checked.append(custodian)
        return {"set": made["data"]["set"], "verified": checked}

    # ----- exceptions and the end -----------------------------------------------------------------

    def record_exception(self, text: str, witness_approval: Approval,
                         step: str | None = None) -> dict[str, Any]:
        text = " ".join(text.split())
        if not text or len(text) > 4000:
            raise UsageError("an exception is 1 to 4000 characters of text")
        witness = self.script.role_of_kind("witness")
        if witness is None or witness_approval.approver.casefold() not in (
                w.casefold() for w in witness.operators):
            raise AccessDenied("only the witness records an exception", target=text[:40],
                               details={"missing": "witness"})
        with self.vault._write() as conn:
            approvals.spend(self.vault, conn, witness_approval, EXCEPTION_OPERATION,
                            target(self.row.id, step or "ceremony"))
        return self.append("exception", step, {"text": text,
                                               "witness": witness_approval.approver})

    def transcript(self) -> Transcript:
        """The transcript of the run so far, with the public keys its steps made or used."""
        made = Transcript.begin(run_store.ceremony_block(self.vault, self.row),
                                run_store.chain(self.vault, self.row).records)
        for record in made.records:
            key = record.data.get("key") if record.type.value == "step" else None
            if isinstance(key, dict) and not made.ended:
                made.add_ceremony_key(key["label"], base64.b64decode(key["spki"]))
        return made

    def finish(self) -> Transcript:
        """The ``end`` record (binding the ceremony block and the keys into the chain); then the
        Ceremony Administrator and the Witness sign the head (signing.py) and it is saved."""
        missing = [s.id for s in self.script.steps if s.id not in self.done_steps()]
        if missing:
            raise Refused(f"the ceremony is not done: steps left: {', '.join(missing)}")
        made = self.transcript()
        record = made.finish(ts=self.vault._now(), actor=self.vault.actor,
                             data={"steps": len(self.script.steps)})
        run_store.store(self.vault, self.row, record, status=FINISHED)
        self.row = run_store.get(self.vault, self.row.id)
        return made
