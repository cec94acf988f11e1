#!/usr/bin/env bash
# The main job end to end, on the local services (`just up`): serve users
# locally, ingest N of them into Kafka as Avro, run the flatten pipeline until
# they are all in Cassandra, then stop everything this script started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
n=${DEMO_USERS:-5000}
api_port=${DEMO_API_PORT:-8089}
admin=${SLUICE_ADMIN_LISTEN:-127.0.0.1:9180}
host=target/release/host
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$host" users-api --port "$api_port" & pids+=($!)
"$host" ingest --api "http://127.0.0.1:$api_port/" --count "$n" --format avro

"$host" run --plugin flatten.wasm --admin-listen "$admin" --no-watch & run_pid=$!
pids+=($run_pid)
echo "demo: pipeline running (status page http://$admin/); waiting for $n rows..."
start=$(date +%s)
while :; do
  # The admin endpoint answers once the host has started; until then, 0.
  written=$( (curl -fsS "http://$admin/metrics" 2>/dev/null || true) | awk '/^sluice_rows_written_total/ {s+=$2} END {print s+0}')
  if [ "${written:-0}" -ge "$n" ]; then break; fi
  if ! kill -0 "$run_pid" 2>/dev/null; then echo "demo: host run exited early" >&2; exit 1; fi
  if [ $(( $(date +%s) - start )) -gt 300 ]; then echo "demo: only ${written:-0} of $n rows after 300 s" >&2; exit 1; fi
  sleep 1
done
echo "demo: $written rows written to sluice.created_users in $(( $(date +%s) - start )) s"
kill -TERM "$run_pid"
wait "$run_pid"
echo "demo: host stopped cleanly"
