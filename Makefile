# owslib: one venv, installed with uv (pip fallback), pinned by constraints.txt.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= quick
# Runs trained at a time (each in its own process, in the study's setup of one thread); auto: as
# many as the cores and the available memory hold (2 GB a run).
JOBS ?= auto
export UV_COMPILE_BYTECODE := 1
# Notebook kernels get the inline backend from owslib.study; other plotting is headless by default.

.PHONY: install study test test-cluster lint lab lock clean-results

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	$(VENV)/bin/uv pip install --python $(PY) -e ".[dev]" -c constraints.txt \
	  || $(PY) -m pip install --disable-pip-version-check -e ".[dev]" -c constraints.txt
	touch $(STAMP)

## The main job: generate the embedded dataset and run every study notebook (quick profile); then
## the real-scene study (07): its committed runs reused; runs still to train need CamVid and
## RoadAnomaly under data/ (without them: one line on how to get them, and nothing fails).
study: install
	$(PY) -m owslib study --profile $(PROFILE) --jobs $(JOBS)
	$(PY) -m owslib study --study notebooks/real_scenes.json --jobs $(JOBS) --skip-without-data

## Lint, then the whole test suite (notebooks included, smoke profile), one worker per core (at most 4).
test: install
	$(VENV)/bin/ruff check owslib tests benchmarks
	$(VENV)/bin/ruff format --check owslib tests benchmarks
	$(PY) -m pytest tests -n auto --maxprocesses 4 --dist worksteal

lint: install
	$(VENV)/bin/ruff check owslib tests benchmarks
	$(VENV)/bin/ruff format --check owslib tests benchmarks

## JupyterLab on the study: opens notebooks/start_here.ipynb (the guide to the notebooks and results).
lab: install jupyter/jupyter_server_config.py
	$(VENV)/bin/jupyter lab --config=jupyter/jupyter_server_config.py --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks/start_here.ipynb --ip=127.0.0.1 --no-browser $(if $(filter 0,$(shell id -u)),--allow-root,)

## Re-lock the pins after editing pyproject.toml.
lock: install
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o constraints.txt
	sed -i '/^typing==/d' constraints.txt

## The study under a real single-node SLURM (root; installs slurm-wlm): submit the smoke study with
## cluster/slurm_study.sh, inject a scancel, a requeue and a kill -9, compare with a local run.
test-cluster: install
	OWSLIB_PYTHON=$(abspath $(PY)) cluster/local_slurm.sh
