#!/usr/bin/env bash
# `just bench`: Sluice side by side with its native baseline, the physical
# ceiling and the seeds' Spark job, on this machine, in one run.
#
#   bash bench/run.sh [--quick] [--count N] [--partitions P] [--host-config FILE] [--no-spark] [--no-swap]
#
# Builds what it needs (release host and bench, plugins, test guests), starts
# the services if they are not running (and stops only those it started),
# sets up the Spark peer under bench/work (pyspark 3.5.7 in a venv, connector
# jars through a throwaway pom), runs stage, ceiling, e2e (Spark, then Sluice)
# and swap, and prints the markdown report, also written to
# bench/results/<date>.md. docs/benchmarks.md explains the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

original_args=("$@")
quick=0 count="" partitions=2 spark=1 swap=1 host_config=()
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --count) count=$2; shift ;;
    --partitions) partitions=$2; shift ;;
    --host-config) host_config=(--host-config "$(realpath "$2")"); shift ;;
    --no-spark) spark=0 ;;
    --no-swap) swap=0 ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if ((quick)); then
  count=${count:-5000} live=10 rounds=3 min_seconds=0.1 swaps=6 repeat=2 mode="quick"
else
  count=${count:-50000} live=30 rounds=7 min_seconds=0.3 swaps=20 repeat=3 mode="full"
fi

work=$root/bench/work
results=$work/results
mkdir -p "$work" "$root/bench/results"
rm -rf "$results"
mkdir -p "$results"
say() { printf '\n== bench: %s\n' "$*" >&2; }

# Builds plugin crates as `just build-plugins` does; if that fails (another
# plugin broken mid-edit), goes on with the component already built, saying so.
build_or_reuse() {
  if ! bash scripts/build-plugins.sh "$1" "$2" >&2; then
    [[ -f $3 ]] || { echo "bench: building $1 failed and $3 is missing" >&2; exit 1; }
    echo "bench: building $1 failed; using the existing $3 ($(date -r "$3" '+%F %T'))" >&2
  fi
}
say "building (release host and bench, plugins, test guests)"
build_or_reuse plugins plugins/dist plugins/dist/flatten.wasm
build_or_reuse test-guests target/test-guests target/test-guests/flatten-v2.wasm
cargo build --release -p host -p sluice-bench >&2
bench=$root/target/release/sluice-bench

if ((spark)); then
  say "Spark peer: pyspark 3.5.7 venv and connector jars under bench/work"
  if [[ ! -x $work/venv/bin/python ]] || ! "$work/venv/bin/python" -c 'import pyspark; assert pyspark.__version__ == "3.5.7"' 2>/dev/null; then
    python3 -m venv "$work/venv"
    "$work/venv/bin/pip" install -q pyspark==3.5.7 >&2
  fi
  if ! compgen -G "$work/spark-jars/spark-cassandra-connector_2.12-*.jar" >/dev/null; then
    (cd bench/spark && mvn -B -q dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$work/spark-jars") >&2
  fi
fi

# Everything against the services runs inside with-services.sh, which starts
# the services that are not running and stops only what it started.
measure() {
  set -euo pipefail
  read -r -a host_config <<<"$host_config_words"
  say "stage: CPU per record, native vs Wasm (no services)"
  "$bench" --json "$results/stage.json" stage --rounds "$rounds" --min-seconds "$min_seconds"

  say "ceiling: the same rows through the smallest writer"
  "$bench" --json "$results/ceiling.json" ceiling --count "$count" --concurrency $((256 * partitions)) --repeat "$repeat"

  also=()
  if ((spark)); then
    say "end to end: the Spark peer"
    if "$bench" --json "$results/e2e-spark.json" e2e --system spark --count "$count" --partitions "$partitions" --live-seconds "$live"; then
      # Sluice also runs at the peer's half load: latencies at the same offered rate.
      also=(--also-rate "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print([p for p in r["phases"] if p["name"] == "half"][0]["offered_rate"])' "$results/e2e-spark.json")")
    else
      echo "bench: the Spark peer failed; its figures are left out (logs in bench/work/logs)" >&2
    fi
  fi

  say "end to end: Sluice"
  "$bench" --json "$results/e2e-sluice.json" e2e --system sluice --count "$count" --partitions "$partitions" --live-seconds "$live" --shadow target/test-guests/flatten-v2.wasm "${also[@]}" "${host_config[@]}"

  if ((swap)); then
    # Swaps under the load of the latency comparison (the peer's half load;
    # a quarter of Sluice's drain without the peer). At half of the drain the
    # two cores are saturated (the report's "machine cores busy"), latency is
    # queueing and what a swap adds is lost in it.
    rate=$(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
peer = [p for p in r["phases"] if p["name"] == "peer"]
print(round(peer[0]["offered_rate"] if peer else r["drain_rate"] / 4))' "$results/e2e-sluice.json")
    say "hot swap: $swaps swaps at $rate users/s"
    "$bench" --json "$results/swap.json" swap --swaps "$swaps" --rate "$rate" --partitions "$partitions" "${host_config[@]}"
  fi
}
export -f measure say
# Arrays do not cross `bash -c`: hand them over as words.
export host_config_words="${host_config[*]}"
export bench results rounds min_seconds count partitions repeat live spark swap swaps
# A drain at full speed plus the harness's count(*) polling ran a 1G Cassandra heap out
# of memory (2026-12-01); services started here get 2G (running ones keep theirs).
export SLUICE_CASSANDRA_HEAP=${SLUICE_CASSANDRA_HEAP:-2G}
bash scripts/with-services.sh bash -c measure

date=$(date +%F)
out=bench/results/$date.md
n=2
while [[ -e $out ]]; do out=bench/results/$date-$n.md; n=$((n + 1)); done
args_used="bash bench/run.sh${original_args[*]:+ ${original_args[*]}}"
parts="N = $count users, $partitions topic partitions, live phases of $live s"
((swap)) && parts+=", $swaps swaps" || parts+=", no swap run"
((spark)) || parts+=", no Spark peer"
note="Mode: $mode${host_config_words:+, host config ${host_config_words#--host-config }} (\`$args_used\`): $parts; commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- host plugins sdk wit 2>/dev/null || echo ' (with uncommitted changes)')."
"$bench" report --results "$results" --date "$date" --note "$note" >"$out"
cat "$out"
echo "bench: report written to $out" >&2
