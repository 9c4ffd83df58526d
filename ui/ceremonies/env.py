"""What the Ceremonies section reads of the world, as one seam (the machine's interfaces and
routes, the tokens, the security keys, the clock) and the reads it makes in the task runner: the
shipped scripts, the vault's operators, the newest endpoint check run. No Qt here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from strongroom.app.access import operators
from strongroom.app.ceremony import script as ceremony_script
from strongroom.app.ceremony.script import Problem, Script, ScriptInvalid
from strongroom.app.compliance import storage
from strongroom.app.errors import StrongroomError
from strongroom.app.keys import tokens as key_tokens
from strongroom.app.keys.ports import KeyStore, TokenInfo
from strongroom.app.unlock_methods import SlotKind, SlotSecretSource, load_source
from strongroom.app.vault import Vault

FRESH_CHECKS = dt.timedelta(hours=24)  # an older check run is not this machine's state now
FIDO2 = SlotKind.Fido2.value
People = dict[str, tuple[str, bool, tuple[str, ...]]]  # casefolded name -> (name, active, roles)


def _list_tokens(store: str) -> list[TokenInfo]:
    return key_tokens.find_tokens(key_tokens.load_provider(store))


def _open_token(store: str, token: str | None, pin: str | None,
                vault: Vault) -> tuple[TokenInfo, KeyStore]:
    """The token logged in with ``pin``, or (a store whose key blobs the vault keeps: the
    TPM) opened with the vault for its blobs."""
    if key_tokens.kind_of(store).keeps_blobs_in_vault:
        return key_tokens.open_store(store, token=token, blobs=vault)
    return key_tokens.open_store(store, token=token, pin=pin)


def keeps_blobs(store: str) -> bool:
    """Whether ``store`` opens without a PIN, its keys' blobs kept in the vault (the TPM)."""
    try:
        return key_tokens.kind_of(store).keeps_blobs_in_vault
    except StrongroomError:
        return False


@dataclass
class Environment:
    """The real machine by default; tests give fake interfaces and a /proc of their own."""

    interfaces: Callable[[], list[tuple[str, int]]] | None = None  # None: ask the kernel
    proc_root: Path = Path("/proc")
    sources: Callable[[str], SlotSecretSource] = load_source  # kind -> security-key backend
    list_tokens: Callable[[str], list[TokenInfo]] = _list_tokens
    open_token: Callable[[str, str | None, str | None, Vault], tuple[TokenInfo, KeyStore]] = (
        _open_token)
    now: Callable[[Vault], dt.datetime] = field(default=lambda vault: vault.clock.now())


# ----- the library ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """A script in the library: its text, and the script or the problems that stop it parsing."""

    name: str  # the file's name
    origin: str  # "shipped" or the path it was opened from
    text: str
    script: Script | None
    problems: tuple[Problem, ...] = ()

    @property
    def title(self) -> str:
        return self.script.name if self.script is not None else self.name


def entry(name: str, origin: str, text: str) -> Entry:
    try:
        return Entry(name, origin, text, ceremony_script.parse(text, name))
    except ScriptInvalid as e:
        return Entry(name, origin, text, None, tuple(e.problems))


def shipped() -> list[Entry]:
    """The scripts shipped in strongroom.resources/ceremonies, by file name."""
    folder = resources.files("strongroom.resources").joinpath("ceremonies")
    found = sorted((f for f in folder.iterdir() if f.name.endswith(".toml")),
                   key=lambda f: f.name)
    return [entry(f.name, "shipped", f.read_text(encoding="utf-8")) for f in found]


def opened(path: Path) -> Entry:
    """A script file chosen by the user (UsageError when it cannot be read as text)."""
    try:
        loaded = ceremony_script.load(path)
    except ScriptInvalid as e:
        return Entry(path.name, str(path), path.read_text(encoding="utf-8"), None,
                     tuple(e.problems))
    return Entry(path.name, str(path), loaded.text, loaded)


def people(vault: Vault) -> People:
    """The vault's operators, for checking a script's roles against them."""
    with vault._read() as conn:
        return {o.name.casefold(): (o.name, o.active, o.roles)
                for o in operators.all_operators(conn)}


def validate(item: Entry, found: People | None) -> list[Problem]:
    """Every problem of the script with its line; with the vault's operators, theirs too."""
    if item.script is None:
        return list(item.problems)
    return ceremony_script.check_operators(item.script, found) if found is not None else []


def holders_of(found: People, strongroom_role: str) -> list[str]:
    """The active operators holding ``strongroom_role``."""
    return sorted(n for n, active, roles in found.values() if active and strongroom_role in roles)


# ----- what the preflight reads --------------------------------------------------------------


@dataclass(frozen=True)
class EndpointRun:
    """The newest endpoint check run, when it is recent enough to speak for this machine."""

    results: dict[str, str]
    note: str


def newest_checks(vault: Vault, now: dt.datetime) -> EndpointRun:
    latest = storage.runs(vault, 1)
    if not latest:
        return EndpointRun({}, "No endpoint check run is stored: run Compliance → Run now first.")
    run = latest[0]
    when = dt.datetime.fromisoformat(str(run["ts"]).replace("Z", "+00:00"))
    if now - when >= FRESH_CHECKS:
        return EndpointRun({}, f"The newest endpoint check run is from {run['ts'][:16]}, more "
                               "than 24 hours ago: run Compliance → Run now again.")
    return EndpointRun({r["check_id"]: r["status"] for r in run["results"]},
                       f"Endpoint checks from the check run of {run['ts'][:16].replace('T', ' ')}.")


INPUT_PARAMS = ("file", "input", "issuer", "csr")


def input_files(script: Script) -> list[str]:
    """The files steps read that no earlier step writes: brought into the output folder before
    the first step."""
    written: set[str] = set()
    found: list[str] = []
    for step in script.steps:
        for key in INPUT_PARAMS:
            name = step.params.get(key)
            if isinstance(name, str) and name not in written and name not in found:
                found.append(name)
        if isinstance(step.params.get("output"), str):
            written.add(step.params["output"])
    return found


def has_security_key(vault: Vault, name: str) -> bool:
    """Whether operator ``name`` has a FIDO2 keyslot of their own."""
    ref = vault.header.operator_named(name)
    return ref is not None and any(s.operator == ref.id and s.kind == FIDO2
                                   for s in vault.header.slots)


def describe_error(error: BaseException) -> str:
    """A refused script or transcript as one line (the others: their message)."""
    if isinstance(error, ScriptInvalid):
        return "; ".join(str(p) for p in error.problems[:3])
    return str(error) if isinstance(error, StrongroomError) else type(error).__name__


def role_line(script: Script, role_id: str, found: People | None = None) -> str:
    """"officers — crypto-officer, 2 of bob, dave, erin" (and who in the vault may fill it)."""
    role = script.roles[role_id]
    people_text = ", ".join(role.operators)
    quorum = f"{role.quorum} of " if role.kind == "crypto-officer" else ""
    line = f"{role.id} — {role.kind}: {quorum}{people_text}"
    if found is not None:
        may = holders_of(found, role.strongroom_role)
        line += f" (in this vault, {role.strongroom_role}: {', '.join(may) or 'nobody'})"
    return line


def as_text(value: Any) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)


def describe(step: Any, script: Script) -> str:
    """What a step does, in a sentence to read aloud (an instruction: its own text)."""
    p = step.params
    if "text" in p:
        return str(p["text"])
    usage = f", key usage {as_text(p['key_usage'])}" if p.get("key_usage") else ""
    length = f", path length {p['path_length']}" if "path_length" in p else ""
    if step.kind == "generate-key":
        return f"Generate the key {p['label']} ({p['type']}) on the token; it never leaves it."
    if step.kind == "export-public-key":
        return f"Export the public key of {p['key']} to {p['output']}."
    if step.kind == "create-csr":
        return (f"Make a certificate signing request for {p['key']}, subject {p['subject']}, "
                f"written to {p['output']}.")
    if step.kind == "self-signed-root":
        return (f"Issue the self-signed root certificate of {p['key']}: subject {p['subject']}, "
                f"valid {p['days']} days{length}{usage}; written to {p['output']}.")
    if step.kind == "issue-certificate":
        kind = "a CA certificate" if p.get("ca") else "a certificate"
        return (f"Issue {kind} for the request {p['csr']} with {p['key']} (issuer "
                f"{p['issuer']}), valid {p['days']} days{length}{usage}; written to "
                f"{p['output']}.")
    if step.kind == "sign-file":
        return f"Sign {p['input']} with {p['key']}; the signature is written to {p['output']}."
    if step.kind == "show-fingerprint":
        what = f"the key {p['key']}" if "key" in p else f"the file {p.get('file')}"
        return (f"Show the fingerprint of {what}. Read it aloud; everyone compares it with "
                "their copy.")
    if step.kind == "create-shares":
        role = script.roles.get(p["custodians"])
        names = as_text(role.operators) if role is not None else p["custodians"]
        return (f"Split the vault's recovery key into shares, one each for {names}; any "
                f"{p['threshold']} of them open the vault. Each share is shown once, to its "
                "custodian alone.")
    if step.kind == "verify-shares":
        return "Each custodian types their share to prove they wrote it down correctly."
    return step.title
