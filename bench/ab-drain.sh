#!/usr/bin/env bash
# Backlog drains of two host binaries, alternated, on the running services:
# drain rate, host CPU per record and RSS during the drain, and the RSS two
# seconds after the (short) live phases. For A/B checks of one change; the
# figures vary from run to run on a shared machine, so compare the spread.
#
#   bash bench/ab-drain.sh OLD_HOST NEW_HOST [ROUNDS] [COUNT]
#
# HOST_CONFIG=FILE gives both hosts that config file (e.g. a smaller
# pipeline.max-buffered-per-partition). OLD_PLUGIN=FILE and NEW_PLUGIN=FILE
# give each side its own flatten component (default plugins/dist/flatten.wasm),
# to A/B a change of the SDK or the plugin with the same host.
#
# Needs `just up` and a release build of sluice-bench
# (cargo build --release -p sluice-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: bench/ab-drain.sh OLD_HOST NEW_HOST [ROUNDS] [COUNT]}
new=${2:?usage: bench/ab-drain.sh OLD_HOST NEW_HOST [ROUNDS] [COUNT]}
rounds=${3:-2} count=${4:-50000}
work=$(mktemp -d)
config=()
[[ -n ${HOST_CONFIG:-} ]] && config=(--host-config "$(realpath "$HOST_CONFIG")")
printf '| run | host | drain rows/s | host CPU us/record | RSS mean MB | RSS peak MB | RSS after MB |\n|---|---|---:|---:|---:|---:|---:|\n'
for i in $(seq 1 "$rounds"); do
  for side in old new; do
    bin=$old plugin=${OLD_PLUGIN:-plugins/dist/flatten.wasm}
    [[ $side == new ]] && bin=$new plugin=${NEW_PLUGIN:-plugins/dist/flatten.wasm}
    target/release/sluice-bench --json "$work/$side-$i.json" e2e --system sluice \
      --count "$count" --live-seconds 1 --full-rate 500 --host-bin "$bin" --plugin "$plugin" "${config[@]}" >"$work/$side-$i.log" 2>&1 ||
      { echo "ab-drain: run $side $i failed (log $work/$side-$i.log)" >&2; exit 1; }
    python3 - "$work/$side-$i.json" "$i" "$side" "$count" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); u = r["drain_usage"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {r['drain_rate']:,.0f} | {u['cpu_s'] * 1e6 / int(sys.argv[4]):.1f} "
      f"| {u['rss_mean_mb']:.1f} | {u['rss_peak_mb']:.1f} | {r['rss_idle_mb']:.1f} |")
PY
  done
done
