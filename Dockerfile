# syntax=docker/dockerfile:1
# Sluice host image: the `host` binary plus the bundled plugins (plugins/dist/*.wasm).
#   docker build -t sluice-host .          (or: docker compose build host)
#   docker build --build-arg SLUICE_SKIP_LANGS=js,py -t sluice-host .
#                                           Rust plugins only: no npm or PyPI needed
# Multi-stage: the Rust plugins and the host, the JavaScript plugins and the Python
# plugins build in three stages of their own (in parallel, each with only its own
# toolchain); a slim Debian runs, with none of those toolchains in it.

# Languages scripts/build-plugins.sh skips (comma separated: rust, js, py); empty: none.
ARG SLUICE_SKIP_LANGS=""

# ---------------------------------------------------------------- JavaScript plugins
# componentize-js needs Node.js (20 tested) and npm; the official image's, pinned.
FROM node:20.20.0-bookworm-slim AS js-plugins
ARG SLUICE_SKIP_LANGS
WORKDIR /src
COPY wit wit
COPY plugins plugins
COPY scripts/build-plugins.sh scripts/build-plugins.sh
# A node_modules/ from the build context (a developer's checkout) is not trusted: its
# native packages may be another platform's. npm's cache survives between builds.
RUN --mount=type=cache,target=/root/.npm \
    rm -rf plugins/*/node_modules \
 && SLUICE_SKIP_LANGS="rust,py,${SLUICE_SKIP_LANGS}" \
    bash scripts/build-plugins.sh plugins /out/plugins

# ---------------------------------------------------------------- Python plugins
# componentize-py (pinned in scripts/build-plugins.sh) is installed by pip into a venv:
# Debian's python3 with venv is all it needs.
FROM debian:bookworm-slim AS py-plugins
ARG SLUICE_SKIP_LANGS
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY wit wit
COPY plugins plugins
COPY scripts/build-plugins.sh scripts/build-plugins.sh
# The venv (SLUICE_TOOLS_DIR) and pip's cache live in a cache mount: installed once.
RUN --mount=type=cache,target=/root/.cache \
    SLUICE_SKIP_LANGS="rust,js,${SLUICE_SKIP_LANGS}" \
    bash scripts/build-plugins.sh plugins /out/plugins

# ---------------------------------------------------------------- Rust plugins and the host
FROM rust:1.95-bookworm AS builder
ARG SLUICE_SKIP_LANGS
WORKDIR /src

# The plugins are WebAssembly components: they need the wasm32 target
# (scripts/build-plugins.sh then wraps each module with tools/componentize).
RUN rustup target add wasm32-unknown-unknown

# Only what the build needs (BuildKit then never ships target/ or .sluice/ as context).
# Every workspace member must be here: see [workspace] members in Cargo.toml
# (cargo refuses a workspace with a member missing, even to build another one).
COPY Cargo.toml Cargo.lock ./
COPY host host
COPY crates crates
COPY bench/Cargo.toml bench/Cargo.toml
COPY bench/src bench/src
COPY sdk sdk
COPY plugins plugins
COPY tools tools
COPY test-guests test-guests
COPY wit wit
COPY schemas schemas
COPY scripts/build-plugins.sh scripts/build-plugins.sh

# librdkafka is compiled from source by rdkafka-sys (./configure + make, both in this
# image). Cache mounts keep the registry and the target dir between builds; the results
# are copied out of the cached target dir because it is not part of the image layer.
# JavaScript and Python plugins are the other stages' work. The host needs at least one
# plugin (flatten.wasm by default), so skipping rust here leaves the image without it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    SLUICE_SKIP_LANGS="js,py,${SLUICE_SKIP_LANGS}" \
    bash scripts/build-plugins.sh plugins /out/plugins \
 && cargo build --release --locked -p host \
 && cp target/release/host /out/host

# ---------------------------------------------------------------- run
FROM debian:bookworm-slim

# ca-certificates: TLS to brokers/registries outside the compose network;
# curl: the health check. libz (librdkafka's compression) is already in the base image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /var/lib/sluice \
      --shell /usr/sbin/nologin sluice

COPY --from=builder /out/host /usr/local/bin/host
COPY --from=builder /out/plugins/ /usr/local/lib/sluice/plugins/
COPY --from=js-plugins /out/plugins/ /usr/local/lib/sluice/plugins/
COPY --from=py-plugins /out/plugins/ /usr/local/lib/sluice/plugins/
COPY sluice.toml /etc/sluice/sluice.toml

# The config file keeps the local defaults (127.0.0.1); these point at the compose services.
# The admin endpoint (/metrics, /healthz) must listen on all interfaces inside a container,
# so the host refuses to start without SLUICE_ADMIN_TOKEN: pass one at `docker run -e`.
ENV SLUICE_KAFKA_BROKERS=kafka:19092 \
    SLUICE_REGISTRY_URL=http://schema-registry:8081 \
    SLUICE_CASSANDRA_HOSTS=cassandra:9042 \
    SLUICE_ADMIN_LISTEN=0.0.0.0:9180 \
    SLUICE_PLUGIN_DIR=/usr/local/lib/sluice/plugins

# Unprivileged; its home (the working directory) is writable for caches.
USER sluice
WORKDIR /var/lib/sluice
EXPOSE 9180

HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS http://127.0.0.1:9180/healthz || exit 1

ENTRYPOINT ["host"]
CMD ["run", "--plugin", "flatten.wasm", "--config", "/etc/sluice/sluice.toml"]
