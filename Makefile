# The two commands a new user needs (README.md): `make test` and `make book`.
# Both create .venv and install the project with its extras on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
BOOK_FLAGS ?= -W -n --keep-going

.PHONY: install test book clean-book clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[book,test]'
	@touch $(STAMP)

## make test: create .venv if needed, install, run the test suite (CPU only, a few minutes)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## make book: build the Jupyter Book into _build/html (warnings are errors)
book: $(STAMP)
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)

clean-book:
	rm -rf _build

clean: clean-book
	rm -rf $(VENV) *.egg-info
