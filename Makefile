# Every target sets up what it needs on a fresh machine (venv, package, kubectl for the contract tests).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 180
export PREFECT_HOME ?= $(CURDIR)/.netmig/prefect

.PHONY: demo test lint bench server worker deploy clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

kubectl:
	@command -v kubectl >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq kubernetes-client; }

demo: $(STAMP)
	mkdir -p $(PREFECT_HOME)
	$(BIN)/aks-netmig demo

test: $(STAMP) kubectl
	mkdir -p $(PREFECT_HOME)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist worksteal -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Prefect UI recipe (docs/prefect.md): `make server` and `make worker` in two terminals, then `make deploy`.
PREFECT_PORT ?= 4200
PREFECT_POOL := netmig-process
server worker deploy: export PREFECT_API_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api

server: $(STAMP)
	mkdir -p $(PREFECT_HOME)
	$(BIN)/prefect server start --host 127.0.0.1 --port $(PREFECT_PORT)

worker: $(STAMP)
	mkdir -p $(PREFECT_HOME)
	$(BIN)/prefect worker start --pool $(PREFECT_POOL) --type process

deploy: $(STAMP)
	mkdir -p $(PREFECT_HOME)
	$(BIN)/prefect work-pool inspect $(PREFECT_POOL) >/dev/null 2>&1 || \
		$(BIN)/prefect work-pool create $(PREFECT_POOL) --type process
	$(BIN)/prefect --no-prompt deploy --all

clean:
	rm -rf $(VENV) .netmig
