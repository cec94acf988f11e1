# Sluice tasks. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Build every plugin under plugins/ into plugins/dist/<name>.wasm
build-plugins:
    bash scripts/build-plugins.sh plugins plugins/dist

# Start a new plugin crate at plugins/NAME from templates/plugin (docs/writing-transforms.md)
new-plugin NAME:
    bash templates/plugin/new-plugin.sh {{quote(NAME)}}

# Build the misbehaving test guests (endless loop, memory bomb, ...) into target/test-guests
build-test-guests:
    bash scripts/build-plugins.sh test-guests target/test-guests

# Build the host binary (release)
build: build-plugins
    cargo build --release -p host

# The main job: services up, 5,000 users ingested as Avro, flattened into Cassandra
demo: setup build-plugins
    cargo build --release -p host
    bash scripts/services.sh up
    bash scripts/demo.sh

# Start Kafka, the Schema Registry and Cassandra on 127.0.0.1 (downloads them the first time)
up:
    bash scripts/services.sh up

# Stop the services started by `just up`
down:
    bash scripts/services.sh down

# Which services run
status:
    bash scripts/services.sh status

# Install what a fresh machine lacks (just, a wasm32 toolchain)
# The Python that scripts/build-plugins.sh installs componentize-py into.
py := env_var_or_default("SLUICE_TOOLS_DIR", env_var_or_default("XDG_CACHE_HOME", env_var("HOME") / ".cache") / "sluice/tools") / "componentize-py-0.25.1/bin/python"

setup:
    bash scripts/setup.sh

# Every test: unit tests, engine tests on the test guests, and integration
# tests against the real services (started here if not running, and stopped after)
test: setup build-plugins build-test-guests
    cd sdk/js && node --test
    cd plugins/flatten-js && node --test
    {{py}} -m unittest discover -s sdk/python/tests
    {{py}} -m unittest discover -s plugins/flatten-py
    bash scripts/with-services.sh cargo test --workspace --no-fail-fast
    {{just_executable()}} test-outages

# host/tests/outages.rs stops and starts the shared services itself, so nothing else may use them.
# Outage tests: Cassandra, Kafka, the registry stopped in turn under load; run alone, one at a time
test-outages:
    bash scripts/with-services.sh cargo test -p host --no-fail-fast --test outages --test fleet -- --ignored --test-threads=1

# Validate the Kubernetes manifests in deploy/k8s (kubernetes-validate, strict; KEDA schema; cross-file checks)
validate-k8s:
    bash scripts/validate-k8s.sh

# Formatting and lints, as CI checks them
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Known vulnerabilities in Cargo.lock (cargo-audit, RustSec advisory database); see scripts/audit.sh
audit:
    bash scripts/audit.sh

# Benchmarks, side by side: stage (native vs Wasm), end to end vs the seeds' Spark job,
# the ceiling, hot-swap stalls (docs/benchmarks.md). `just bench --quick` for a smoke run.
bench *ARGS:
    bash bench/run.sh {{ARGS}}
