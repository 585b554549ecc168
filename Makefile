# One entry point for developers and CI. `make test` is what CI runs (.ci/run); `make demo` brings up a
# throwaway seqr host plus S3 store with the role applied.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: setup lint unit test demo demo-destroy

setup:
	bash scripts/setup.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: setup
	$(BIN)/pytest -q tests

test: lint unit
