# The two commands of the README: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: run test lint typecheck imports check clean worker bench bench-smoke

$(PY):
	@PYBIN=$$(bin/find-python) && echo "Using $$PYBIN" && "$$PYBIN" -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip

$(VENV)/.base-installed: $(PY) requirements/base.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/base.txt
	@touch $@

$(VENV)/.dev-installed: $(VENV)/.base-installed requirements/dev.txt requirements/scale.txt
	$(PY) -m pip install -q --disable-pip-version-check -r requirements/dev.txt
	@touch $@

## Set up, load demo data and serve the app plus its background worker.
run: $(VENV)/.base-installed
	@bin/run-demo

## Install what the tests need (Python packages, Debian's chromium) and run the whole suite.
test: $(VENV)/.dev-installed
	@bin/ensure-chromium
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

typecheck: $(VENV)/.dev-installed
	$(VENV)/bin/mypy

## The layering of the apps (the contracts are in pyproject.toml).
imports: $(VENV)/.dev-installed
	$(VENV)/bin/lint-imports

## Everything CI checks besides the tests.
check: lint typecheck imports
	PARS_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

worker: $(VENV)/.base-installed
	$(PY) manage.py db_worker

clean:
	rm -rf $(VENV) db.sqlite3 var/

## Benchmarks against PostgreSQL (see the README's "Benchmarks"): 10k, 100k and 500k rows,
## POST to commit. BENCH_ARGS="--rows 10000,50000" (and LEARNER_BENCH_ARGS) for a quick run.
bench: $(VENV)/.dev-installed
	$(PY) bench/activities_upload.py $(BENCH_ARGS)
	$(PY) bench/learners_upload.py $(LEARNER_BENCH_ARGS)
	$(PY) bench/api_latency.py $(API_BENCH_ARGS)

## Every benchmark at a tiny size, so none can rot unnoticed (.ci/run runs it).
bench-smoke: $(VENV)/.dev-installed
	$(PY) bench/activities_upload.py --rows 1000 --established-rows 1000 --repeat 2 --repeat-small 2
	$(PY) bench/learners_upload.py --rows 1000 --repeat 2 --repeat-small 2
	$(PY) bench/national_data.py --scale 0.001 --repeat 1
	$(PY) bench/api_latency.py --requests 20 --established-rows 1000
	$(PY) bench/load_test.py --providers 2 --activity-rows 100 --learner-rows 100 --json 10 \
		--workers 1 --web-workers 1

## The national data report and research export on a year of national data (bench/national_data.py).
bench-national: $(VENV)/.dev-installed
	$(PY) bench/national_data.py $(NATIONAL_BENCH_ARGS)
