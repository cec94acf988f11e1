#!/usr/bin/env bash
# Installs what building and testing Sluice needs and a fresh machine may
# lack. Idempotent: a second run checks and installs nothing.
#   - just (from PyPI's rust-just wheel if missing)
#   - a wasm32 toolchain for plugins: rustup's target if it can be had,
#     else Debian's rustc-web + rust-web-src + lld-19 (works offline)
#   - curl and python3 for scripts/services.sh (present on most machines)
set -euo pipefail
say() { printf 'setup: %s\n' "$*" >&2; }

if ! command -v just >/dev/null; then
  say "installing just (pip install rust-just)"
  python3 -m pip install --quiet rust-just
fi

if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "wasm toolchain: rustup target wasm32-unknown-unknown"
elif timeout 60 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
  say "wasm toolchain: rustup target wasm32-unknown-unknown (just added)"
elif [ -d /usr/lib/rustlib/src/rust/library ] && command -v wasm-ld-19 >/dev/null; then
  say "wasm toolchain: Debian rustc-web with build-std"
elif command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  say "installing Debian's offline wasm toolchain (rustc-web, rust-web-src, lld-19)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src lld-19 >/dev/null
else
  say "no wasm toolchain: run 'rustup target add wasm32-unknown-unknown', or as root 'apt-get install rustc-web cargo-web rust-web-src lld-19'"
  exit 1
fi

# Headless Chromium for the status page test (host/tests/status_page.rs).
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  say "installing chromium (headless browser for the status page test)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

for tool in curl java mvn python3 node npm; do
  command -v "$tool" >/dev/null || { say "missing $tool: install it (Debian: apt-get install curl openjdk-17-jdk-headless maven python3 python3-venv nodejs npm)"; exit 1; }
done
