# Two commands do everything on a fresh machine (both idempotent):
#   make test   ruff, unit tests, nbval over every lecture and solution notebook (fast mode), labs in sync,
#               every lab executed up to its first exercise
#   make run    every lecture and solution notebook in full mode -> build/executed/, build/results.md
#   make verify      re-run the solutions in full mode, compare every metric with the committed outputs
#   make benchmark   one notebook (BENCH_NB) in full mode once per seed (SEEDS) -> build/benchmark/spread.md
#   make check-times how long each self-check takes on the solution (budget: under 2 s each, idle 2-core CPU)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export COURSE_DATA_DIR ?= $(CURDIR)/data
BENCH_NB ?= solutions/08_clustering_autoencoders.ipynb
SEEDS  ?= 0 1 2
export PY

.PHONY: setup data test lint run verify benchmark check-times labs unit clean
.DEFAULT_GOAL := test

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	PYTHONWARNINGS=ignore $(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	@touch $@

data: setup
	@bash scripts/provision_data.sh

# Two pytest workers on two cores: one OpenBLAS thread each. Multi-threaded OpenBLAS busy-waits when its cores
# are shared: numpy's eigvalsh/SVD ran 10x slower under load with the default threads. TensorFlow does not use
# OpenBLAS (its numbers are unchanged); NumPy, SciPy and scikit-learn do.
test: setup data lint
	OPENBLAS_NUM_THREADS=1 COURSE_FAST=1 COURSE_RESULTS_DIR=$(CURDIR)/build/test-records $(PY) -m pytest -n 2 --dist loadfile --nbval-lax --nbval-current-env \
	  --junitxml=build/junit.xml tests notebooks solutions

lint: setup
	$(VENV)/bin/ruff check course_utils tests notebooks solutions
	$(VENV)/bin/ruff format --check course_utils tests

run: setup data
	COURSE_FAST=0 $(PY) -m course_utils.tools.runner run

verify: setup data
	COURSE_FAST=0 $(PY) -m course_utils.tools.runner verify $(VERIFY_ARGS)

benchmark: setup data
	COURSE_FAST=0 $(PY) -m course_utils.tools.runner benchmark $(BENCH_NB) --seeds $(SEEDS)

check-times: setup
	$(PY) -m pytest -q -n 0 tests/test_checks_lab*.py -k "pass" --durations=0 --durations-min=0.5

unit: setup
	$(PY) -m pytest -q tests

labs: setup
	$(PY) -m course_utils.tools.labgen

clean:
	rm -rf build
