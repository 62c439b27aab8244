# Семейное окно — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
FW := $(BIN)/family-window

.PHONY: run test install lint typecheck dialogs pytest messages locale bench clean

run: $(STAMP)  ## install, migrate, load demo content, start (web chat on http://127.0.0.1:8080)
	$(FW) db upgrade
	$(FW) content load
	$(FW) run --no-migrate

test: $(STAMP)  ## install, then every check and the whole suite (SQLite and PostgreSQL)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(FW) dialogs check
	$(BIN)/pytest $(PYTEST_ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

dialogs: $(STAMP)
	$(FW) dialogs check

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

messages: $(STAMP)  ## extract texts into locales/messages.pot and update every catalog
	$(BIN)/pybabel extract -F babel.cfg -k N_ --no-location --no-wrap --sort-output \
		--project "Семейное окно" -o locales/messages.pot .
	$(BIN)/pybabel update -i locales/messages.pot -d locales -D messages --ignore-obsolete --no-wrap

locale: $(STAMP)  ## add a language: make locale LANG_CODE=uk
	@test -n "$(LANG_CODE)" || { echo "usage: make locale LANG_CODE=xx"; exit 1; }
	$(BIN)/pybabel init -i locales/messages.pot -d locales -D messages -l $(LANG_CODE)

bench: $(STAMP)  ## performance budgets (not a test): prints the figures
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_announce.py --families 3000

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
