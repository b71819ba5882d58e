# Two commands do everything on a fresh Debian machine with Python 3.11:
#   make run   set up, fetch the data, train and evaluate (`kedro run`)
#   make test  set up, fetch the data, run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RAW_DIR := data/01_raw/fashion-mnist
DEBIAN_DATA_DIR := /usr/share/datasets/fashion-mnist
# Kedro telemetry is refused by .telemetry too; this covers commands run outside the project root.
export KEDRO_DISABLE_TELEMETRY := 1
# MLflow 3 sends usage telemetry unless told not to; the project sends nothing anywhere.
export MLFLOW_DISABLE_TELEMETRY := true
# Airflow (the dev extra) collects usage data through Scarf unless told not to.
export AIRFLOW__USAGE_DATA_COLLECTION__ENABLED := False
export SCARF_ANALYTICS := false

.PHONY: run test data setup browser lint viz viz-build ui serve explore

# The stamp is remade whenever pyproject.toml changes, so `make` reinstalls only when needed.
# pip installs uv into the venv, and uv the project: several times faster than pip alone
# (benchmarks/README.md). Set INSTALLER=pip for pip alone. Both compile the bytecode at install:
# where PYTHONDONTWRITEBYTECODE is set, every process would otherwise compile what it imports.
INSTALLER ?= uv
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
ifeq ($(INSTALLER),uv)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/python -m uv pip install --quiet --compile-bytecode --python $(BIN)/python -e ".[dev]"
else
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
endif
	touch $@

setup: $(BIN)/.installed

# Prefer Debian's packaged copy; apt-get needs root, so a non-root user falls back to the mirror.
data: setup
	@if [ ! -d $(DEBIAN_DATA_DIR) ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get install -y -qq dataset-fashion-mnist || \
		 (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)) >/dev/null 2>&1 || \
		echo "apt-get could not install dataset-fashion-mnist; downloading from the mirror"; \
	fi
	$(BIN)/python -m fashion_vae.data.raw_data --dest $(RAW_DIR) --system-dir $(DEBIAN_DATA_DIR)

run: data
	$(BIN)/kedro run

# The explorer's browser test drives Debian's Chromium; without it (not root, no apt-get) it skips.
browser:
	@if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && \
		command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get install -y -qq chromium chromium-driver || \
		 (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)) >/dev/null 2>&1 || \
		echo "apt-get could not install chromium and chromium-driver; the browser test will skip"; \
	fi

test: data browser
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# kedro-viz: each pipeline is a group that expands; selecting `metrics` (or the training
# history) shows a preview of what the last `kedro run` wrote. `viz-build` writes the same
# app, previews included, as static files in build/ (serve it with any web server). For
# another environment prefix KEDRO_ENV, e.g. `KEDRO_ENV=test make viz-build`.
viz: setup
	$(BIN)/kedro viz run

viz-build: setup
	$(BIN)/kedro viz build --include-previews

# MLflow's UI on this machine only, over the store of conf/base/mlflow.yml (KEDRO_ENV=test make ui
# for the test environment's). `mlflow` runs from the virtual environment, hence PATH.
UI_PORT ?= 5000
ui: setup
	@echo "MLflow UI: http://127.0.0.1:$(UI_PORT) (Ctrl+C stops it)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/kedro mlflow ui --env $${KEDRO_ENV:-local} \
		--host 127.0.0.1 --port $(UI_PORT)

# A model a run logged, over HTTP on this machine: make serve RUN=<MLflow run id>, the encoder
# (MODEL=vae_decoder: the decoder), with one worker per core (SERVE_WORKERS=N: N), each with
# TensorFlow threads for its share of the cores; the choice is printed.
MODEL ?= vae
SERVE_PORT ?= 5001
SERVE_WORKERS ?= auto
TRACKING_DB ?= $(CURDIR)/data/09_tracking/mlflow.db
serve: setup
	@test -n "$(RUN)" || { echo "usage: make serve RUN=<MLflow run id>"; exit 2; }
	PATH="$(CURDIR)/$(BIN):$$PATH" MLFLOW_TRACKING_URI=sqlite:///$(TRACKING_DB) \
		$(BIN)/python -m fashion_vae.serving --run $(RUN) --model $(MODEL) \
		--host 127.0.0.1 --port $(SERVE_PORT) --workers $(SERVE_WORKERS)

# The latent-space explorer of the latest stored model, on this machine only (KEDRO_ENV=test for
# the test environment's model; `kedro explore --load-versions` pins versions).
EXPLORE_PORT ?= 7860
explore: setup
	$(BIN)/kedro explore --env $${KEDRO_ENV:-local} --host 127.0.0.1 --port $(EXPLORE_PORT)
