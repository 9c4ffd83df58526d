"""A ceremony transcript as a PDF for the binder: the ceremony, who filled each role, every record,
the signatures, the final head and the fingerprints, each as grouped hex to compare by eye and as
PGP words to read aloud."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import StrongroomError
from ..keys.fingerprints import fingerprint_words, grouped_hex
from ..reports.pdf import PdfReport
from . import script as ceremony_script
from .transcript import Fido2Signature, Transcript
from .verify import VerifyReport

SUMMARY_CHARS = 400
VALUE_CHARS = 80


def render(transcript: Transcript, *, generated: str,
           report: VerifyReport | None = None) -> PdfReport:
    """The transcript laid out as a report; ``report`` (a verification) is shown when given."""
    c = transcript.ceremony
    pdf = PdfReport(f"Ceremony transcript: {c.name}", generated=generated)
    fields = [("Ceremony", c.id), ("Vault", c.vault_id), ("Started", c.started),
              ("Records", str(len(transcript.records))),
              ("Script SHA-256", grouped_hex(c.script_sha256)),
              ("Final head", grouped_hex(transcript.head))]
    if report is not None:
        fields.append(("Verification", "verified: " + (
            f"{report.records} records, {report.signatures_checked} signatures, "
            f"{report.files_checked} files" if report.ok else f"FAILED: {report.first_problem}")))
    pdf.fields(fields)

    pdf.heading("Final head")
    pdf.paragraph("Every signature below is over this value. Read it aloud and compare it with "
                  "the head the console shows.")
    pdf.fields([("Hex", grouped_hex(transcript.head)),
                ("PGP words", " ".join(fingerprint_words(transcript.head)))])

    pdf.heading("Roles")
    kinds = _role_kinds(c.script)
    pdf.table(["Role", "Kind", "Filled by"],
              [[role, kinds.get(role, "?"), ", ".join(people)]
               for role, people in c.roles.items()], widths=[1, 1.4, 2.6])

    pdf.heading("Records")
    pdf.table(["Seq", "Time", "Type", "Step", "Actor", "Data"],
              [[str(r.seq), r.ts, r.type.value, r.step or "", r.actor or "", summary(r.data)]
               for r in transcript.records], widths=[0.5, 1.6, 1, 1.1, 0.9, 4])

    pdf.heading("Signatures")
    rows = []
    for s in transcript.signatures:
        over = "yes" if s.head == transcript.head else f"NO: {grouped_hex(s.head)}"
        if isinstance(s, Fido2Signature):
            rows.append([s.role, s.operator, "FIDO2 assertion", over])
        else:
            rows.append(["key", s.key, f"{s.algorithm} on the token", over])
    pdf.table(["Role", "Signer", "Method", "Over the final head"], rows, widths=[1, 1.2, 1.6, 2])

    pdf.heading("Fingerprints")
    pdf.paragraph("SHA-256 of each public key (DER SubjectPublicKeyInfo) and of the script.")
    prints = [(f"{name} (security key)", k.spki) for name, k in transcript.operator_keys.items()]
    prints += [(f"{label} (ceremony key)", spki)
               for label, spki in transcript.ceremony_keys.items()]
    rows = [[what, grouped_hex(digest), " ".join(fingerprint_words(digest))]
            for what, digest in [(w, hashlib.sha256(d).hexdigest()) for w, d in prints]
            + [("Script", c.script_sha256)]]
    pdf.table(["Key", "SHA-256", "PGP words"], rows, widths=[1.2, 2, 3])
    return pdf


def save_pdf(transcript: Transcript, path: Path | str, *, generated: str,
             report: VerifyReport | None = None) -> None:
    """Write the transcript's PDF atomically."""
    render(transcript, generated=generated, report=report).save(path)


def summary(data: Mapping[str, Any]) -> str:
    """A record's data on one line: ``key: value; …``, long values and the whole cut short."""
    parts = []
    for key in sorted(data):
        value = data[key]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False,
                                                                separators=(",", ":"))
        parts.append(f"{key}: {_cut(text, VALUE_CHARS)}")
    return _cut("; ".join(parts), SUMMARY_CHARS)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _role_kinds(script: str) -> dict[str, str]:
    try:
        return {r.id: r.kind for r in ceremony_script.parse(script).roles.values()}
    except (StrongroomError, RecursionError, ValueError):
        return {}
