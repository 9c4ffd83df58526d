"""A real SoftHSM2 for tests: one private config and token directory per test session.

Use it from any test module (PKCS#11 backend, CLI, console) with::

    from helpers.softhsm import softhsm  # noqa: F401   (a session-scoped fixture)

    def test_x(softhsm):
        softhsm.module      # the SoftHSM2 library path to hand to Strongroom / pkcs11-tool
        softhsm.label       # the token initialised for the session ("strongroom-test")
        softhsm.pin, softhsm.so_pin
        softhsm.take_token()  # the label of a fresh pre-made token, yours alone
        softhsm.add_token("other")   # initialise another token: NEW PROCESSES ONLY (see below)
        softhsm.env         # {"SOFTHSM2_CONF": ...} for subprocesses (already in os.environ)

The fixture sets ``os.environ["SOFTHSM2_CONF"]`` (subprocesses inherit it). SoftHSM2 reads its
config and its token list once, at ``C_Initialize``, and python-pkcs11 caches a loaded library
per path, so:

* if SoftHSM2 was loaded earlier in this process (say, by module detection in another test), the
  fixture re-initialises it (C_Finalize + C_Initialize on the module's worker thread) so it reads
  this config; sessions opened before that are lost;
* a token ``add_token`` creates later is seen by new processes (the CLI, pkcs11-tool) but not by
  this one: in-process tests take one of the ``SPARE_TOKENS`` tokens made up front with
  ``take_token()``.

Tokens persist for the session; a test that damages a token (deletes it) must use its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SOFTHSM_MODULES = ("/usr/lib/softhsm/libsofthsm2.so",
                   "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                   "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
                   "/usr/local/lib/softhsm/libsofthsm2.so")
TOKEN_LABEL = "strongroom-test"
USER_PIN = "246810"
SO_PIN = "13572468"
SPARE_TOKENS = 48


def softhsm_module() -> str | None:
    return next((p for p in SOFTHSM_MODULES if os.path.isfile(p)), None)


@dataclass
class SoftHsm:
    """A running SoftHSM2 setup: its module, config, token directory and the session token."""

    module: str
    conf: Path
    token_dir: Path
    label: str = TOKEN_LABEL
    pin: str = USER_PIN
    so_pin: str = SO_PIN
    labels: list[str] = field(default_factory=list)
    spares: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {"SOFTHSM2_CONF": str(self.conf)}

    def add_token(self, label: str, pin: str = USER_PIN, so_pin: str = SO_PIN) -> str:
        """Initialise another token in a free slot (labels must be unique per session)."""
        if label in self.labels:
            raise ValueError(f"token {label!r} exists already")
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label,
             "--so-pin", so_pin, "--pin", pin],
            env={**os.environ, **self.env}, check=True, capture_output=True,
        )
        self.labels.append(label)
        return label

    def take_token(self) -> str:
        """A pre-made token (same PINs) no other test uses; visible in this process."""
        if not self.spares:
            raise RuntimeError(f"all {SPARE_TOKENS} spare SoftHSM2 tokens are taken: raise "
                               "SPARE_TOKENS in helpers/softhsm.py")
        return self.spares.pop(0)

    def token_path(self, label: str) -> Path:
        """The directory SoftHSM2 keeps ``label``'s objects in (to damage it on purpose). The
        label is stored blank-padded to 32 bytes; a bare substring match would take spare-10's
        directory for spare-1."""
        padded = label.encode().ljust(32, b" ")
        found = [d for d in self.token_dir.iterdir()
                 if (d / "token.object").is_file() and padded in (d / "token.object").read_bytes()]
        if len(found) != 1:
            raise FileNotFoundError(f"{len(found)} token directories hold the label {label!r}")
        return found[0]


def write_conf(conf: Path, token_dir: Path, extra: str = "") -> None:
    conf.write_text(
        f"directories.tokendir = {token_dir}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n" + extra
    )


_active: SoftHsm | None = None


def _reinitialise_if_loaded(module: str) -> None:
    """If something in this process loaded SoftHSM2 before the fixture (say, module detection
    in another test), C_Finalize + C_Initialize it on its worker so it reads our config."""
    try:
        import pkcs11
    except ImportError:
        return
    real = os.path.realpath(module)
    for path in [p for p in pkcs11._loaded if os.path.realpath(p) == real]:
        from strongroom.backends.pkcs11._module import _loaded as backend_modules
        from strongroom.backends.pkcs11._worker import worker_for

        worker_for(path).run(pkcs11._loaded[path].reinitialize)
        stale = backend_modules.get(real)
        if stale is not None:
            stale.logins.clear()
            stale.login_tags.clear()


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    # Each test module that imports this fixture gets its own session-scoped copy of it; they
    # all share one SoftHSM2 (the library reads its config only once per process).
    global _active
    if _active is not None:
        yield _active
        return
    module = softhsm_module()
    if module is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (apt install softhsm2)")
    base = tmp_path_factory.mktemp("softhsm")
    conf, token_dir = base / "softhsm2.conf", base / "tokens"
    token_dir.mkdir()
    write_conf(conf, token_dir)
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    hsm = _active = SoftHsm(module, conf, token_dir)
    hsm.add_token(TOKEN_LABEL)
    for i in range(1, SPARE_TOKENS + 1):
        hsm.spares.append(hsm.add_token(f"spare-{i}"))
    _reinitialise_if_loaded(module)
    try:
        yield hsm
    finally:
        _active = None
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous
