# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU wheel of torch; installed first so pip does not fetch a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=python3)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH_PIN)" || echo "$(TORCH_PIN) is not available here; pyproject's torch range decides"
	$(PIP) install -q -e ".[dev,all]"
	$(VENV)/bin/splatsynth warmup
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(VENV)/bin/splatsynth demo --out demo_out

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) bench/raster.py

clean:
	rm -rf $(VENV) demo_out .pytest_cache
