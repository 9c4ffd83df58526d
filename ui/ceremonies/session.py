"""One ceremony run as the console drives it, used only in the task runner's worker: the run, its
token, each person's confirmation, the steps, the witness's exceptions, the end, the signatures
over the head and the saved transcript. What the pages show comes back as frozen snapshots."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from strongroom.app.access import approvals
from strongroom.app.access.approvals import Approval
from strongroom.app.ceremony import preflight as ceremony_preflight
from strongroom.app.ceremony import run_store, runner, signing, transcript_pdf, verify
from strongroom.app.ceremony.actions import StepContext
from strongroom.app.ceremony.preflight import Finding
from strongroom.app.ceremony.runner import CeremonyRun
from strongroom.app.ceremony.script import RoleSpec, Script, Step, parse
from strongroom.app.ceremony.shares import IssuedShare
from strongroom.app.ceremony.transcript import Fido2Signature, Transcript
from strongroom.app.ceremony.verify import VerifyReport
from strongroom.app.errors import NotFound, Refused
from strongroom.app.keys.ports import KeyStore, TokenInfo
from strongroom.app.keyslots import KeyslotUnlocker
from strongroom.app.unlock_methods import HardwareUnlocker, Prompts
from strongroom.app.vault import Vault

from .env import (
    FIDO2,
    EndpointRun,
    Environment,
    has_security_key,
    input_files,
    keeps_blobs,
    newest_checks,
)

TRANSCRIPT, PDF = "transcript.json", "transcript.pdf"
LINT_CODE = re.compile(r"\b[a-z0-9_]+(?:\.[a-z0-9_]+)+\b")  # pkilint's codes: dotted words
Status = Callable[[str], None]


@dataclass(frozen=True)
class StepView:
    """The step to do now, and who does it."""

    step: Step
    index: int  # 1-based
    total: int
    role: RoleSpec
    people: tuple[str, ...]  # who may confirm for the role
    needed: int  # how many of them must
    witnesses: tuple[str, ...]  # who co-confirms (empty when the step is the witness's own)
    keys: Mapping[str, bool]  # who has a security key


@dataclass(frozen=True)
class RunState:
    run_id: str
    name: str
    purpose: str
    folder: Path
    out: Path
    preflight_done: bool
    token: str | None  # the token whose PIN is asked (serial or label), None when none is
    token_open: bool  # the ceremony's key store is open, or it needs none
    step: StepView | None  # None: every step is done
    done: int
    total: int
    ended: bool


@dataclass(frozen=True)
class Signer:
    role: str  # the script's role id
    name: str
    has_key: bool
    signed: bool


@dataclass(frozen=True)
class FinishState:
    head: str
    signers: tuple[Signer, ...]
    key_signature: str  # what the ceremony key's signature did ("" when the script asks none)
    saved: tuple[Path, ...] = ()
    report: VerifyReport | None = None


@dataclass
class RunSession:
    vault: Vault
    run: CeremonyRun
    env: Environment
    info: TokenInfo | None = None
    store: KeyStore | None = None
    transcript: Transcript | None = None
    key_signature: str = ""
    saved: tuple[Path, ...] = field(default=())
    report: VerifyReport | None = None

    # ----- opening ------------------------------------------------------------------------------

    @classmethod
    def start(cls, vault: Vault, env: Environment, script: Script, folder: Path) -> RunSession:
        return cls(vault, CeremonyRun.start(vault, script, folder), env)

    @classmethod
    def resume(cls, vault: Vault, env: Environment, ceremony_id: str) -> RunSession:
        """A running ceremony at its first step without a record, or a finished one whose
        transcript was not saved (to sign and save it)."""
        row = run_store.get(vault, ceremony_id)
        if row.status == run_store.FINISHED:
            session = cls(vault, CeremonyRun(vault, row, parse(row.script)), env)
            if (Path(row.folder) / TRANSCRIPT).exists():
                raise Refused(f"ceremony {row.name} is finished and its transcript is saved")
            session.transcript = session.run.transcript()
            return session
        return cls(vault, CeremonyRun.resume(vault, ceremony_id), env)

    @property
    def script(self) -> Script:
        return self.run.script

    @property
    def token_wanted(self) -> str | None:
        spec = self.script.preflight
        return spec.token_serial or spec.token_label

    @property
    def pin_wanted(self) -> str | None:
        """The token whose PIN opens the ceremony's store (None: no PIN is asked)."""
        return None if keeps_blobs(self.script.preflight.token_store) else self.token_wanted

    @property
    def needs_store(self) -> bool:
        return self.token_wanted is not None or keeps_blobs(self.script.preflight.token_store)

    def close(self) -> None:
        store, self.store, self.info = self.store, None, None
        if store is not None:
            store.close()

    # ----- state --------------------------------------------------------------------------------

    def state(self) -> RunState:
        records = self.run.records()
        done = {r["step"] for r in records if r["type"] == "step"}
        preflight_done = any(r["type"] == "preflight" and r["data"].get("passed")
                             for r in records)
        nxt = next((s for s in self.script.steps if s.id not in done), None)
        row = self.run.row
        return RunState(row.id, self.script.name, self.script.purpose, Path(row.folder),
                        self.run.out, preflight_done, self.pin_wanted,
                        self.store is not None or not self.needs_store,
                        None if nxt is None else self._view(nxt), len(done),
                        len(self.script.steps), any(r["type"] == "end" for r in records))

    def _view(self, step: Step) -> StepView:
        people, needed = self.run.confirmers_needed(step)
        witness = self.script.role_of_kind("witness")
        witnesses = () if witness is None or step.role == witness.id else witness.operators
        keys = {n: has_security_key(self.vault, n) for n in (*people, *witnesses)}
        return StepView(step, self.script.steps.index(step) + 1, len(self.script.steps),
                        self.script.roles[step.role], tuple(people), needed, tuple(witnesses),
                        keys)

    def witnesses(self) -> dict[str, bool]:
        witness = self.script.role_of_kind("witness")
        names = () if witness is None else witness.operators
        return {n: has_security_key(self.vault, n) for n in names}

    # ----- preflight ----------------------------------------------------------------------------

    def check(self) -> tuple[list[Finding], EndpointRun]:
        """The preflight's findings now (nothing recorded), the token listed without a PIN."""
        now = self.env.now(self.vault)
        checks = newest_checks(self.vault, now)
        spec = self.script.preflight
        tokens = ((lambda: [self.info]) if self.info is not None
                  else (lambda: self.env.list_tokens(spec.token_store)))
        found = ceremony_preflight.run_all(
            spec, folder=self.run.out, now=now, check_results=checks.results,
            tokens=tokens if self.token_wanted else None, proc_root=self.env.proc_root,
            interfaces=self.env.interfaces)
        return found, checks

    def inputs(self) -> list[tuple[str, bool]]:
        """Each input file the steps read, and whether it is in the output folder yet."""
        return [(name, (self.run.out / name).is_file()) for name in input_files(self.script)]

    def open_token(self, pin: str) -> None:
        if not self.needs_store or self.store is not None:
            return
        self.info, self.store = self.env.open_token(self.script.preflight.token_store,
                                                    self.token_wanted, pin or None, self.vault)

    def preflight(self, exceptions: Mapping[str, tuple[str, Approval]],
                  clock: Approval | None) -> list[Finding]:
        """Record the preflight with the witness's exceptions and their confirmation of the
        clock (Refused if a check fails that none covers)."""
        now = self.env.now(self.vault)
        checks = newest_checks(self.vault, now)
        info = self.info
        return self.run.preflight(
            check_results=checks.results, tokens=(lambda: [info]) if info is not None else None,
            exceptions=exceptions, proc_root=self.env.proc_root,
            interfaces=self.env.interfaces, now=now, clock_confirmation=clock)

    # ----- confirmations and steps ----------------------------------------------------------------

    def unlocker(self, secret: KeyslotUnlocker | None, prompts: Prompts | None) -> Any:
        """The person's passphrase unlocker, or (None) their security key."""
        if secret is not None:
            return secret
        return HardwareUnlocker(self.env.sources(FIDO2), self.vault.vault_id, prompts=prompts)

    def approve(self, operation: str, what: str, name: str, secret: KeyslotUnlocker | None,
                prompts: Prompts | None, cancel: threading.Event, status: Status) -> Approval:
        """``name``'s own approval of ``operation`` on this run's ``what`` (a step id, or
        "ceremony"): Argon2id on their passphrase keyslot, or a touch of their security key."""
        return approvals.approve(self.vault, operation, runner.target(self.run.row.id, what),
                                 name, self.unlocker(secret, prompts), cancel=cancel,
                                 on_status=status)

    def run_step(self, step_id: str, confirmations: Sequence[Approval],
                 show: Callable[[Sequence[IssuedShare]], None],
                 ask: Callable[[str], str]) -> dict[str, Any]:
        step = next((s for s in self.script.steps if s.id == step_id), None)
        if step is None:
            raise NotFound(f"no step {step_id!r} in this ceremony")
        ctx = StepContext(self.run.out, self.env.now(self.vault), self.store, self.info,
                          extra={"lint_exceptions": self.lint_exceptions(step_id)})
        record = self.run.run_step(step, confirmations, ctx, show_shares=show, ask_share=ask)
        data: dict[str, Any] = record["data"]
        return data

    def lint_exceptions(self, step_id: str) -> dict[str, dict[str, Any]]:
        """The witness's exceptions at this step, by each lint code their text names (a step
        whose certificate fails its lint runs again with them: app/ceremony/actions.py)."""
        found: dict[str, dict[str, Any]] = {}
        for record in self.run.records():
            if record["type"] == "exception" and record["step"] == step_id:
                for code in LINT_CODE.findall(str(record["data"].get("text", ""))):
                    found[code] = record
        return found

    def record_exception(self, text: str, approval: Approval, step: str | None) -> None:
        self.run.record_exception(text, approval, step)

    # ----- the end --------------------------------------------------------------------------------

    def finish(self) -> FinishState:
        """The end record, and the ceremony key's signature when the script asks for one."""
        if self.transcript is None:
            self.transcript = self.run.finish()
        label = self.script.sign_with
        if label and not self.key_signature:
            self.key_signature = self._sign_with_key(label)
        return self.finish_state()

    def _sign_with_key(self, label: str) -> str:
        assert self.transcript is not None  # noqa: S101 - finish() made it
        if self.store is None:
            return f"{label} did not sign: its token is not open"
        key = next((k for k in self.store.list_keys() if k.label == label), None)
        if key is None:
            return f"{label} did not sign: it is not on the token"
        signing.sign_head_with_key(self.store, key, self.transcript)
        return f"{label} signed the head on the token"

    def signers(self) -> tuple[Signer, ...]:
        signed = {(s.role, s.operator) for s in (self.transcript.signatures if self.transcript
                                                 else ()) if isinstance(s, Fido2Signature)}
        out = []
        for kind in ("ceremony-administrator", "witness"):
            role = self.script.role_of_kind(kind)
            for name in role.operators if role is not None else ():
                out.append(Signer(role.id, name, has_security_key(self.vault, name),
                                  (role.id, name) in signed))
        return tuple(out)

    def finish_state(self) -> FinishState:
        assert self.transcript is not None  # noqa: S101 - after finish()
        return FinishState(self.transcript.head, self.signers(), self.key_signature, self.saved,
                           self.report)

    def sign(self, name: str, role: str, prompts: Prompts | None, cancel: threading.Event,
             status: Status) -> FinishState:
        if self.transcript is None:
            raise Refused("the ceremony has not ended")
        unlocker = HardwareUnlocker(self.env.sources(FIDO2), self.vault.vault_id,
                                    prompts=prompts)
        signing.sign_head_with_fido2(self.vault, self.transcript, name, role, unlocker,
                                     cancel=cancel, on_status=status)
        return self.finish_state()

    def save(self) -> FinishState:
        """The transcript as JSON and as the binder's PDF in the run folder, verified first."""
        if self.transcript is None:
            raise Refused("the ceremony has not ended")
        folder = Path(self.run.row.folder)
        self.report = verify.verify(self.transcript, self.run.out)
        self.transcript.save(folder / TRANSCRIPT)
        transcript_pdf.save_pdf(self.transcript, folder / PDF, report=self.report,
                                generated=self.env.now(self.vault).astimezone(dt.UTC)
                                .isoformat(timespec="seconds"))
        self.saved = (folder / TRANSCRIPT, folder / PDF)
        return self.finish_state()
