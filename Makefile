# Two commands do everything on a fresh machine (both idempotent):
#   make test   ruff, unit tests, nbval over every lecture and solution notebook (fast mode), labs in sync,
#               every lab executed up to its first exercise
#   make run    every lecture and solution notebook in full mode -> build/executed/, build/results.md
#   make verify      re-run the solutions in full mode, compare every metric with the committed outputs
#   make benchmark   one notebook (BENCH_NB) in full mode once per seed (SEEDS) -> build/benchmark/spread.md
#   make check-times how long each self-check takes on the solution (budget: under 2 s each, idle 2-core CPU)
#   make test-times  every notebook (or TIMES_NB) in fast mode, one at a time -> build/times/times.md (a benchmark:
#                    wall and CPU time per notebook, nothing asserted)
#   make test-gpu    GPU machines: installs the gpu extra, stops at once unless TensorFlow sees a GPU (gpu-check),
#                    then nbval over every lecture and solution notebook in full mode, then `make run`'s results
#   make gpu-check   the GPU guard alone (installs nothing)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
GPU_STAMP := $(VENV)/.installed-gpu
GPU_CHECK  = $(PY) -m course_utils.tools.gpu_check
export COURSE_DATA_DIR ?= $(CURDIR)/data
BENCH_NB ?= solutions/08_clustering_autoencoders.ipynb
SEEDS  ?= 0 1 2
TIMES_NB ?=
export PY

.PHONY: setup data test lint run verify benchmark check-times test-times gpu-setup gpu-check test-gpu labs unit clean
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

# The same environment as a notebook under `make test` (fast mode, one OpenBLAS thread), but one notebook at a time.
test-times: setup data
	OPENBLAS_NUM_THREADS=1 COURSE_FAST=1 $(PY) -m course_utils.tools.runner times --fast $(TIMES_NB)

gpu-setup: $(GPU_STAMP)

$(GPU_STAMP): pyproject.toml $(STAMP)
	PYTHONWARNINGS=ignore $(PY) -m pip install -q --disable-pip-version-check -e ".[dev,gpu]"
	@touch $@

gpu-check:
	$(GPU_CHECK)

# The guard runs first, before the data and before any notebook: without a GPU the full mode would train on the CPU
# for hours. One worker (the notebooks share one GPU); every notebook twice: nbval (the checked outputs), then the
# runner (build/executed/, build/results.md and .json, with each notebook's wall and CPU time).
test-gpu: gpu-setup
	$(GPU_CHECK)
	@bash scripts/provision_data.sh
	COURSE_FAST=0 COURSE_RESULTS_DIR=$(CURDIR)/build/gpu-test-records $(PY) -m pytest -n 0 --nbval-lax \
	  --nbval-current-env --junitxml=build/gpu-junit.xml notebooks solutions
	COURSE_FAST=0 $(PY) -m course_utils.tools.runner run

unit: setup
	$(PY) -m pytest -q tests

labs: setup
	$(PY) -m course_utils.tools.labgen

clean:
	rm -rf build
