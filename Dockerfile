# syntax=docker/dockerfile:1
# Sluice host image: the `host` binary plus the bundled plugins (plugins/dist/*.wasm).
#   docker build -t sluice-host .          (or: docker compose build host)
# Multi-stage: a full Rust toolchain builds, a slim Debian runs.

# ---------------------------------------------------------------- build
FROM rust:1.95-bookworm AS builder
WORKDIR /src

# The plugins are WebAssembly components: they need the wasm32 target
# (scripts/build-plugins.sh then wraps each module with tools/componentize).
RUN rustup target add wasm32-unknown-unknown

# Only what the build needs (BuildKit then never ships target/ or .sluice/ as context).
# Every workspace member must be here: see [workspace] members in Cargo.toml.
COPY Cargo.toml Cargo.lock ./
COPY host host
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
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    bash scripts/build-plugins.sh plugins plugins/dist \
 && cargo build --release --locked -p host \
 && mkdir -p /out/plugins \
 && cp target/release/host /out/host \
 && cp plugins/dist/*.wasm /out/plugins/

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
COPY sluice.toml /etc/sluice/sluice.toml

# The config file keeps the local defaults (127.0.0.1); these point at the compose services.
# The admin endpoint (/metrics, /healthz) must listen on all interfaces inside a container.
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
