#!/usr/bin/env python3
"""Latency benchmark driver; run it through scripts/bench-latency.sh.

Two figures:
- start -> first event: pgcdc is started on a slot that already holds one change; the time
  from spawning the process to the broker appending the record (LogAppendTime) and to a
  consumer that was already waiting receiving it.
- commit -> acknowledged, at fixed rates: pgbench commits transactions of CHANGES_PER_TX rows
  at a fixed rate while pgcdc (one slot) and pg_recvlogical (another slot, the floor) read the
  same WAL. For pgcdc, a transaction's latency is the broker's append time of its last record
  minus its commit time (source.ts_us); the topic is created with LogAppendTime so the
  broker stamps it, with 1 ms resolution, a moment before it acknowledges. For
  pg_recvlogical, it is the time its COMMIT line (test_decoding with include-timestamp)
  reaches this script minus the commit time in it. Both clocks are this machine's. Warm-up
  transactions are left out.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime

import benchlib as b

CHANGES_PER_TX = 10


def startup_rep(args, work, rep):
    prefix, slot = f"st{rep}", f"lat_st{rep}"
    b.create_slot(slot, "pgoutput")
    b.psql(f"INSERT INTO {b.TABLE} (v, pad) VALUES ({rep}, 'first')")
    topic = f"{prefix}.public.{b.TABLE}"
    b.create_topic(topic)
    consumer = b.consumer_at_start(topic)
    consumer.poll(0.5)  # connected and fetching before the clock starts
    process, connector = b.write_configs(work, prefix, slot, args.props)
    t0 = time.time()
    proc = b.spawn_pgcdc(process, connector)
    msg = None
    while msg is None and time.time() - t0 < 60:
        m = consumer.poll(0.01)
        if m is not None and m.error() is None and m.value() is not None:
            msg = m
    received = time.time()
    b.stop(proc)
    consumer.close()
    b.drop_slot(slot)
    if msg is None:
        sys.exit(f"bench-latency: no record on {topic} within 60 s of starting pgcdc (log: {connector}.log)")
    return msg.timestamp()[1] / 1000 - t0, received - t0


class FloorReader:
    """pg_recvlogical on a test_decoding slot; keeps (commit µs, received µs) per COMMIT."""

    def __init__(self, slot):
        self.samples = []
        self.proc = subprocess.Popen(
            ["pg_recvlogical", "-d", os.environ["PGDATABASE"], "--slot", slot, "--start", "-o", "include-timestamp=1",
             "-F", "1", "-f", "-"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith(b"COMMIT"):
                now = time.time_ns() // 1000
                at = line.decode().split("(at ", 1)[1].rstrip(")\n")
                self.samples.append((commit_us(at), now))

    def stop(self):
        b.stop(self.proc)
        self.thread.join(5)


def commit_us(text):
    """'2026-12-06 02:30:00.123456+00' as microseconds since the epoch."""
    if text[-3] in "+-":
        text += ":00"
    dt = datetime.fromisoformat(text)
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def pgcdc_latencies(topic, since_us, expected_rows, timeout):
    """Per transaction committed after `since_us`: its last record's append time minus its
    commit time, in µs; and how many records the topic held."""
    consumer = b.consumer_at_start(topic)
    last_append, commit, rows = {}, {}, 0
    deadline = time.time() + timeout
    while rows < expected_rows and time.time() < deadline:
        for m in consumer.consume(10000, 0.5):
            if m.error() is not None or m.value() is None:
                continue
            src = json.loads(m.value())["source"]
            tx = src["txId"]
            last_append[tx] = max(last_append.get(tx, 0), m.timestamp()[1] * 1000)
            commit[tx] = src["ts_us"]
            rows += 1
    consumer.close()
    return [last_append[t] - commit[t] for t in commit if commit[t] >= since_us], rows


def summary(values_us):
    """[count, p50, p99, p999, max] with the times in ms."""
    v = sorted(values_us)
    qs = [b.percentile(v, q) / 1000 for q in (0.5, 0.99, 0.999)]
    return [len(v)] + qs + [v[-1] / 1000 if v else float("nan")]


def pgbench(work, rate_changes, seconds):
    tps = rate_changes // CHANGES_PER_TX
    out = subprocess.run(
        ["pgbench", "-n", "-c", "2", "-j", "2", "-R", str(tps), "-T", str(seconds),
         "-f", b.pgbench_script(work, CHANGES_PER_TX)],
        check=True, capture_output=True, text=True, env=b.committing_env(),
    )
    return [line.strip() for line in out.stdout.splitlines() if line.startswith(("tps", "latency average", "rate limit schedule lag"))]


def rate_run(args, work, rate):
    prefix, slot, floor_slot = f"r{rate}", f"lat_r{rate}", f"lat_floor{rate}"
    at_slot = b.rows()
    b.create_slot(slot, "pgoutput")
    b.create_slot(floor_slot, "test_decoding")
    topic = f"{prefix}.public.{b.TABLE}"
    b.create_topic(topic)
    proc = b.spawn_pgcdc(*b.write_configs(work, prefix, slot, args.props))
    floor = FloorReader(floor_slot)
    time.sleep(2)
    pgbench(work, rate, args.warmup)
    since_us = time.time_ns() // 1000
    for line in pgbench(work, rate, args.seconds):
        print(f"    pgbench at {rate} changes/s: {line}")
    expected = b.rows() - at_slot
    time.sleep(2)
    ours, rows = pgcdc_latencies(topic, since_us, expected, 120)
    b.stop(proc)
    floor.stop()
    b.drop_slot(slot)
    b.drop_slot(floor_slot)
    if rows < expected:
        sys.exit(f"bench-latency: {topic} holds {rows} records, expected {expected}")
    theirs = [r - c for c, r in floor.samples if c >= since_us]
    return summary(ours), summary(theirs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rates", default="1000,10000")
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--startup-reps", type=int, default=5)
    p.add_argument("--prop", action="append", default=[], metavar="KEY=VALUE",
                   help="a producer property for [sink.properties], e.g. linger.ms=0 (repeatable)")
    args = p.parse_args()
    args.props = dict(kv.split("=", 1) for kv in args.prop)
    work = tempfile.mkdtemp(prefix="pgcdc-latency-")
    b.setup_database()
    print(f"pgcdc {b.PGCDC} (producer properties: {args.props or 'pgcdc defaults'})")

    appended, received = [], []
    for rep in range(args.startup_reps):
        a, r = startup_rep(args, work, rep)
        appended.append(a * 1000)
        received.append(r * 1000)
    appended.sort()
    received.sort()
    print(f"start -> first event ({args.startup_reps} runs):")
    print(f"  appended by the broker: median {appended[len(appended) // 2]:.0f} ms, max {appended[-1]:.0f} ms")
    print(f"  received by a consumer: median {received[len(received) // 2]:.0f} ms, max {received[-1]:.0f} ms")

    table = []
    for rate in [int(r) for r in args.rates.split(",")]:
        ours, theirs = rate_run(args, work, rate)
        table.append((rate, "pgcdc: commit -> appended by Kafka", ours))
        table.append((rate, "pg_recvlogical: commit -> received", theirs))
        table.append((rate, "added by pgcdc", [ours[0]] + [o - t for o, t in zip(ours[1:], theirs[1:])]))
    print(f"commit -> acknowledged, ms ({CHANGES_PER_TX} changes per transaction, after a {args.warmup} s warm-up):")
    print(f"{'changes/s':>9}  {'':<36}{'txns':>7}{'p50':>8}{'p99':>8}{'p999':>8}{'max':>8}")
    for rate, who, s in table:
        print(f"{rate:>9}  {who:<36}{s[0]:>7}{s[1]:>8.2f}{s[2]:>8.2f}{s[3]:>8.2f}{s[4]:>8.2f}")


if __name__ == "__main__":
    main()
