# Two commands: `make run` starts Switchboard on its embedded defaults; `make test` runs the whole suite.
# Both set everything up first (a virtual environment with the compiled core), so they work on a fresh machine.

PYTHON ?= python3
SERVE_ARGS ?=
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test install lint bench prompts clean

$(STAMP): pyproject.toml setup.py $(wildcard engine/core/*.pyx)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) setup.py --quiet build_ext --inplace
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/switchboard serve --data-dir ./var --host 127.0.0.1 --port 8080 $(SERVE_ARGS)

test: $(STAMP)
	bash scripts/system-deps.sh
	$(PY) setup.py --quiet build_ext --inplace
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

bench: $(STAMP)
	$(VENV)/bin/switchboard bench routing --json

# The gateway's prompts and hold music are committed; this regenerates them (needs espeak-ng and sox).
prompts: $(STAMP)
	$(PY) scripts/make_prompts.py

clean:
	rm -rf build $(VENV) engine/core/*.c engine/core/*.so var
