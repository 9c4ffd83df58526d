"""Exporting secrets: choose them, read them as one audited and approved batch, place the file.

An export is planned first (:func:`plan`): the secrets matching the filters (what ``secret list``
shows the acting operator), the target one approval covers for the whole batch
(``export:<format>:<SHA-256 of the sorted names>``), and which of them the policy makes
two-person (``secret.export``, Critical by default). :func:`run` then reads every value with
purpose "export" in one transaction (a ``secret.export`` event each; the approval checked and
spent once), encodes them (KDBX or archive), writes the file atomically with mode 0600 (an
existing file is replaced only with ``force``) and records one ``secret.export.file`` event with
the format, count, filters and the file's SHA-256 — never a value.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..access import approvals, enforce, health_gate
from ..access import policy as access_policy
from ..access.approvals import Approval
from ..audit import Outcome
from ..errors import AccessDenied, AlreadyExists, NotFound, StrongroomError
from ..fsutil import fsync_dir, storage_error, write_temp
from ..model import Classification, SecretInfo
from ..vault.secrets import _checked_info, list_secrets

if TYPE_CHECKING:
    from ..vault.session import VaultSession

OPERATION = "secret.export"
FILE_EVENT = "secret.export.file"
FILE_MODE = 0o600


@dataclass(frozen=True)
class Filters:
    """Which secrets go out: like ``secret list`` (all of them when nothing is set)."""

    classification: Classification | None = None
    tag: str | None = None
    search: str | None = None

    def to_json(self) -> dict[str, str]:
        out = {"classification": self.classification.value if self.classification else None,
               "tag": self.tag, "search": self.search}
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class ExportPlan:
    """What an export will read, and what a second operator approves (``target``)."""

    format: str
    filters: Filters
    secrets: tuple[SecretInfo, ...]
    target: str
    two_person: tuple[str, ...]  # names whose export the policy makes a two-person operation

    @property
    def operation(self) -> str:
        return OPERATION


@dataclass(frozen=True)
class ExportedSecret:
    """One secret as read for an export: its metadata and its stored bytes."""

    info: SecretInfo
    value: bytes = field(repr=False)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    count: int
    sha256: str
    size: int
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"file": str(self.path), "format": self.format, "count": self.count,
                "sha256": self.sha256, "size": self.size, "warnings": list(self.warnings)}


# Encodes the secrets read into the file's bytes, with warnings (one sentence each).
Encoder = Callable[[Sequence[ExportedSecret]], tuple[bytes, tuple[str, ...]]]


def approval_target(format: str, names: Sequence[str]) -> str:
    """The target a batch approval is bound to: the format and exactly these names."""
    digest = hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()
    return f"export:{format}:{digest}"


def plan(vault: VaultSession, format: str, filters: Filters | None = None) -> ExportPlan:
    """The secrets an export of ``format`` would take; NotFound when nothing matches."""
    filters = filters or Filters()
    infos = tuple(list_secrets(vault, search=filters.search,
                               classification=filters.classification, tag=filters.tag))
    if not infos:
        raise NotFound("no secret matches the filters; nothing was exported")
    with vault._read() as conn:
        rule = access_policy.load(conn)
    two_person = tuple(i.name for i in infos
                       if rule.critical(OPERATION, level=i.classification.value))
    return ExportPlan(format, filters, infos, approval_target(format, [i.name for i in infos]),
                      two_person)


@enforce.denials_audited
def read_batch(vault: VaultSession, export: ExportPlan, approval: Approval | None = None
               ) -> list[ExportedSecret]:
    """Every planned value, read with purpose "export" in one transaction: all or none."""
    out: list[ExportedSecret] = []
    with vault._write() as conn:
        rule = access_policy.load(conn)
        infos = [_checked_info(vault, i.name, "read") for i in export.secrets]
        gated = [i.name for i in infos if rule.critical(OPERATION, level=i.classification.value)]
        try:
            extra = approvals.check(vault, conn, OPERATION, export.target, approval,
                                    critical=bool(gated))
        except AccessDenied as e:
            raise _batch_refusal(e, gated) from None
        for n, info in enumerate(infos):
            details: dict[str, Any] = {"version": info.version, "export": export.target}
            if info.name in gated or (n == 0 and not gated):
                details |= extra  # the approval, where it was needed (or once when given)
            details |= health_gate.check(vault, conn, rule, target=info.name,
                                         level=info.classification.value)
            value = vault._deks.decrypt_version(info.name, info.id, info.version)
            vault._event(OPERATION, info.name, details=details)
            out.append(ExportedSecret(info, value))
    return out


def _batch_refusal(e: AccessDenied, gated: Sequence[str]) -> AccessDenied:
    """The two-person refusal worded for a batch: how many, and which, need the approval."""
    message = str(e)
    single = access_policy.describe(OPERATION)
    if gated and message.startswith(single):
        shown = ", ".join(gated[:5]) + (f" and {len(gated) - 5} more" if len(gated) > 5 else "")
        message = f"Exporting {shown} ({len(gated)} secret(s))" + message[len(single):]
    refusal = AccessDenied(message, target=e.target,
                           details={**e.details, "two_person_secrets": len(gated)})
    return refusal


def refuse_existing(path: Path, force: bool) -> None:
    """An output file that exists is kept unless ``force`` (said before anything is read)."""
    if not force and (path.exists() or path.is_symlink()):
        raise AlreadyExists(f"{path} already exists; choose a new file name or give --force")


def write_file(path: Path, data: bytes, *, force: bool) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600: a fsynced temp file beside it,
    then a rename (``force``) or a hard link that fails if the name was taken meanwhile."""
    refuse_existing(path, force)
    tmp = write_temp(path, data, FILE_MODE)
    try:
        if force:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
        fsync_dir(path.parent)
    except OSError as e:
        raise storage_error(e, path.name) from e
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _link_new(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise AlreadyExists(f"{path} already exists; choose a new file name or give --force"
                            ) from None
    except OSError as e:  # a file system without hard links: check, then rename
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        refuse_existing(path, False)
        os.replace(tmp, path)


def run(vault: VaultSession, export: ExportPlan, path: Path, encode: Encoder, *,
        approval: Approval | None = None, force: bool = False) -> ExportResult:
    """Read, encode and write one export; the ``secret.export.file`` event says how it ended."""
    refuse_existing(path, force)
    exported = read_batch(vault, export, approval)
    details: dict[str, Any] = {"format": export.format, "count": len(exported),
                               "filters": export.filters.to_json(), "export": export.target}
    if approval is not None:
        details["approver"] = approval.approver
    try:
        data, warnings = encode(exported)
        details |= {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                    "warnings": len(warnings)}
        write_file(path, data, force=force)
    except StrongroomError as e:
        vault.record(FILE_EVENT, str(path.absolute()), Outcome.Failed,
                     {**details, "reason": str(e)})
        raise
    vault.record(FILE_EVENT, str(path.absolute()), Outcome.Ok, details)
    return ExportResult(path, export.format, len(exported), details["sha256"], len(data),
                        warnings)
