# `make demo` and `make test` do all the set-up on a fresh machine: they create .venv and install
# handgrad with the extras they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
CLI_STAMP := $(VENV)/.installed-cli
# The demo writes its model and figures here (build/ is ignored by git).
DEMO_DIR ?= build/handgrad-demo

.PHONY: install demo test lint clean bench

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo needs only the command line's extra, not the test tools and PyTorch.
$(CLI_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[cli]'
	touch $(CLI_STAMP)

install: $(STAMP)

demo: $(CLI_STAMP)
	$(BIN)/handgrad demo --out-dir $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest

$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $(BENCH_STAMP)

# The full benchmark (about 15 minutes); BENCH_ARGS=--quick for a short run.
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache .hypothesis
