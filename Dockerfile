# Airbyte source: Microsoft 365 license usage through Microsoft Graph (client credentials).
# Build: make image   (= docker build --build-arg CONNECTOR_VERSION=<metadata.yaml dockerImageTag>
#                        -t source-dynamics365-cc:<that version> .)
# Run:   docker run --rm source-dynamics365-cc:<version> spec

# Airbyte's Python connector base (Python 3.11, Debian bookworm), pinned by digest.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73

FROM ${BASE_IMAGE} AS builder
WORKDIR /airbyte/integration_code
# The dependencies exactly as locked (versions and hashes: `make lock`), the same tree `make test` tests.
COPY requirements-image.lock ./
RUN pip install --no-cache-dir --root-user-action=ignore --require-hashes --no-deps -r requirements-image.lock
# The connector itself, built by the locked setuptools (no build isolation: nothing unlocked is fetched).
# setup.py reads the version from metadata.yaml. Installs under /usr/local; the sources stay in this stage.
COPY setup.py main.py metadata.yaml ./
COPY source_dynamics365_cc/ ./source_dynamics365_cc/
RUN pip install --no-cache-dir --root-user-action=ignore --no-deps --no-build-isolation .

FROM ${BASE_IMAGE}
# The version in metadata.yaml (dockerImageTag); `make image` passes it.
ARG CONNECTOR_VERSION=unset
COPY --from=builder /usr/local /usr/local
WORKDIR /airbyte/integration_code

ENV AIRBYTE_ENTRYPOINT="source-dynamics365-cc"
ENTRYPOINT ["source-dynamics365-cc"]

LABEL io.airbyte.name=source-dynamics365-cc \
      io.airbyte.version=${CONNECTOR_VERSION}

# The base image's airbyte user (uid 1000), given by number so runAsNonRoot checks can verify it.
USER 1000:1000
