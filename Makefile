# Set-up and everyday commands. `make demo` and `make test` work from a fresh clone.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  := torch==2.13.0
TORCH_INDEX := https://download.pytorch.org/whl/cpu

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test install install-test bench clean chromium

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# torch first, CPU build, pinned: an unpinned torch would pull a CUDA build of several GB.
	$(PIP) install --quiet $(TORCH) || $(PIP) install --quiet --index-url $(TORCH_INDEX) $(TORCH)

$(VENV)/.installed: $(VENV)/bin/activate pyproject.toml
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/activate pyproject.toml
	$(PIP) install --quiet -e ".[test]"
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(VENV)/bin/moo-hpo demo

# The report tests render HTML in headless Chromium (Debian's package).
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { echo "installing Debian's chromium for the browser tests"; \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

# One pytest worker per core; the Dask cluster tests share one worker (xdist_group "dask").
test: $(VENV)/.installed-test chromium
	$(PY) -m pytest -q -n auto --dist loadgroup

bench: $(VENV)/.installed
	$(PIP) install --quiet -e ".[bench]"
	$(PY) benchmarks/study_overhead.py

# The documentation site (MkDocs Material + mkdocstrings), served at http://127.0.0.1:8000 with live reload.
.PHONY: docs
docs: $(VENV)/.installed
	$(PIP) install --quiet -e ".[docs]"
	$(VENV)/bin/mkdocs serve

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
