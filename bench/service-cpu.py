#!/usr/bin/env python3
"""Cores used by Kafka and Cassandra, and by the whole machine, every half second.

Runs beside `sluice-bench e2e ... --latencies LAT.csv` to see what the
services did while a live phase's records waited (the services are the JVMs
`scripts/services.sh` started, found by their -Dsluice.service= flag):

    python3 bench/service-cpu.py CPU.log &      # stop it with kill after the run
    python3 bench/service-cpu.py --phases CPU.log LAT.csv

The second form prints, per second of each phase in LAT.csv, the records'
p50/p99 latency beside the mean cores of Kafka, Cassandra and the machine.
"""
import collections
import csv
import os
import subprocess
import sys
import time

SERVICES = ("kafka", "cassandra")


def pid_of(service):
    out = subprocess.run(
        ["pgrep", "-f", f"-Dsluice.service={service}"], capture_output=True, text=True
    ).stdout.split()
    if not out:
        sys.exit(f"service-cpu: {service} is not running (scripts/services.sh up)")
    return int(out[0])


def ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def machine_ticks():
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return sum(v) - v[3] - v[4]


def sample(path):
    hz = os.sysconf("SC_CLK_TCK")
    pids = {s: pid_of(s) for s in SERVICES}
    prev = {s: ticks(p) for s, p in pids.items()}
    prev_m, t = machine_ticks(), time.time()
    with open(path, "w") as out:
        while True:
            time.sleep(0.5)
            now = time.time()
            cur = {s: ticks(p) for s, p in pids.items()}
            m = machine_ticks()
            dt = now - t
            cores = " ".join(f"{s}={(cur[s] - prev[s]) / hz / dt:.2f}" for s in SERVICES)
            out.write(f"{now * 1000:.0f} {cores} machine={(m - prev_m) / hz / dt:.2f}\n")
            out.flush()
            prev, prev_m, t = cur, m, now


def phases(cpu_path, lat_path):
    cpu = []
    for line in open(cpu_path):
        t, *kv = line.split()
        cpu.append((int(t), dict(x.split("=") for x in kv)))
    rows = list(csv.DictReader(open(lat_path)))
    for phase in dict.fromkeys(r["phase"] for r in rows):
        mine = [r for r in rows if r["phase"] == phase]
        t0 = min(int(r["timestamp_ms"]) for r in mine)
        by_second = collections.defaultdict(list)
        for r in mine:
            by_second[(int(r["timestamp_ms"]) - t0) // 1000].append(float(r["latency_ms"]))
        print(f"phase {phase}: second, latency p50/p99 (ms), cores kafka / cassandra / machine")
        for s, lat in sorted(by_second.items()):
            lat.sort()
            near = [kv for t, kv in cpu if t0 + s * 1000 <= t < t0 + (s + 1) * 1000]
            mean = lambda k: sum(float(kv[k]) for kv in near) / len(near) if near else float("nan")
            print(
                f"  {s:3d}  {lat[len(lat) // 2]:6.0f} {lat[int(len(lat) * 0.99)]:6.0f}"
                f"   {mean('kafka'):.2f} / {mean('cassandra'):.2f} / {mean('machine'):.2f}"
            )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--phases":
        phases(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 2:
        sample(sys.argv[1])
    else:
        sys.exit(__doc__)
