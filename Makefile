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

# Two workers, slow tests first, idle workers stealing queued tests (7.0-7.3 min on two cores, 276 tests).
test: $(BIN)/.installed
	$(BIN)/python -m pytest -n 2 --dist worksteal

clean:
	rm -rf $(VENV) *.egg-info
