# Two commands on a fresh clone: `make run` starts the board, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test test-fast bench soak lint messages venv deps-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed

## run: the whole board (web, worker, scheduler) on embedded defaults; Ctrl-C stops it all
run: $(VENV)/.installed
	PORT=$(PORT) scripts/run-local

## test: installs what the tests need (Redis, Chromium, Python packages), lints, and runs every test
test: $(VENV)/.installed-dev
	scripts/ensure-test-services
	$(BIN)/ruff check .
	$(BIN)/pytest

## test-fast: everything but the slow end-to-end tests
test-fast: $(VENV)/.installed-dev
	$(BIN)/pytest -m "not slow"

## bench: the benchmarks; each prints its figure as a ratio to a baseline run alongside
bench: $(VENV)/.installed-dev
	scripts/ensure-test-services
	$(BIN)/python -m bench

## soak: the load-and-faults run (5 minutes; SOAK_ARGS="--duration 600" for more); fails on a lost or doubled post
soak: $(VENV)/.installed-dev
	scripts/ensure-test-services
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

## messages: after changing a gettext() string, update board/locale/ja's catalog, translate, and run this again to compile it (needs GNU gettext)
messages: $(VENV)/.installed-dev
	cd board && UTAKATA_DEBUG=1 ../$(BIN)/python ../manage.py makemessages --locale ja --no-location --no-obsolete
	cd board && UTAKATA_DEBUG=1 ../$(BIN)/python ../manage.py compilemessages --locale ja

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf var .pytest_cache
