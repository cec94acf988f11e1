#!/usr/bin/env bash
# Checks Cargo.lock against the RustSec advisory database with cargo-audit
# (`just audit`). Installs cargo-audit from crates.io if it is missing.
#
# The database is a git repository on GitHub (github.com/RustSec/advisory-db).
# Where to get it, in order:
#   1. a vendored copy: $SLUICE_ADVISORY_DB if set, else vendor/advisory-db at the
#      repo root, if that directory holds a checkout (it has crates/); used as it is,
#      never fetched (update it yourself: git -C vendor/advisory-db pull);
#   2. GitHub, if it answers within $SLUICE_AUDIT_TIMEOUT seconds (default 10):
#      cargo-audit fetches it into ~/.cargo/advisory-db;
#   3. the copy a previous run fetched into ~/.cargo/advisory-db, said to be stale.
# With none of them: "advisory database unreachable: skipped", and exit 0 when
# CI=true (an offline CI is not failed for it), else exit 3.
#
# Exit codes: 0 no known vulnerability (or skipped under CI), 1 vulnerabilities
# found or another cargo-audit error (its own code), 2 cargo-audit could not be
# installed or run, 3 no advisory database (outside CI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# cargo-audit's version, pinned; bump it here.
audit_version=0.22.2
db_url=https://github.com/RustSec/advisory-db
vendored=${SLUICE_ADVISORY_DB:-$root/vendor/advisory-db}
cached=${CARGO_HOME:-$HOME/.cargo}/advisory-db
timeout_s=${SLUICE_AUDIT_TIMEOUT:-10}

say() { printf 'audit: %s\n' "$*" >&2; }

# True when GitHub serves the database's git repository within the timeout.
reachable() {
  if command -v curl >/dev/null; then
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout "$timeout_s" \
      --max-time "$timeout_s" "$db_url/info/refs?service=git-upload-pack" 2>/dev/null) || return 1
    [[ $code == 200 ]]
  else
    GIT_TERMINAL_PROMPT=0 timeout "$timeout_s" git ls-remote "$db_url.git" HEAD >/dev/null 2>&1
  fi
}

# Where the database comes from: sets db_args and says which.
db_args=()
if [[ -d $vendored/crates ]]; then
  say "using the vendored advisory database at $vendored ($(git -C "$vendored" log -1 --format='last commit %cs' 2>/dev/null || echo 'not a git checkout'))"
  db_args=(--db "$vendored" --no-fetch --stale)
elif [[ -n ${SLUICE_ADVISORY_DB:-} ]]; then
  say "SLUICE_ADVISORY_DB=$SLUICE_ADVISORY_DB is not a checkout of the advisory database (no crates/ in it)"
  exit 2
elif reachable; then
  say "fetching the advisory database from $db_url"
  db_args=()
elif [[ -d $cached/crates ]]; then
  say "$db_url cannot be reached (tried for up to ${timeout_s} s): using the copy fetched earlier into $cached, which may be stale ($(git -C "$cached" log -1 --format='last commit %cs' 2>/dev/null || echo 'date unknown'))"
  db_args=(--db "$cached" --no-fetch --stale)
else
  say "advisory database unreachable: skipped"
  say "  ($db_url cannot be reached (tried for up to ${timeout_s} s), and there is no copy at"
  say "   $vendored or $cached: put a clone of $db_url at $vendored,"
  say "   or point SLUICE_ADVISORY_DB at one)"
  if [[ ${CI:-} == true ]]; then
    say "  CI=true: not failing the build for it"
    exit 0
  fi
  exit 3
fi

# Only now install cargo-audit: a skip above costs seconds, not a build.
if ! cargo audit --version >/dev/null 2>&1; then
  say "installing cargo-audit $audit_version from crates.io (once; a few minutes)"
  cargo install cargo-audit --locked --version "$audit_version" ||
    { say "could not install cargo-audit $audit_version (needs crates.io)"; exit 2; }
fi
say "cargo-audit $(cargo audit --version | awk '{print $NF}') on Cargo.lock"

status=0
cargo audit "${db_args[@]}" --file Cargo.lock || status=$?
case $status in
  0) say "no known vulnerability in Cargo.lock" ;;
  1) say "cargo audit failed: vulnerable dependencies listed above (update them: cargo update -p NAME; one that does not apply goes in .cargo/audit.toml [advisories] ignore, with a reason), or the error it printed" ;;
  *) say "cargo audit failed (exit $status)"; status=2 ;;
esac
exit $status
