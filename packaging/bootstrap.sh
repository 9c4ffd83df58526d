#!/usr/bin/env bash
# Installs the Debian packages that Strongroom's set-up and test suite need — only those missing,
# so a repeat run installs nothing, needs no network and takes a fraction of a second.
# `make run` / `make test` call it; on a machine without make, run it first: it installs make too.
set -euo pipefail

PYTHON=${PYTHON:-python3}

# The one list of system packages. An entry is "package" (installed when `dpkg -s` says it is
# not) or "package|probe" (installed when the shell command `probe` fails). Add new needs here.
PACKAGES=(
    "python3-venv|$PYTHON -c 'import ensurepip, venv'"  # `python3 -m venv`: Debian ships ensurepip apart
    "make|command -v make"                              # the Makefile itself
    "util-linux"                                        # unshare(1) and friends
    "iproute2"                                          # ip(8): the ceremony preflight test's netns
    "mount"                                             # mount(8), for the tmpfs disk-full test
    # Qt (PySide6) offscreen and on X11 (xcb plugin), and the Xvfb screenshot test
    libgl1 libegl1 libfontconfig1 fonts-dejavu-core libglib2.0-0 libdbus-1-3 libxkbcommon0
    libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
    libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libxcb-sync1
    libxcb-shm0 libxcb-util1 xvfb xauth
    # hardware backends: tpm2-pytss builds from its sdist against libtss2 (pkg-config finds it)
    libtss2-dev pkg-config gcc python3-dev
    # real parts in the tests: SoftHSM2 (PKCS#11), OpenSC's pkcs11-tool, the swtpm TPM simulator
    # and tpm2-tools, and the openssl command to check CSRs and signatures
    softhsm2 opensc swtpm swtpm-tools tpm2-tools openssl
    # the PDF report tests validate the files with qpdf --check and poppler's pdftotext/pdfinfo
    qpdf poppler-utils
    # Linux desktop integration, validated in the suite (tests/test_packaging.py): the .desktop
    # file (desktop-file-validate) and the AppStream metainfo (appstreamcli)
    desktop-file-utils appstream
    keepassxc  # keepassxc-cli: KDBX interop tests
    # make bench-compare: Lynis beside `strongroom check`, GNU time for a child's peak RSS,
    # xwininfo (x11-utils) to see the GUIs' first windows under Xvfb
    lynis time x11-utils
    # audit forwarding: a real syslog receiver the tests start on loopback with their own config,
    # TLS through GnuTLS
    rsyslog rsyslog-gnutls
)

missing_now() {
    local entry pkg probe
    for entry in "${PACKAGES[@]}"; do
        pkg=${entry%%|*}
        if [[ $entry == *"|"* ]]; then
            probe=${entry#*|}
            bash -c "$probe" >/dev/null 2>&1 || echo "$pkg"
        elif ! dpkg -s "$pkg" 2>/dev/null | grep -qx 'Status: install ok installed'; then
            echo "$pkg"
        fi
    done
}

mapfile -t missing < <(missing_now)
if ((${#missing[@]} == 0)); then
    echo "system packages: all present"
    exit 0
fi

echo "system packages: installing ${missing[*]}"
if ! command -v apt-get >/dev/null; then
    echo "error: no apt-get here; install the equivalents of: ${missing[*]}" >&2
    exit 1
fi
as_root=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        as_root=(sudo -n)
    else
        echo "error: need root to run: apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

mapfile -t still < <(missing_now)
if ((${#still[@]} != 0)); then
    # e.g. a python3 that is not Debian's (pyenv, a source build) and was built without ensurepip
    echo "error: still missing after apt-get install: ${still[*]} (python: $(command -v "$PYTHON" || echo none))" >&2
    exit 1
fi
