#!/usr/bin/env bash
# Builds every plugin under a folder (plugins/ by default) into a WebAssembly
# component at <out>/<name>.wasm (<name>: a Rust crate's name, else the folder's):
#   - a Rust crate (Cargo.toml naming a cdylib), with cargo;
#   - a JavaScript plugin (package.json, build.mjs), with componentize-js,
#     installed by npm into the plugin's own node_modules/;
#   - a Python plugin (app.py and pyproject.toml), with componentize-py,
#     installed by pip into a venv under ~/.cache/sluice/tools.
# Both componentizers work offline once installed; only the first install
# needs the npm registry or PyPI.
#
# Rust toolchains, in order of preference:
#   1. rustup with the wasm32-unknown-unknown target (tries `rustup target add` once);
#   2. Debian's rustc-web + rust-web-src + lld-19, building std from source
#      (works offline: the packages come from Debian's mirrors, not rustup's).
# The core module is then wrapped into a component by tools/componentize.
#
# JavaScript and Python plugins are rebuilt only when a file in their folder,
# in wit/ or this script is newer than their component.
#
# SLUICE_SKIP_LANGS skips whole languages on request: a comma or space separated
# list of rust, js (javascript), py (python); e.g. SLUICE_SKIP_LANGS=js,py builds
# only the Rust plugins and needs neither Node.js nor Python. What it skips is
# said, plugin by plugin; their components are not built (an old one in OUT_DIR
# is left as it is). Unset (the default), every plugin is built.
#
# usage: build-plugins.sh [SRC_DIR] [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=${1:-plugins}
out=${2:-plugins/dist}
cd "$root"
mkdir -p "$out"
out_abs=$(cd "$out" && pwd)
target_dir="$root/target/wasm"
wasm_target=wasm32-unknown-unknown
# componentize-py's version, pinned; bump it here (the venv is per version).
componentize_py_version=0.25.1
tools_dir=${SLUICE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/tools}

say() { printf 'build-plugins: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# Collect the plugins by kind.
packages=()   # Rust: every folder with a Cargo.toml naming a cdylib
js_dirs=()    # JavaScript: every folder with a package.json
py_dirs=()    # Python: every folder with app.py and pyproject.toml
for dir in "$src"/*/; do
  dir=${dir%/}
  if [ -f "$dir/Cargo.toml" ]; then
    grep -q 'cdylib' "$dir/Cargo.toml" || continue
    name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n1)
    packages+=("$name")
  elif [ -f "$dir/package.json" ]; then
    js_dirs+=("$dir")
  elif [ -f "$dir/app.py" ] && [ -f "$dir/pyproject.toml" ]; then
    py_dirs+=("$dir")
  fi
done
if [ $(( ${#packages[@]} + ${#js_dirs[@]} + ${#py_dirs[@]} )) -eq 0 ]; then
  say "no plugins under $src/"
  exit 0
fi

# Languages skipped on request (SLUICE_SKIP_LANGS), before any toolchain check.
skip_langs=${SLUICE_SKIP_LANGS:-}
skipped=()
# Says what skipping LANG leaves out: the plugins (given as the rest) and their components.
skip_note() {
  local lang=$1 what
  shift
  [ $# -gt 0 ] || { say "SLUICE_SKIP_LANGS: no $lang plugins under $src/ to skip"; return 0; }
  for what in "$@"; do
    skipped+=("$what")
  done
  say "SKIPPED $lang plugins, as SLUICE_SKIP_LANGS=$skip_langs asks: $* (no $out/*.wasm built for them)"
}
IFS=$', \t' read -ra skip_list <<<"$skip_langs"
seen_langs=" "
for lang in ${skip_list[@]+"${skip_list[@]}"}; do
  lang=${lang,,}
  case $lang in js|javascript|node) lang=js ;; py|python) lang=py ;; rs) lang=rust ;; esac
  # Empty items ("js,,py") and repeats are fine: each language is skipped once.
  [[ -n $lang && $seen_langs != *" $lang "* ]] || continue
  seen_langs+="$lang "
  case $lang in
    rust)
      skip_note Rust ${packages[@]+"${packages[@]}"}
      packages=() ;;
    js)
      skip_note JavaScript ${js_dirs[@]+"${js_dirs[@]}"}
      js_dirs=() ;;
    py)
      skip_note Python ${py_dirs[@]+"${py_dirs[@]}"}
      py_dirs=() ;;
    *) die "SLUICE_SKIP_LANGS: unknown language '$lang' (known: rust, js, py)" ;;
  esac
done

# Check every toolchain needed before building anything, so a missing one
# fails in a second, not after the Rust build.
toolchain=""
if [ ${#packages[@]} -gt 0 ]; then
  have_rustup_target() {
    command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$wasm_target"
  }
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
fi
if [ ${#js_dirs[@]} -gt 0 ]; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    die "JavaScript plugins (${js_dirs[*]}) need Node.js (20 tested) and npm to build with componentize-js. Install them (Debian, as root: apt-get install -y nodejs npm), then run this again."
  fi
fi
if [ ${#py_dirs[@]} -gt 0 ]; then
  if ! command -v python3 >/dev/null; then
    die "Python plugins (${py_dirs[*]}) need python3 (with venv) to install componentize-py. Install it (Debian, as root: apt-get install -y python3 python3-venv), then run this again."
  fi
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    die "Python plugins (${py_dirs[*]}) need Python's venv module to install componentize-py. Install it (Debian, as root: apt-get install -y python3-venv), then run this again."
  fi
fi

start=$(date +%s)
built=0

# --- Rust ---------------------------------------------------------------------
if [ ${#packages[@]} -gt 0 ]; then
  export CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true CARGO_PROFILE_RELEASE_LTO=true CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
  args=(build --release --target "$wasm_target" --target-dir "$target_dir")
  case $toolchain in
    rustup) say "toolchain: rustup target $wasm_target" ;;
    debian) say "toolchain: Debian rustc-web $(/usr/bin/rustc --version | cut -d' ' -f2) with -Zbuild-std (offline)" ;;
  esac
  cargo_wasm() {
    case $toolchain in
      rustup) cargo "${args[@]}" "$@" ;;
      # Debian's compiler with its matching std sources; RUSTC_BOOTSTRAP unlocks build-std.
      debian) RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 \
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-19 \
        cargo "${args[@]}" -Zbuild-std=std,panic_abort "$@" ;;
    esac
  }

  # SLUICE_TOOLS_TARGET_DIR: where componentize itself is built. A build
  # script that calls this one sets it, since the outer cargo holds target/.
  # (Not tools_dir: the Python plugins' venv below lives there.)
  componentize_dir=${SLUICE_TOOLS_TARGET_DIR:-$root/target}
  cargo build -q -p componentize --target-dir "$componentize_dir"
  # One cargo run per crate, each componentized at once: a plugin may use
  # another as a library without its `export` feature (filter wraps flatten),
  # and one run for all would unify features and link both sets of exports;
  # a later run may also overwrite the earlier one's .wasm as a dependency.
  for p in "${packages[@]}"; do
    cargo_wasm -p "$p"
    module="$target_dir/$wasm_target/release/${p//-/_}.wasm"
    # Write then rename, so a host watching the file never reads half of it.
    "$componentize_dir/debug/componentize" "$module" "$out/.$p.wasm.tmp"
    mv -f "$out/.$p.wasm.tmp" "$out/$p.wasm"
    say "$out/$p.wasm ($(( $(stat -c %s "$out/$p.wasm") / 1024 )) KiB)"
    built=$((built + 1))
  done
fi

# --- JavaScript and Python ----------------------------------------------------

# True when <dist> exists and nothing it is built from is newer: the plugin's
# folder (less node_modules and caches), wit/, the SDKs (the in-tree plugins
# import them by path) and this script (which pins componentize-py and says
# how to build).
up_to_date() {
  local dir=$1 dist=$2
  [ -f "$dist" ] || return 1
  [ -z "$(find "$dir" "$root/wit" "$root/sdk/js" "$root/sdk/python/src" "$root/scripts/build-plugins.sh" \
    \( -name node_modules -o -name __pycache__ \) -prune -o \
    -type f -newer "$dist" -print -quit)" ]
}

# Reports a freshly built component, and counts it.
report() {
  local dist=$1 started=$2
  say "$dist ($(( $(stat -c %s "$dist") / 1024 )) KiB, $(( $(date +%s) - started )) s)"
  built=$((built + 1))
}

for dir in "${js_dirs[@]}"; do
  name=$(basename "$dir")
  dist="$out/$name.wasm"
  if up_to_date "$dir" "$dist"; then
    say "$dist is up to date"
    continue
  fi
  [ -f "$dir/build.mjs" ] || die "$dir has a package.json but no build.mjs; see plugins/flatten-js/build.mjs for one that calls componentize()"
  started=$(date +%s)
  # node_modules is installed once and reused until package.json or the lock
  # file changes (npm writes node_modules/.package-lock.json on every install).
  stamp="$dir/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$dir/package.json" -nt "$stamp" ] \
    || { [ -f "$dir/package-lock.json" ] && [ "$dir/package-lock.json" -nt "$stamp" ]; }; then
    # `npm install`, not `npm ci`: it installs the versions package-lock.json
    # pins all the same, but does not refuse a lock file that lacks optional
    # packages for other platforms (which registry mirrors may not carry).
    say "$dir: npm install (componentize-js into $dir/node_modules, once)"
    (cd "$dir" && npm install --prefer-offline --no-audit --no-fund --loglevel=error) \
      || die "npm install failed in $dir; it needs the npm registry the first time"
  fi
  say "componentize-js: $dir -> $dist"
  node "$dir/build.mjs" "$out_abs/$name.wasm" || die "componentize-js failed to build $dir (see above)"
  report "$dist" "$started"
done

if [ ${#py_dirs[@]} -gt 0 ]; then
  venv="$tools_dir/componentize-py-$componentize_py_version"
  # The stamp is written last, so an install cut short is redone, not trusted.
  if [ ! -f "$venv/.installed" ]; then
    say "installing componentize-py $componentize_py_version into $venv (once)"
    rm -rf "$venv"
    mkdir -p "$tools_dir"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$componentize_py_version" \
      || die "pip could not install componentize-py==$componentize_py_version into $venv; it needs PyPI the first time"
    touch "$venv/.installed"
  fi
fi
for dir in "${py_dirs[@]}"; do
  name=$(basename "$dir")
  dist="$out/$name.wasm"
  if up_to_date "$dir" "$dist"; then
    say "$dist is up to date"
    continue
  fi
  started=$(date +%s)
  say "componentize-py $componentize_py_version: $dir -> $dist"
  # VIRTUAL_ENV points componentize-py at our venv's site-packages rather than
  # whatever the machine's python3 has installed, so builds do not depend on it.
  # The Python SDK's world (sluice:transform@0.2.0) and its modules, from this checkout.
  VIRTUAL_ENV="$venv" "$venv/bin/componentize-py" -q -d "$root/sdk/python/src/sluice_plugin/wit" -w transformer \
    componentize -p "$dir" -p "$root/sdk/python/src" app -o "$out/.$name.wasm.tmp" \
    || { rm -f "$out/.$name.wasm.tmp"; die "componentize-py failed to build $dir (see above)"; }
  mv -f "$out/.$name.wasm.tmp" "$dist"
  report "$dist" "$started"
done

say "built $built plugin(s) in $(( $(date +%s) - start )) s"
if [ ${#skipped[@]} -gt 0 ]; then
  say "not built (SLUICE_SKIP_LANGS=$skip_langs): ${skipped[*]}"
fi
