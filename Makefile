# Two commands for a newcomer: `make demo` (a real sync against the bundled Graph emulator) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The connector's version lives in metadata.yaml (dockerImageTag); setup.py reads it from there too.
VERSION := $(shell sed -n 's/^ *dockerImageTag: *//p' metadata.yaml)
IMAGE ?= source-dynamics365-cc:$(VERSION)
CONTAINER_ENGINE ?= docker

.PHONY: demo test lint image image-test bench clean

$(STAMP): setup.py requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[tests]' -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m tools.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) lint
	$(BIN)/python -m pytest -q -n auto -m "not image_tests and not requires_creds"

# Build the connector image under a name of your own (not airbyte/: that is Airbyte's namespace).
image:
	$(CONTAINER_ENGINE) build --build-arg CONNECTOR_VERSION=$(VERSION) -t $(IMAGE) .
	@echo
	@echo "Built $(IMAGE). To use it in Airbyte, push it to a registry your Airbyte can pull from:"
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
