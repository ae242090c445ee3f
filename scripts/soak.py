#!/usr/bin/env python3
"""Soak driver; run it through scripts/soak.sh.

pgbench commits at a fixed rate for the whole run while pgcdc streams into Kafka; the broker
is paused (SIGSTOP) twice, at a third and at two thirds of the run. Every SAMPLE seconds it
records pgcdc's resident memory, the slot's lag as the server sees it, and the p99 of
pgcdc_commit_to_ack_seconds over the last interval (from the histogram's buckets on /metrics,
so it is a bucket bound). At the end it checks that the topic holds one record per row
inserted and prints the drift of RSS from the settle point to the end and the largest lag.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from confluent_kafka import Consumer, TopicPartition

import benchlib as b

CHANGES_PER_TX = 10
BUCKET = re.compile(r'^pgcdc_commit_to_ack_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\S+)$')


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def buckets(url):
    """Cumulative counts per upper bound, from pgcdc's /metrics."""
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        m = BUCKET.match(line)
        if m:
            out[float(m.group(1))] = float(m.group(2))
    return out


def window_p99(before, after):
    """The smallest bucket bound holding 99% of the samples taken between two readings."""
    bounds = sorted(after)
    total = after.get(float("inf"), 0) - before.get(float("inf"), 0)
    if total <= 0:
        return None
    for le in bounds:
        if after[le] - before.get(le, 0) >= 0.99 * total:
            return le
    return None


def topic_records(topic):
    c = Consumer({"bootstrap.servers": b.BOOTSTRAP, "group.id": f"soak-{time.time_ns()}"})
    low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
    c.close()
    return high - low


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=int, default=3600)
    p.add_argument("--rate", type=int, default=5000, help="changes per second")
    p.add_argument("--sample", type=int, default=10)
    p.add_argument("--pause", type=int, default=30, help="seconds the broker is stopped, twice")
    p.add_argument("--settle", type=int, default=300, help="RSS drift is measured from here")
    args = p.parse_args()
    settle = min(args.settle, args.seconds // 3)
    work = tempfile.mkdtemp(prefix="pgcdc-soak-")
    b.setup_database()
    slot, topic = "soak_slot", f"soak.public.{b.TABLE}"
    b.create_slot(slot, "pgoutput")
    b.create_topic(topic)
    http = f"127.0.0.1:{free_port()}"
    proc = b.spawn_pgcdc(*b.write_configs(work, "soak", slot, http=http))
    metrics = f"http://{http}/metrics"
    time.sleep(2)
    load = subprocess.Popen(
        ["pgbench", "-n", "-c", "2", "-j", "2", "-R", str(args.rate // CHANGES_PER_TX),
         "-T", str(args.seconds), "-f", b.pgbench_script(work, CHANGES_PER_TX)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=b.committing_env(),
    )
    kafka = int(os.environ["KAFKA_PID"])
    pauses = [args.seconds // 3, 2 * args.seconds // 3]
    print(f"soak: {args.rate} changes/s for {args.seconds} s, broker paused {args.pause} s at {pauses} s; pgcdc {b.PGCDC}")
    print(f"{'t s':>6}{'rss MB':>9}{'lag KB':>10}{'p99 ms':>9}")
    samples, prev, t0 = [], buckets(metrics), time.time()
    paused_until = None
    while load.poll() is None:
        time.sleep(args.sample)
        t = time.time() - t0
        if pauses and t >= pauses[0]:
            pauses.pop(0)
            os.kill(kafka, signal.SIGSTOP)
            paused_until = t + args.pause
        if paused_until is not None and t >= paused_until:
            os.kill(kafka, signal.SIGCONT)
            paused_until = None
        cur = buckets(metrics)
        sample = (t, rss_kb(proc.pid) / 1024, (b.slot_lag_bytes(slot) or 0) / 1024, window_p99(prev, cur))
        prev = cur
        samples.append(sample)
        p99 = f"{sample[3] * 1000:.0f}" if sample[3] is not None else "-"
        print(f"{sample[0]:>6.0f}{sample[1]:>9.1f}{sample[2]:>10.0f}{p99:>9}", flush=True)
    if paused_until is not None:
        os.kill(kafka, signal.SIGCONT)
    rows = b.rows()
    deadline = time.time() + 120
    while topic_records(topic) < rows and time.time() < deadline:
        time.sleep(1)
    published = topic_records(topic)
    b.stop(proc)
    report(samples, settle, rows, published)
    if published < rows:
        sys.exit(f"soak: {topic} holds {published} records for {rows} rows inserted")


def report(samples, settle, rows, published):
    after = [s for s in samples if s[0] >= settle] or samples
    start, end = after[0][1], after[-1][1]
    drift = (end - start) / start * 100
    p99s = sorted(s[3] for s in samples if s[3] is not None)
    print(f"rss: {start:.1f} MB at {after[0][0]:.0f} s -> {end:.1f} MB at the end ({drift:+.1f}%), "
          f"max {max(s[1] for s in samples):.1f} MB")
    print(f"slot lag: largest {max(s[2] for s in samples):.0f} KB, at the end {samples[-1][2]:.0f} KB")
    if p99s:
        print(f"p99 commit -> ack per {len(p99s)} intervals (bucket bound): median {p99s[len(p99s) // 2] * 1000:.0f} ms, "
              f"largest {p99s[-1] * 1000:.0f} ms")
    print(f"records: {published} on the topic for {rows} rows inserted")


if __name__ == "__main__":
    main()
