#!/usr/bin/env python3
"""Where one live phase's latency goes, batch by batch.

Reads the host log of `sluice-bench e2e` run with
SLUICE_BENCH_RUST_LOG=info,sluice_pipeline=debug (each batch logs its stage
times) and the phase's `--latencies` CSV, and prints each stage's
percentiles over the phase and its slow batches.

    python3 bench/stage-times.py bench/work/logs/<topic>-sluice.log LAT.csv [phase]

queued_max_ms is the batch's oldest record from its Kafka timestamp to the
start of the batch (producer, broker, consumer, the partition's queue);
the rest are the host's own stages; gate_ms waits for the partition's
previous batch to be written.
"""
import csv
import datetime
import re
import sys

log, lat = sys.argv[1], sys.argv[2]
phase = sys.argv[3] if len(sys.argv) > 3 else "peer"
rows = [x for x in csv.DictReader(open(lat)) if x["phase"] == phase]
if not rows:
    sys.exit(f"no records of phase {phase!r} in {lat}")
t0 = min(int(x["timestamp_ms"]) for x in rows)
t1 = max(int(x["write_time_us"]) for x in rows) / 1e3
batches = []
for line in open(log):
    if "batch done" not in line:
        continue
    at = datetime.datetime.strptime(line[:26], "%Y-%m-%dT%H:%M:%S.%f")
    ms = at.replace(tzinfo=datetime.timezone.utc).timestamp() * 1e3
    if not t0 <= ms <= t1:
        continue
    b = {k: float(v) for k, v in re.findall(r"(\w+)=([\d.]+)", line)}
    b["t"] = ms - t0
    batches.append(b)
if not batches:
    sys.exit("no 'batch done' lines in the phase: was SLUICE_BENCH_RUST_LOG set?")
print(f"phase {phase}: {len(batches)} batches, {sum(b['records'] for b in batches):.0f} records")
stages = ["records", "millis", "queued_max_ms", "decode_ms", "transform_ms", "bind_ms", "gate_ms", "write_ms"]
print(f"{'':15s} {'p50':>8s} {'p90':>8s} {'p99':>8s} {'max':>8s}")
for k in stages:
    v = sorted(b[k] for b in batches)
    q = lambda f: v[min(len(v) - 1, int(len(v) * f))]
    print(f"{k:15s} {q(.5):8.1f} {q(.9):8.1f} {q(.99):8.1f} {v[-1]:8.1f}")
slow = [b for b in batches if b["queued_max_ms"] + b["millis"] > 150]
print(f"batches whose oldest record waited over 150 ms in all: {len(slow)}")
for b in slow[:30]:
    print(
        f"  t={b['t']:7.0f} ms p{b['partition']:.0f} n={b['records']:4.0f} queued={b['queued_max_ms']:5.0f}"
        f" decode={b['decode_ms']:6.1f} transform={b['transform_ms']:6.1f} gate={b['gate_ms']:6.1f} write={b['write_ms']:6.1f}"
    )
