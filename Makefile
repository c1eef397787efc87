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

.PHONY: install demo test lint clean bench reliability

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
	$(BIN)/lint-imports

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

# The reliability tests, with the counts docs/reliability.md quotes written to build/.
reliability: $(STAMP)
	mkdir -p build
	HANDGRAD_RELIABILITY_REPORT=build/reliability.json $(BIN)/python -m pytest \
		tests/test_bad_input.py tests/cli tests/test_io_fuzz.py tests/saving/test_safetensors.py \
		tests/saving/test_model_files.py tests/train/test_checkpoints.py \
		tests/test_kill_safety.py tests/test_extremes.py tests/test_out_of_core.py
	cat build/reliability.json

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache .hypothesis
