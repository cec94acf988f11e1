#!/usr/bin/env bash
# Builds every Rust plugin crate under a folder (plugins/ by default) into a
# WebAssembly component at <out>/<name>.wasm.
#
# Toolchains, in order of preference:
#   1. rustup with the wasm32-unknown-unknown target (tries `rustup target add` once);
#   2. Debian's rustc-web + rust-web-src + lld-19, building std from source
#      (works offline: the packages come from Debian's mirrors, not rustup's).
# The core module is then wrapped into a component by tools/componentize.
#
# usage: build-plugins.sh [SRC_DIR] [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-plugins}
out=${2:-plugins/dist}
cd "$root"
mkdir -p "$out"
target_dir="$root/target/wasm"
wasm_target=wasm32-unknown-unknown

say() { printf 'build-plugins: %s\n' "$*" >&2; }

have_rustup_target() {
  command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$wasm_target"
}

toolchain=""
if have_rustup_target; then
  toolchain=rustup
elif command -v rustup >/dev/null && timeout 60 rustup target add "$wasm_target" >/dev/null 2>&1; then
  toolchain=rustup
elif [ -x /usr/bin/rustc ] && /usr/bin/rustc --version 2>/dev/null | grep -q . \
  && [ -d /usr/lib/rustlib/src/rust/library ] && command -v wasm-ld-19 >/dev/null; then
  toolchain=debian
else
  cat >&2 <<'MSG'
build-plugins: no way to build wasm32 plugins on this machine.
Install ONE of:
  - rustup's target (needs internet):   rustup target add wasm32-unknown-unknown
  - Debian's offline toolchain (root):  apt-get install -y rustc-web cargo-web rust-web-src lld-19
MSG
  exit 1
fi

# Collect the plugin crates: every folder with a Cargo.toml naming a cdylib.
packages=()
for manifest in "$src"/*/Cargo.toml; do
  [ -f "$manifest" ] || continue
  grep -q 'cdylib' "$manifest" || continue
  name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n1)
  packages+=("$name")
done
if [ ${#packages[@]} -eq 0 ]; then
  say "no plugin crates under $src/"
  exit 0
fi

export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
args=(build --release --target "$wasm_target" --target-dir "$target_dir")
for p in "${packages[@]}"; do args+=(-p "$p"); done

start=$(date +%s)
case $toolchain in
  rustup)
    say "toolchain: rustup target $wasm_target"
    cargo "${args[@]}"
    ;;
  debian)
    say "toolchain: Debian rustc-web $(/usr/bin/rustc --version | cut -d' ' -f2) with -Zbuild-std (offline)"
    # Debian's compiler with its matching std sources; RUSTC_BOOTSTRAP unlocks build-std.
    RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
      CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-19 \
      cargo "${args[@]}" -Zbuild-std=std,panic_abort
    ;;
esac

cargo build -q -p componentize --target-dir "$root/target"
for p in "${packages[@]}"; do
  module="$target_dir/$wasm_target/release/${p//-/_}.wasm"
  # Write then rename, so a host watching the file never reads half of it.
  "$root/target/debug/componentize" "$module" "$out/.$p.wasm.tmp"
  mv -f "$out/.$p.wasm.tmp" "$out/$p.wasm"
  say "$out/$p.wasm ($(( $(stat -c %s "$out/$p.wasm") / 1024 )) KiB)"
done
say "built ${#packages[@]} plugin(s) in $(( $(date +%s) - start )) s"
