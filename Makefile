# One command per task, the same locally and in CI. `make help` lists them.
#
#   make setup      create .venv/ and node_modules/ (idempotent), build the TypeScript client
#   make generate   regenerate Python, TypeScript, Go, the Envoy descriptor set and OpenAPI from proto/
#   make lint       ruff, buf lint/format, import contracts, tsc
#   make typecheck  mypy (strict) and tsc
#   make test       everything: lint, typecheck, generation drift, the web and Python tests
#   make webapp     build the web UI into webapp/dist
#   make test-e2e   only the browser tests (headless Chromium through Envoy)
#   make bench      the benchmarks in bench/ (prints tables; not part of make test)
#   make bench-faults the long fault run: ten faults of each kind, three ledgers compared
#   make bench-venv the benchmarks' own venv (build/bench-venv): the FastAPI peer, py-spy
#   make demo       the credential-free demo: simulator, server, Envoy and the UI (Ctrl-C stops)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BUF := node_modules/.bin/buf
# googleapis' google/api and google/rpc files, vendored (third_party/googleapis/README.md).
GOOGLEAPIS := third_party/googleapis
# protovalidate's buf/validate/validate.proto, vendored (third_party/protovalidate/README.md).
PROTOVALIDATE := third_party/protovalidate
PY_GENERATED := clients/python/src/ibkr/v1
# The buf.validate messages the generated ibkr.v1 modules import (their rule annotations).
PY_VALIDATE_GENERATED := clients/python/src/buf
TS_GENERATED := clients/typescript/src/gen
GO_GENERATED := clients/go/ibkr clients/go/buf
DESCRIPTOR_SET := envoy/ibkr_v1_descriptor.binpb
OPENAPI := envoy/openapi.json
PROTO_FILES := $(sort $(wildcard proto/ibkr/v1/*.proto))
GENERATED_PATHS := clients/python/src/ibkr $(PY_VALIDATE_GENERATED) $(TS_GENERATED) $(GO_GENERATED) $(DESCRIPTOR_SET) $(OPENAPI)

.PHONY: help
help:
	@grep -E '^#   make ' Makefile | sed 's/^#   //'

# ---- setup ---------------------------------------------------------------------------------

PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
TS_CLIENT_BUILD := clients/typescript/dist/index.js

.PHONY: setup
setup: $(PY_STAMP) $(NODE_STAMP) $(TS_CLIENT_BUILD) system-tools

# Debian packages the tests use: promtool and prometheus (Prometheus) for the rules and the
# stock-query test, amtool (Alertmanager) for its configuration, and Chromium for the browser
# tests. Installed once; the prometheus packages would also start services where systemd
# runs, which are stopped.
.PHONY: system-tools
system-tools: go-tools
	@command -v promtool >/dev/null || (apt-get update -qq && \
		apt-get install -y --no-install-recommends prometheus >/dev/null && \
		(systemctl disable --now prometheus 2>/dev/null || true))
	@command -v amtool >/dev/null || (apt-get update -qq && \
		apt-get install -y --no-install-recommends prometheus-alertmanager >/dev/null && \
		(systemctl disable --now prometheus-alertmanager 2>/dev/null || true))
	@command -v chromium >/dev/null || (apt-get update -qq && \
		apt-get install -y --no-install-recommends chromium >/dev/null)

# Go, the protoc-gen-go and protoc-gen-go-grpc plugins (make generate) and the sources of
# grpc-go, protobuf-go and genproto that the Go client builds against offline, in GOPATH mode
# (tests/clients/test_go_client.py). golang-github-golang-protobuf-1-5-dev by name: apt would
# otherwise pick the 1.3 series, which cannot decode protoc-gen-go 1.28's messages.
GO_PACKAGES := golang-go protoc-gen-go protoc-gen-go-grpc golang-google-grpc-dev \
	golang-google-protobuf-dev golang-google-genproto-dev golang-github-golang-protobuf-1-5-dev

.PHONY: go-tools
go-tools:
	@dpkg -s $(GO_PACKAGES) >/dev/null 2>&1 || (apt-get update -qq && \
		apt-get install -y --no-install-recommends $(GO_PACKAGES) >/dev/null)

$(PY_STAMP): server/pyproject.toml clients/python/pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==25.3
	$(BIN)/pip install --quiet --constraint constraints.txt \
		--editable clients/python --editable 'server[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json clients/typescript/package.json clients/node/package.json \
		webapp/package.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(TS_CLIENT_BUILD): $(NODE_STAMP) $(shell find clients/typescript/src -name '*.ts' 2>/dev/null)
	npm run --silent --workspace clients/typescript build
	touch $@

# Refresh constraints.txt (every transitive Python dependency, pinned, no index URLs) after
# changing a dependency in a pyproject.toml.
.PHONY: lock
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/pip install --quiet pip==25.3
	build/lock-venv/bin/pip install --quiet ./clients/python './server[dev]'
	{ echo "# Every Python dependency, pinned. Regenerate with 'make lock'; do not edit by hand."; \
	  build/lock-venv/bin/pip freeze --all --exclude ibkr-grpc --exclude ibkr-grpc-client \
	    --exclude pip --exclude setuptools; } > constraints.txt
	rm -rf build/lock-venv

# ---- code generation -----------------------------------------------------------------------

.PHONY: generate
generate: $(PY_STAMP) $(NODE_STAMP) go-tools
	rm -rf $(PY_GENERATED) $(PY_VALIDATE_GENERATED) $(TS_GENERATED) $(GO_GENERATED) \
		$(DESCRIPTOR_SET) $(OPENAPI)
	mkdir -p $(PY_GENERATED) $(TS_GENERATED)
	$(BIN)/python -m grpc_tools.protoc -I proto -I $(GOOGLEAPIS) -I $(PROTOVALIDATE) \
		--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy \
		--plugin=protoc-gen-mypy_grpc=$(BIN)/protoc-gen-mypy_grpc \
		--python_out=clients/python/src --grpc_python_out=clients/python/src \
		--mypy_out=clients/python/src --mypy_grpc_out=clients/python/src \
		$(PROTO_FILES)
	$(BIN)/python -m grpc_tools.protoc -I $(PROTOVALIDATE) \
		--plugin=protoc-gen-mypy=$(BIN)/protoc-gen-mypy \
		--python_out=clients/python/src --mypy_out=clients/python/src \
		buf/validate/validate.proto
	printf '"""Generated ibkr.v1 messages and gRPC stubs. Do not edit: run make generate."""\n' \
		> $(PY_GENERATED)/__init__.py
	for package in $(PY_VALIDATE_GENERATED) $(PY_VALIDATE_GENERATED)/validate; do \
		printf '"""Generated buf.validate messages (protovalidate). Do not edit: run make generate."""\n' \
			> $$package/__init__.py; done
	touch clients/python/src/ibkr/py.typed
	$(BUF) generate
	$(BUF) generate --template buf.gen.go.yaml
	# Envoy's transcoder also needs google.rpc.Status and its details to write error bodies.
	$(BUF) build --path proto/ibkr --path $(GOOGLEAPIS)/google/rpc/status.proto \
		--path $(GOOGLEAPIS)/google/rpc/error_details.proto \
		--exclude-source-info --as-file-descriptor-set -o $(DESCRIPTOR_SET)
	# The OpenAPI document of the HTTP/JSON routes, from the same files with their comments.
	mkdir -p build
	$(BUF) build --path proto/ibkr --path $(GOOGLEAPIS)/google/rpc/status.proto \
		--path $(GOOGLEAPIS)/google/rpc/error_details.proto \
		--as-file-descriptor-set -o build/ibkr_v1_with_comments.binpb
	$(BIN)/python -m ibkr_grpc.edge.openapi build/ibkr_v1_with_comments.binpb -o $(OPENAPI)

# Regenerates and fails if anything differs from what is committed (CI runs this).
.PHONY: check-generated
check-generated: generate
	@drift=$$(git status --porcelain --untracked-files=all -- $(GENERATED_PATHS)); \
	if [ -n "$$drift" ]; then \
		echo "Generated code is out of date with proto/ (run 'make generate' and commit):"; \
		echo "$$drift"; git --no-pager diff --stat -- $(GENERATED_PATHS); exit 1; \
	fi

# ---- lint and types ------------------------------------------------------------------------

.PHONY: lint
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BUF) lint
	$(BUF) format --diff --exit-code proto
	$(BIN)/lint-imports --config .importlinter
	npm run --silent --workspace webapp lint

.PHONY: typecheck
typecheck: setup
	$(BIN)/mypy
	npm run --silent --workspaces typecheck

.PHONY: format
format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BUF) format --write proto

# ---- tests ---------------------------------------------------------------------------------

# PostgreSQL and Redis that the tests use for real; override for another machine.
export TEST_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
export TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

WEBAPP_BUILD := webapp/dist/index.html

# The UI Envoy serves (and the browser tests load).
.PHONY: webapp
webapp: $(WEBAPP_BUILD)

$(WEBAPP_BUILD): $(TS_CLIENT_BUILD) $(shell find webapp/src webapp/index.html webapp/vite.config.ts -type f 2>/dev/null)
	npm run --silent --workspace webapp build

.PHONY: test
test: setup lint typecheck check-generated webapp
	npm run --silent --workspace webapp test
	$(BIN)/pytest

# ---- demo ----------------------------------------------------------------------------------

DEMO_GRPC_LISTEN ?= 127.0.0.1:50051
DEMO_SIMULATOR_PORT ?= 4002

DEMO_EDGE_LISTEN ?= 127.0.0.1:8080

.PHONY: demo
demo: setup webapp
	$(BIN)/ibkr-grpc demo --grpc-listen $(DEMO_GRPC_LISTEN) --simulator-port $(DEMO_SIMULATOR_PORT) \
		--edge-listen $(DEMO_EDGE_LISTEN)

# Only the browser tests (they also run in make test).
.PHONY: test-e2e
test-e2e: setup webapp
	$(BIN)/pytest tests/e2e -q

# The benchmark's own venv: the FastAPI + WebSocket peer that quote_fanout.py measures
# StreamQuotes against, its clients, and py-spy. Never the server's .venv.
BENCH_VENV := build/bench-venv
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): bench/requirements-peer.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check pip==25.3
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check \
		--requirement bench/requirements-peer.txt
	touch $@

.PHONY: bench-venv
bench-venv: $(BENCH_STAMP)

# PostgreSQL for the order-path and reconciliation benchmarks (each uses a schema of its own).
BENCH_DATABASE_URL ?= $(TEST_DATABASE_URL)

.PHONY: bench
bench: setup bench-venv
	$(BIN)/python bench/quote_fanout.py
	$(BIN)/python bench/fanout_scaling.py
	$(BIN)/python bench/order_path.py --database-url $(BENCH_DATABASE_URL)
	$(BIN)/python bench/order_statements.py --database-url $(BENCH_DATABASE_URL)
	$(BIN)/python bench/reconcile.py

# Ten restarts of PostgreSQL, Redis, the gateway and the server each, mid-burst (a few minutes;
# make test runs two of each). Needs PostgreSQL's server binaries and redis-server.
.PHONY: bench-faults
bench-faults: setup
	$(BIN)/python bench/faults.py

.PHONY: clean
clean:
	rm -rf build $(VENV) node_modules webapp/node_modules clients/typescript/dist webapp/dist var .pytest_cache .mypy_cache .ruff_cache
