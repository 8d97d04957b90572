# Two entry points, each self-sufficient on a fresh machine: `make demo` and `make test`.
# The virtual environment lives in .venv and is rebuilt only when pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The CPU wheel of torch; GPU users can override, e.g. `make test TORCH_SPEC=torch`.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo eval-demo test lint clean

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

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
