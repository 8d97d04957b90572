# Two entry points, each self-sufficient on a fresh machine: `make demo` and `make test`.
# The virtual environment lives in .venv and is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The CPU wheel of torch; GPU users can override, e.g. `make test TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo eval-demo test browser-test serve-screenshots lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The main job: the HPE-CogVLM pipeline at demo size (pretrain the demo tower unless runs/towers/demo exists,
# generate data, train the grounding base and the pose LoRA,
# merge, evaluate, print the table, draw predictions), about 16 minutes on 2 CPU cores from a fresh clone.
demo: $(STAMP)
	$(BIN)/groundlm bench hpe --preset demo --run-dir runs/demo --json runs/demo/bench-hpe.json

# Scoring prediction files of every task against ground truth (half a minute).
eval-demo: $(STAMP)
	bash examples/eval_demo.sh $(BIN)/groundlm

test: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest -q

# The web page of `groundlm serve` in headless Chromium: installs Debian's chromium and chromedriver when missing
# (root, or sudo), and selenium into .venv, then runs tests/browser.
BROWSER_STAMP := $(VENV)/.browser
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BROWSER_STAMP): $(STAMP)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; }
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev,browser]"
	touch $(BROWSER_STAMP)

browser-test: $(BROWSER_STAMP)
	GROUNDLM_BROWSER_TESTS=1 $(BIN)/python -m pytest -q tests/browser

# docs/serve.md's pictures of the page (docs/images/serve-*.png), with the model in CHECKPOINT.
CHECKPOINT ?= runs/refer-portrait/final
serve-screenshots: $(BROWSER_STAMP)
	$(BIN)/python examples/serve_screenshots.py $(CHECKPOINT) docs/images

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
