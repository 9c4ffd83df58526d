# Strongroom: set-up, gates, tests. `make help` lists the targets.
# Set-up is idempotent: system packages only if missing, .venv only if absent, the locked install
# only when the lock or pyproject.toml changed (a stamp in .venv), so repeat runs are fast and
# need no network.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REQ := packaging/requirements
RUNTIME_LOCK := $(REQ)/runtime.lock
DEV_LOCK := $(REQ)/dev.lock
STAMP := $(VENV)/.strongroom-installed
PIP_TOOLS := pip-tools==7.6.2
BRIEFCASE_DIR := build/briefcase

# The gates (`make lint`), run in this order; `make test` adds pytest after them.
GATES := ruff mypy bandit locks
ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHON

header = printf '\n==> %s\n' "$(1)"

# Runs each named target in turn, carrying on past a failure, then fails if any step failed.
# Nothing is printed after a passing run, so pytest's summary stays the last line of `make test`.
define run-steps
	failed=""; \
	for step in $(1); do \
		$(MAKE) --no-print-directory -j1 "$$step" || failed="$$failed $$step"; \
	done; \
	if [[ -n $$failed ]]; then $(call header,FAILED:$$failed); exit 1; fi
endef

.PHONY: help setup system-deps run test lint bench bench-signing bench-console bench-compare bench-forward bench-transit bench-remote openbao-cluster soak pytest $(GATES) lock \
	lock-upgrade briefcase-tree briefcase-dev icons clean

help:
	@echo "make run          set up if needed, then open the console (.venv/bin/strongroom \$$ARGS)"
	@echo "make test         set up if needed, run the gates ($(GATES)), then pytest"
	@echo "make lint         set up if needed, run the gates alone"
	@echo "make bench        set up if needed, run tests/bench/bench_vault.py \$$ARGS"
	@echo "make bench-console  cold start, unlock-to-table, RSS and filter latency of the console"
	@echo "make bench-signing  signer vs raw python-pkcs11 and a pkcs11-tool loop; TPM sign rate"
	@echo "make bench-compare  Strongroom vs keepassxc-cli (10k/100k, equal KDF cost), Lynis, GUI"
	@echo "                  cold starts (tests/bench/bench_compare.py \$$ARGS; audit verify at 1M"
	@echo "                  events: make bench; console RSS at 100k: make bench-console)"
	@echo "make bench-forward  audit forward of 100k events to a real rsyslogd, TCP and TLS"
	@echo "                  (tests/bench/bench_forward.py \$$ARGS): events/s and bytes/s"
	@echo "make bench-transit  OpenBao Transit signing: KeyStore and keys sign vs raw hvac"
	@echo "make bench-remote   OpenBao KV v2: remote publish/pull of 1,000 secrets vs a bao kv loop"
	@echo "make openbao-cluster  three-node OpenBao raft cluster, leader killed mid-publish (opt-in test)"
	@echo "make soak         the full crash, tamper, fuzz and secret-hygiene campaigns and their"
	@echo "                  tables (tests/campaigns/soak.py \$$ARGS; tens of minutes)"
	@echo "make lock         recompile $(RUNTIME_LOCK) and $(DEV_LOCK) (keeps pins that still fit)"
	@echo "make lock-upgrade recompile the locks at the newest versions PyPI serves"
	@echo "make briefcase-dev  assemble build/briefcase/ from briefcase.toml, run \`briefcase dev\` there"
	@echo "make icons        render the PNG, .ico and .icns icons from the SVG"
	@echo "make clean        remove .venv, caches and build/"

# ----- set-up -------------------------------------------------------------------------------------

setup: system-deps $(STAMP)

system-deps:
	@$(call header,system packages)
	@bash packaging/bootstrap.sh

$(PY):
	@$(call header,virtualenv $(VENV))
	@bash packaging/bootstrap.sh
	$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }

$(STAMP): $(DEV_LOCK) pyproject.toml | $(PY)
	@$(call header,locked dependencies ($(DEV_LOCK)))
	$(PY) -m pip install --quiet --require-hashes --only-binary=:all: --no-binary=tpm2-pytss \
		-r $(DEV_LOCK)
	@$(call header,strongroom (editable))
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	@touch $@

# ----- use ----------------------------------------------------------------------------------------

run: setup
	@$(call header,strongroom $(ARGS))
	$(VENV)/bin/strongroom $(ARGS)

bench: setup
	@$(call header,bench: vault)
	$(PY) tests/bench/bench_vault.py $(ARGS)

bench-signing: setup
	@$(call header,bench: signing on SoftHSM2 and swtpm)
	$(PY) tests/bench/bench_signing.py $(ARGS)
	$(PY) tests/bench/bench_tpm.py

bench-console: setup
	@$(call header,bench: console)
	QT_QPA_PLATFORM=offscreen $(PY) tests/bench/bench_console.py $(ARGS)
	QT_QPA_PLATFORM=offscreen $(PY) tests/bench/bench_console_model.py

bench-compare: setup
	@$(call header,bench: Strongroom beside keepassxc-cli and Lynis)
	$(PY) tests/bench/bench_compare.py $(ARGS)

bench-forward: setup
	@$(call header,bench: audit forward to rsyslogd)
	$(PY) tests/bench/bench_forward.py $(ARGS)

bench-transit: setup
	@$(call header,bench: OpenBao Transit signing against raw hvac)
	$(PY) tests/bench/bench_transit.py $(ARGS)

bench-remote: setup
	@$(call header,bench: OpenBao KV v2 publish and pull against a bao kv loop)
	$(PY) tests/bench/bench_remote.py $(ARGS)

openbao-cluster: setup
	@$(call header,OpenBao raft cluster: the leader killed mid-publish)
	$(VENV)/bin/pytest -n0 -p no:cacheprovider tests/test_remote_cluster.py --openbao-cluster -s $(ARGS)

# The campaigns of issue 13 at full size; `--publish tests/bench/results.md` records a run there.
soak: setup
	@$(call header,soak: the crash - tamper - fuzz - secret-hygiene campaigns)
	$(PY) tests/campaigns/soak.py $(ARGS)

lint: setup
	@$(call run-steps,$(GATES))

test: setup
	@$(call run-steps,$(GATES) pytest)

# The steps; each also works alone (`make mypy`) once set up.

ruff: $(STAMP)
	@$(call header,ruff)
	$(VENV)/bin/ruff check app backends ui tests

mypy: $(STAMP)
	@$(call header,mypy)
	$(VENV)/bin/mypy app

bandit: $(STAMP)
	@$(call header,bandit (medium and high))
	$(VENV)/bin/bandit -q -c pyproject.toml -r app backends ui -ll
	@echo "bandit: no medium or high severity issues"

locks: $(STAMP)
	@$(call header,locks hash-pinned and current)
	$(PY) packaging/check_locks.py

# pytest exits 5 when it collects no test: non-zero, so that fails the run too.
# The suite runs on every core (pytest-xdist), each test file whole and in order in one worker
# (some files' tests build on the ones before); `make pytest WORKERS=0` runs it in one process.
WORKERS ?= auto
pytest: $(STAMP)
	@$(call header,pytest)
	$(VENV)/bin/pytest -n $(WORKERS) --dist loadfile $(ARGS)

# ----- locks --------------------------------------------------------------------------------------
# pip-tools lives in a throwaway venv. Locks are compiled against PyPI alone (no local pip config,
# find-links or mirrors), for this interpreter (CPython 3.11 on Linux).

LOCK_ENV := env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT \
	PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock"
COMPILE := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	--newline=lf

lock lock-upgrade:
	@$(call header,$@)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	$(LOCK_ENV) "$$tmp/venv/bin/pip" install --quiet "$(PIP_TOOLS)"; \
	compile() { $(LOCK_ENV) "$$tmp/venv/bin/pip-compile" $(COMPILE) \
		$(if $(filter lock-upgrade,$@),--upgrade) "$$@"; }; \
	compile -o $(RUNTIME_LOCK) pyproject.toml; \
	compile -o $(DEV_LOCK) pyproject.toml $(REQ)/dev.in
	@echo "locks written; review with: git diff $(REQ)"

# ----- packaging ----------------------------------------------------------------------------------
# Briefcase reads [tool.briefcase] from a pyproject.toml and copies each `sources` folder under its
# own name, so packaging/briefcase_tree.py assembles a tree laid out as installed, with
# briefcase.toml as its pyproject.toml: build/briefcase/src/strongroom/{app,...}.

briefcase-tree:
	@$(call header,$(BRIEFCASE_DIR))
	$(PYTHON) packaging/briefcase_tree.py $(BRIEFCASE_DIR)

# The console from that tree, in this venv (--no-isolation): Briefcase pip-installs `requires`
# with --upgrade, so the dev lock goes along as constraints and nothing moves off its pins.
# `make briefcase-dev ARGS=--version` passes arguments to the app.
briefcase-dev: setup briefcase-tree
	@$(call header,briefcase dev)
	cd $(BRIEFCASE_DIR) && "$(CURDIR)/$(VENV)/bin/briefcase" dev --no-isolation \
		-C 'requirement_installer_args=["--constraint", "$(CURDIR)/$(DEV_LOCK)"]' \
		$(if $(ARGS),-- $(ARGS))

# The PNG, .ico and .icns icons from resources/icons/strongroom.svg; the output is committed.
icons: $(STAMP)
	@$(call header,icons)
	$(PY) packaging/render_icons.py

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache .hypothesis *.egg-info
