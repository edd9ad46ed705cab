# The two commands of the README: `make demo` and `make test`. Each builds or refreshes its own
# virtual environment, so a fresh machine needs only Python 3.11+, git and make. Also:
# `make reliability`, the long run of tests/reliability that writes docs/reliability.md, and
# `make bench`, which adds the plotting library (the `bench` extra) under a stamp of its own,
# so `make test` never installs it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: demo test lint typecheck pytest matrix reliability bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "torimatome needs Python 3.11 or newer")'
	@echo "Preparing $(VENV) (torimatome and its test tools)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

$(BENCH_STAMP): $(STAMP)
	@echo "Adding the benchmark extras to $(VENV)..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

demo: $(STAMP)
	$(BIN)/torimatome demo

matrix: $(STAMP)
	$(BIN)/torimatome matrix

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# The long version of tests/reliability (minutes): more processes' work, hundreds of kill
# points, thousands of fuzzed calls. Only a passing run rewrites the figures.
FIGURES := .reliability-figures.json
reliability: $(STAMP)
	@rm -f $(FIGURES)
	@start=$$(date +%s); \
	TORIMATOME_RELIABILITY=full TORIMATOME_FIGURES=$(CURDIR)/$(FIGURES) \
		$(BIN)/pytest -m reliability tests/reliability && \
	$(BIN)/python -m tests.reliability.render $(FIGURES) $$(( $$(date +%s) - start ))

# Every size (10k, 100k, 1M request lines) unless TORIMATOME_BENCH_SIZES=10k,100k says
# otherwise; writes docs/performance.md, .json and .png. Timed, so never part of `make test`.
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis torimatome-demo.sqlite3* \
		$(FIGURES)
