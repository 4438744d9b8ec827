# edgewright: `make run` starts the embedded stack, `make test` runs lint and the tests.
# Every target works on a fresh machine: it installs what it needs and nothing else.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
# Two lock files: requirements.lock holds what runs (`make run`, the image),
# requirements-dev.lock the same pins plus the test and lint tools (`make test`).
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
# Debian packages the integration tests use when they can; without them the tests fall
# back to amqtt (or skip, for redis-server) and report what they could not run.
APT_PACKAGES := mosquitto postgresql redis-server

.PHONY: help venv venv-runtime system-deps lock lint fmt test test-scale run bench bytecode clean sdk-models

help:
	@echo "make run           start the embedded stack (Temporal, MQTT broker, worker, API)"
	@echo "make test          lint, then every test but the multi-replica proof"
	@echo "make test-scale    the multi-replica proof (2 of each process, kills; minutes)"
	@echo "make lint | fmt    check | rewrite formatting and imports"
	@echo "make bench         run the benchmarks in bench/ (one JSON line each)"
	@echo "make venv          create .venv with the test and lint tools (requirements-dev.lock)"
	@echo "make venv-runtime  create .venv with what runs only (requirements.lock)"
	@echo "make system-deps   install mosquitto, PostgreSQL and redis-server (as root, Debian)"
	@echo "make lock          re-resolve both lock files from pyproject.toml"
	@echo "make sdk-models    regenerate the SDK's models and sync clients from the served OpenAPI"
	@echo "make bytecode      compile the project's modules (make test and make run do it first)"
	@echo "make clean         forget the installed stamp and tool caches (keeps data/)"

# uv installs from the lock file against the default index (PyPI) unless UV_INDEX_URL or
# UV_DEFAULT_INDEX say otherwise; it does not read pip.conf, so a local pip mirror
# configured on one machine cannot leak into the install.
define bootstrap-uv
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	|| { echo "python3 >= 3.11 is required"; exit 1; }
python3 -m venv $(VENV)
$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
endef

venv: $(DEV_STAMP)

venv-runtime: $(RUNTIME_STAMP)

# Exactly the dev lock (sync removes what it does not list).
$(DEV_STAMP): requirements-dev.lock pyproject.toml sdk/pyproject.toml
	$(bootstrap-uv)
	$(UV) pip sync --python $(PY) --compile-bytecode requirements-dev.lock
	# The project itself and the SDK (with the `edgewright` command), editable; their
	# dependencies are in the lock above.
	$(UV) pip install --python $(PY) --no-deps -e . -e ./sdk
	touch $@

# The runtime pins, added without removing anything: after `make test` the dev tools
# stay, so switching between `make run` and `make test` installs nothing twice.
$(RUNTIME_STAMP): requirements.lock pyproject.toml
	$(bootstrap-uv)
	$(UV) pip install --python $(PY) --compile-bytecode -r requirements.lock
	$(UV) pip install --python $(PY) --no-deps -e .
	touch $@

# The dev lock is resolved first; the runtime lock is then resolved under it, so both
# pin every shared package to the same version (tests run what production runs).
lock:
	$(bootstrap-uv)
	$(UV) pip compile pyproject.toml --group dev --python-version 3.11 -o requirements-dev.lock
	$(UV) pip compile pyproject.toml --python-version 3.11 -c requirements-dev.lock \
		-o requirements.lock

# Installs only what is missing, so it costs nothing once done. Debian's packages would
# start their own mosquitto on :1883 and PostgreSQL on :5432, but the stack and the tests
# run their own: policy-rc.d keeps the services from starting, and they are stopped (and
# disabled under systemd) in case something started them anyway.
system-deps:
	@missing=""; \
	command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing="$$missing mosquitto"; \
	command -v pg_ctl >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null \
		|| missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "system-deps: not installed:$$missing (needs root and apt-get)."; \
		echo "system-deps: the stack uses amqtt instead of mosquitto; tests say what they skip."; \
		exit 0; \
	fi; \
	echo "system-deps: installing$$missing"; \
	policy=/usr/sbin/policy-rc.d; own_policy=""; \
	if [ ! -e $$policy ]; then \
		printf '#!/bin/sh\nexit 101\n' > $$policy && chmod 755 $$policy && own_policy=1; \
	fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	rc=$$?; \
	if [ -n "$$own_policy" ]; then rm -f $$policy; fi; \
	if [ -d /run/systemd/system ]; then \
		systemctl disable --now mosquitto.service postgresql.service redis-server.service \
			>/dev/null 2>&1 || true; \
	elif [ -z "$$own_policy" ]; then \
		for service in mosquitto postgresql redis-server; do service $$service stop >/dev/null 2>&1 || true; done; \
	fi; \
	exit $$rc

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

fmt: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Bytecode for the project's own modules, as an installer writes it for the packages (uv
# with --compile-bytecode): with PYTHONDONTWRITEBYTECODE set, as on some CI machines,
# every process and every workflow sandbox would compile them from source again.
# compileall skips what is up to date.
SOURCES := workflows adapters activities api workers store simulator bench sdk/src tests
bytecode:
	@$(PY) -m compileall -q -j 0 $(SOURCES) >/dev/null

# Two workers, each taking whole files (module fixtures stay together): most tests wait
# on Temporal, the broker or the sandbox, so two share two cores well. TEST_WORKERS=0
# runs the suite in one process.
TEST_WORKERS ?= 2

test: venv system-deps bytecode
	$(MAKE) --no-print-directory lint
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile -m "not scale"

# The multi-replica proof (tests/e2e/faults/test_scale_out.py): minutes of twelve
# processes, so it runs apart from `make test`.
test-scale: venv system-deps
	$(VENV)/bin/pytest -m scale tests/e2e/faults/test_scale_out.py

run: venv-runtime bytecode
	@$(MAKE) --no-print-directory system-deps || echo "system-deps failed; going on without it"
	exec $(PY) -m workers.stack

# Each bench/NAME.py prints one JSON line; `make bench BENCH=NAME` runs one of them.
BENCH ?= $(patsubst bench/%.py,%,$(filter-out bench/_%,$(wildcard bench/*.py)))
bench: venv system-deps
	@set -e; for name in $(BENCH); do $(PY) -m bench.$$name; done

# The SDK's typed models come from the OpenAPI the app serves (dumped without a server),
# its sync clients from the async ones. Run after changing any route or schema.
SDK := sdk/src/kubeedge_cloudcore
sdk-models: venv
	$(PY) sdk/tools/dump_openapi.py > sdk/openapi.json
	$(VENV)/bin/datamodel-codegen --input sdk/openapi.json --input-file-type openapi \
		--output $(SDK)/models.py --output-model-type pydantic_v2.BaseModel \
		--base-class kubeedge_cloudcore._base.Model --disable-timestamp \
		--target-python-version 3.11 --use-annotated --field-constraints \
		--use-standard-collections --use-union-operator --enum-field-as-literal all \
		--collapse-root-models --formatters ruff-format
	$(PY) sdk/tools/unasync_clients.py

clean:
	rm -f $(RUNTIME_STAMP) $(DEV_STAMP)
	rm -rf .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
