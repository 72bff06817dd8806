# Two commands matter: `make run` (the main job) and `make test` (the whole suite, lint included).
# Both create or reuse .venv and install what they need, so they work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest api-fuzz bench clean audit-workflows workflows bench-store bench-webhook bench-edge bench-console

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# GitHub's REST/webhook descriptions for tests/github_conformance: npm packages pinned in package-lock.json.
NODE_STAMP := node_modules/.modbot-installed

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $(NODE_STAMP)

# The main job: single-host mode (docs/single-host.md). The first start seeds a managed repository in
# .modbot-data/ from examples/rustok-mini and prints a one-time admin password; later starts resume.
# The console is on 127.0.0.1:$(MODBOT_PORT); Ctrl-C stops everything, the staging and production servers
# included. Builds use cargo offline (rustok-mini has no registry dependency).
MODBOT_PORT ?= 8000
MODBOT_DATA ?= .modbot-data

run: $(STAMP)
	$(BIN)/modbot local serve --data $(MODBOT_DATA) --seed examples/rustok-mini --port $(MODBOT_PORT)

# What `make run` showed before single-host mode: the CLI on the bundled example and RusToK's history.
EXAMPLE := examples/rustok-mini/modules.toml
HISTORY := tests/fixtures/rustok-history

.PHONY: demo-cli
demo-cli: $(STAMP)
	$(BIN)/modbot validate $(EXAMPLE)
	$(BIN)/modbot install forum --crate rustok-forum --source path --path crates/rustok-forum \
		--depends-on content --enable --manifest $(EXAMPLE) --dry-run
	$(BIN)/modbot diff $(HISTORY)/37-2026-07-23-5f4a2dd94.toml $(HISTORY)/38-2026-07-23-41f2ce0c5.toml --format markdown
	-$(BIN)/modbot validate $(HISTORY)/19-2026-03-30-59ceae6e5.toml

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/ruff format --check bot tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The console's browser tests (tests/e2e/browser) drive Debian's Chromium with Playwright (PyPI), never
# Playwright's own browser download (`playwright install` fetches from a CDN: offline it cannot).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

# The whole suite, schemathesis and the browser tests included: tests/contract/test_api_schemathesis.py
# fuzzes every /admin endpoint of the served OpenAPI document in-process (no 5xx, documented status codes and schemas only).
pytest: $(STAMP) $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/pytest

test: lint typecheck pytest

# schemathesis alone, with more examples per operation (MODBOT_FUZZ_EXAMPLES, default 200)
api-fuzz: $(STAMP)
	MODBOT_FUZZ_EXAMPLES=$${MODBOT_FUZZ_EXAMPLES:-200} $(BIN)/pytest -p no:cacheprovider tests/contract/test_api_schemathesis.py

# zizmor + actionlint + check-jsonschema on our own CI, offline (also part of `make pytest`).
audit-workflows: $(STAMP)
	$(BIN)/python tests/workflow_audit.py .github/workflows/*.yml

# The rendered workflows of the bundled examples (docs/workflows.md); tests fail when they drift.
workflows: $(STAMP)
	$(BIN)/modbot workflows render --config examples/rustok-mini/.github/modbot.toml --out workflows/monolith
	$(BIN)/modbot workflows render --config examples/headless/.github/modbot.toml --out workflows/headless

bench: $(STAMP)
	$(BIN)/python bench/manifest_bench.py
	$(BIN)/python bench/rebuild_bench.py

# issue #11's fault-injection table: real bots vs a stand-in GitHub that fails on purpose (docs/reliability.md)
.PHONY: bench-faults
bench-faults: $(STAMP) $(NODE_STAMP)
	$(BIN)/python bench/faults.py

# record_delivery / claim latency on SQLite and the local PostgreSQL (docs/performance.md)
bench-store: $(STAMP) $(NODE_STAMP)
	$(BIN)/python bench/store_bench.py

# webhook acknowledgement under load: modbot vs a bare FastAPI endpoint, zero-loss check (docs/performance.md)
bench-webhook: $(STAMP) $(NODE_STAMP)
	$(BIN)/python bench/webhook_load.py

# valid deliveries while the HTTP edge is abused (docs/reliability.md, "HTTP edge")
bench-edge: $(STAMP) $(NODE_STAMP)
	$(BIN)/python bench/edge_abuse.py

# The console's Russian catalogue: new msgids from templates/console/ are added (untranslated) to
# bot/web/console/locales/ru/LC_MESSAGES/console.po; tests/unit/test_console_i18n.py fails until each is translated.
.PHONY: console-messages
console-messages: $(STAMP)
	$(BIN)/pybabel extract -F bot/web/console/babel.cfg --no-location --sort-output -o .console.pot .
	$(BIN)/pybabel update -i .console.pot -d bot/web/console/locales -D console --no-fuzzy-matching --ignore-obsolete
	rm -f .console.pot

# console page render p50/p95 with 1,000 releases, 10,000 audit entries, 200 modules (docs/performance.md)
bench-console: $(STAMP)
	$(BIN)/python bench/console_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
