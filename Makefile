# Two commands matter: `make run` (the main job) and `make test` (the whole suite, lint included).
# Both create or reuse .venv and install what they need, so they work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest bench clean audit-workflows

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/modbot validate examples/rustok/modules.toml
	$(BIN)/modbot diff examples/rustok/modules.base.toml examples/rustok/modules.toml --format markdown

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

# zizmor + actionlint + check-jsonschema on our own CI, offline (also part of `make pytest`).
audit-workflows: $(STAMP)
	$(BIN)/python tests/workflow_audit.py .github/workflows/*.yml

bench: $(STAMP)
	$(BIN)/python bench/manifest_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
