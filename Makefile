# Two commands: `make run` starts the lab, `make test` runs every test. Both create .venv if needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DEVSTAMP= $(VENV)/.dev-installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test js-test lint docs bench browser clean compose-smoke multihost-test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	scripts/install-torch.sh $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	rm -f $(VENV)/.installed-*; touch $@

$(DEVSTAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.dev-installed-*; touch $@

run: $(STAMP)
	$(BIN)/noether up

browser:
	@scripts/install-browser.sh

test: $(DEVSTAMP) browser js-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# the live drawing's pure JavaScript (dashboard/assets/live-*.js), with Node's own test runner (Node >= 20;
# skipped with a warning where there is no node, as the browser tests are without Chromium)
js-test:
	@if command -v node >/dev/null 2>&1; then node --test tests/js/; \
	else echo "warning: no node found; the JavaScript tests (tests/js) are skipped" >&2; fi

lint: $(DEVSTAMP)
	$(BIN)/ruff check .

docs: $(STAMP)
	$(BIN)/python -m lab.docsgen --write

bench: $(DEVSTAMP)
	$(BIN)/python -m bench

# Not part of `make test` (minutes, a Docker engine / root): docs/operations.md, "Testing the deployment".
compose-smoke: $(DEVSTAMP)
	scripts/compose-smoke.sh

multihost-test: $(DEVSTAMP)
	scripts/multihost-test.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
