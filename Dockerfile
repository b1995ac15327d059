# Airbyte source: Microsoft 365 license usage through Microsoft Graph (client credentials).
# Build: docker build -t airbyte/source-dynamics365-cc:dev .
# Run:   docker run --rm airbyte/source-dynamics365-cc:dev spec

# Airbyte's Python connector base (Python 3.11, Debian bookworm), pinned by digest.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.0.2@sha256:9fdb1888c4264cf6fee473649ecb593f56f58e5d0096a87ee0b231777e2e3e73

FROM ${BASE_IMAGE} AS builder
WORKDIR /airbyte/integration_code
COPY setup.py main.py ./
COPY source_dynamics365_cc/ ./source_dynamics365_cc/
# Installs the connector and its dependencies under /usr/local; the sources stay in this stage.
RUN pip install --no-cache-dir --root-user-action=ignore .

FROM ${BASE_IMAGE}
COPY --from=builder /usr/local /usr/local
WORKDIR /airbyte/integration_code

ENV AIRBYTE_ENTRYPOINT="source-dynamics365-cc"
ENTRYPOINT ["source-dynamics365-cc"]

LABEL io.airbyte.name=airbyte/source-dynamics365-cc \
      io.airbyte.version=0.1.0

# The base image's airbyte user (uid 1000), given by number so runAsNonRoot checks can verify it.
USER 1000:1000
