# The two commands of the README: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint bench lowest docs screenshots clean

$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[service,reports,postgres,test,bench,dev]'
	touch $(STAMP)

# `make demo PORT=8600` serves the demo on another port (HOST likewise; default 127.0.0.1:8000).
PORT ?= $(or $(TRACELIB_DEMO_PORT),8000)
HOST ?= $(or $(TRACELIB_DEMO_HOST),127.0.0.1)

demo: $(STAMP)
	TRACELIB_DEMO_PORT=$(PORT) TRACELIB_DEMO_HOST=$(HOST) bash scripts/demo.sh

test: $(STAMP)
	bash scripts/ensure-postgres.sh
	bash scripts/ensure-chromium.sh
	$(PY) -m pytest -n 2 --dist loadfile

test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -m "not slow and not postgres"

lint: $(STAMP)
	$(VENV)/bin/ruff check tracelib service cli demonet tests bench scripts setup.py
	$(VENV)/bin/mypy --strict tracelib demonet
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	bash scripts/ensure-postgres.sh
	$(PY) -m bench

# The lowest version of every dependency that pyproject.toml allows, in its own venv.
lowest:
	bash scripts/ensure-postgres.sh
	bash scripts/check-lowest-deps.sh

clean:
	rm -rf $(VENV) demo build *.egg-info bench/work bench/results.json

docs: $(STAMP)
	$(PY) scripts/gen_cli_docs.py docs/cli.md
	$(PY) scripts/gen_api_docs.py docs/api.md
	$(PY) scripts/gen_event_docs.py docs/events.md
	$(PY) -m pytest -q tests/test_docs.py tests/test_api_docs.py

# The console's screenshots at 1280×800 (docs/screenshots/console-*.png), and the board,
# the stall page (docs/screenshots/phone-*.png) and the producer page
# (docs/screenshots/producer-page.png) at 360×740, for review: the browser tests copy what
# they took there.
screenshots: $(STAMP)
	bash scripts/ensure-chromium.sh
	TRACELIB_SAVE_SCREENSHOT=1 $(VENV)/bin/python -m pytest -q \
		tests/service/test_console_browser.py tests/service/test_browser.py \
		tests/service/test_board_browser.py \
		tests/service/test_producer_browser.py \
		tests/service/test_receipt_browser.py
