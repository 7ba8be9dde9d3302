# One command each for a new user: `make run` (set up, start the app) and `make test` (set up, run the tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch; an unpinned torch would pull a multi-GB CUDA build.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install run test test-all lint bench clean native

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/simages serve

test: $(STAMP)
	$(BIN)/ruff check simages tests
	$(BIN)/python -m pytest

# The desktop window (`simages serve --native`): names the Debian packages to install first, if any, then
# installs the `native` extra (pywebview, PyGObject) into the environment and says whether a window can open.
native: $(STAMP)
	$(BIN)/python -m simages.gui.native --before-install
	$(BIN)/python -m pip install --quiet -e ".[native]"
	$(BIN)/python -m simages.gui.native

# Adds the slow tests (full Corel-1k, load tests); needs ../shared.
test-all: $(STAMP)
	$(BIN)/python -m pytest --run-slow

bench: $(STAMP)
	$(BIN)/simages bench extract
	$(BIN)/simages bench query

clean:
	rm -rf $(VENV) features/*.npz features/.partial features/.thumbnails features/.locks features/.cache
