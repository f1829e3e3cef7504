# The README's two commands: `make run` and `make test`. Both set up .venv first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: $(BIN)/.installed
	$(BIN)/dunkwatch run --config config.toml

# Two workers: the training tests spend most of their time tracing graphs on one core each.
test: $(BIN)/.installed
	$(BIN)/python -m pytest -n 2

clean:
	rm -rf $(VENV) *.egg-info
