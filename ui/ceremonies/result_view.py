"""A step's result as its record keeps it: who confirmed it, each key's fingerprint and each
output file's SHA-256 as grouped hex and PGP words in large type, a certificate's facts, the
share set made or checked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QVBoxLayout, QWidget

from .env import as_text
from .look import STEP_SCALE, Fingerprint, empty, label


class ResultView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lay = QVBoxLayout(self)
        self.lay.setContentsMargins(0, 0, 0, 0)
        self.fingerprints: list[Fingerprint] = []

    def clear(self) -> None:
        self.fingerprints.clear()
        empty(self.lay)

    def show_data(self, data: Mapping[str, Any]) -> None:
        self.clear()
        who = data.get("confirmed_by")
        if isinstance(who, dict):
            witness = f"; witness {who['witness']}" if who.get("witness") else ""
            self._line(f"Confirmed by {as_text(who.get('role', []))}{witness}.", role="ok")
        key = data.get("key")
        if isinstance(key, dict):
            self._print(f"Key {key['label']} ({key['algorithm']}): SHA-256 of its public key",
                        key["fingerprint"], key.get("words"))
        for item in data.get("inputs", ()):
            self._print(f"Input {item['name']}: SHA-256 ({item['bytes']} bytes)",
                        item["sha256"], item.get("words"))
        for item in data.get("outputs", ()):
            self._print(f"Written {item['name']}: SHA-256 ({item['bytes']} bytes)",
                        item["sha256"], item.get("words"))
        file = data.get("file")
        if isinstance(file, dict):
            self._print(f"{file['name']}: SHA-256 ({file['bytes']} bytes)", file["sha256"],
                        file.get("words"))
        cert = data.get("certificate")
        if isinstance(cert, dict):
            self._line(f"Certificate: subject {cert['subject']}; issuer {cert['issuer']}; "
                       f"serial {cert['serial']}; valid {cert['not_before'][:10]} to "
                       f"{cert['not_after'][:10]}.")
        lint = data.get("lint")
        if isinstance(lint, dict):
            accepted = [str(a.get("code")) for a in lint.get("accepted", [])]
            self._line(f"Lint ({lint.get('profile')}): {len(lint.get('errors', []))} error(s), "
                       f"{len(lint.get('warnings', []))} warning(s)"
                       + (f"; accepted by the witness: {', '.join(accepted)}" if accepted
                          else "") + ".", role="warning" if lint.get("errors") else "")
        if "commitments" in data:
            self._line(f"Share set {data['set']}: {data['threshold']} of {data['count']} "
                       f"shares, one each for {as_text(data['custodians'])}. Only commitments "
                       "were kept; the shares were shown once.")
        if "verified" in data:
            self._line(f"Checked against share set {data['set']}: {as_text(data['verified'])} "
                       "hold their shares.")
        if set(data) <= {"confirmed_by", "kind", "role", "text"}:
            self._line("Done.")

    def _print(self, title: str, digest: str, words: Any) -> None:
        made = Fingerprint(title, digest, words=list(words) if isinstance(words, list) else None)
        self.fingerprints.append(made)
        self.lay.addWidget(made)

    def _line(self, text: str, role: str = "") -> None:
        self.lay.addWidget(label(text, scale=STEP_SCALE, role=role, selectable=True))
