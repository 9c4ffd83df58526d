"""A child process for the ceremony crash test, run in a network namespace of its own (``unshare
-n``: really offline, so the preflight passes as it would on the ceremony laptop): it runs the
root-CA script in a vault and kills itself (SIGKILL, no cleanup) in the middle of one step,
after the step's certificate is written and before its record is kept.

Usage: ``python ceremony_child.py VAULT_DIR FOLDER TOKEN_LABEL PIN STEP`` with the passphrases as
lines on stdin: the administrator's, then ``name=passphrase`` for each other person. Prints the
ceremony id (flushed) once the run has started.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from strongroom.app.access import approvals
from strongroom.app.ceremony import actions, runner, script
from strongroom.app.ceremony.actions import StepContext
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keyslots import PassphraseUnlocker
from strongroom.app.vault import Vault

SCRIPT = Path(__file__).resolve().parents[2] / "resources" / "ceremonies" / "root-ca.toml"


def main() -> None:
    vault_dir, folder, label, pin, die_at = sys.argv[1:6]
    admin = sys.stdin.readline().rstrip("\n")
    secrets = dict(line.rstrip("\n").split("=", 1) for line in sys.stdin if "=" in line)
    vault = Vault.open(Path(vault_dir))
    vault.unlock(PassphraseUnlocker.from_text(admin))
    parsed = script.parse(SCRIPT.read_text().replace('label = "root-hsm"', f'label = "{label}"'))
    run = runner.CeremonyRun.start(vault, parsed, Path(folder))
    print(run.row.id, flush=True)

    def approve(operation: str, what: str, name: str) -> approvals.Approval:
        return approvals.approve(vault, operation, runner.target(run.row.id, what), name,
                                 PassphraseUnlocker.from_text(secrets[name]))

    token, store = key_tokens.open_store("pkcs11", token=label, pin=pin)
    run.preflight(check_results={"disk-encryption": "PASS", "screen-lock": "PASS"},
                  tokens=lambda: [token],
                  clock_confirmation=approve(runner.CLOCK_OPERATION, "clock", "carol"))
    real_write = actions._write

    def write_then_die(ctx: StepContext, name: str, data: bytes) -> dict:
        written = real_write(ctx, name, data)
        if step.id == die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return written

    actions._write = write_then_die  # type: ignore[assignment]
    while (step := run.next_step()) is not None:
        role = run.script.roles[step.role]
        people = ["bob", "dave"] if role.kind == "crypto-officer" else ["alice"]
        confirmations = [approve(runner.STEP_OPERATION, step.id, p) for p in (*people, "carol")]
        run.run_step(step, confirmations, StepContext(run.out, vault.clock.now(), store, token))
    print("finished without dying", file=sys.stderr)


if __name__ == "__main__":
    main()
