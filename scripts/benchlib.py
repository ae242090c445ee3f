"""What the benchmark drivers (bench_latency.py, soak.py) share: the database, slots,
topics and pgcdc processes of a run under scripts/bench-env.sh."""

import os
import signal
import subprocess
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TABLE = "lat"
PUBLICATION = "lat_pub"
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP", "")
PGCDC = os.environ.get("PGCDC_BIN", "")


def psql(sql):
    out = subprocess.run(
        ["psql", "-X", "-Atq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True, capture_output=True, text=True,
    )
    return out.stdout.strip()


def setup_database():
    psql(f"DROP PUBLICATION IF EXISTS {PUBLICATION}")
    psql(f"DROP TABLE IF EXISTS {TABLE}")
    psql(f"CREATE TABLE {TABLE} (id bigserial PRIMARY KEY, v int NOT NULL, pad text NOT NULL)")
    psql(f"CREATE PUBLICATION {PUBLICATION} FOR TABLE {TABLE}")


def rows():
    return int(psql(f"SELECT count(*) FROM {TABLE}"))


def create_slot(name, plugin):
    drop_slot(name)
    psql(f"SELECT pg_create_logical_replication_slot('{name}', '{plugin}')")


def drop_slot(name):
    for _ in range(50):
        try:
            psql(f"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '{name}'")
            return
        except subprocess.CalledProcessError:
            time.sleep(0.2)  # still active until its walsender exits


def slot_lag_bytes(name):
    v = psql(
        "SELECT pg_current_wal_lsn() - confirmed_flush_lsn FROM pg_replication_slots "
        f"WHERE slot_name = '{name}'"
    )
    return int(v) if v else None


def create_topic(topic):
    """One partition, stamped by the broker on append (LogAppendTime)."""
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    spec = NewTopic(topic, 1, 1, config={"message.timestamp.type": "LogAppendTime"})
    for f in admin.create_topics([spec]).values():
        f.result(30)


def consumer_at_start(topic):
    c = Consumer({
        "bootstrap.servers": BOOTSTRAP,
        "group.id": f"bench-{topic}-{time.time_ns()}",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 5,
        "auto.offset.reset": "earliest",
    })
    c.assign([TopicPartition(topic, 0, 0)])
    return c


def write_configs(work, prefix, slot, props=None, http=None):
    """The process config and connector file of one pgcdc run; returns their paths. `props`:
    producer properties for [sink.properties]."""
    process = os.path.join(work, f"{prefix}-pgcdc.toml")
    listen = f'enabled = true\nlisten = "{http}"' if http else "enabled = false"
    with open(process, "w") as f:
        f.write(f'data_dir = "{work}/data-{prefix}"\n[log]\nlevel = "warn"\n[http]\n{listen}\n')
    connector = os.path.join(work, f"{prefix}.toml")
    lines = "".join(f'"{k}" = "{v}"\n' for k, v in (props or {}).items())
    props = f"\n[sink.properties]\n{lines}" if lines else ""
    with open(connector, "w") as f:
        f.write(f"""name = "{prefix}"
topic_prefix = "{prefix}"
[database]
host = "{os.environ['PGHOST']}"
port = "{os.environ['PGPORT']}"
user = "{os.environ['PGUSER']}"
dbname = "{os.environ['PGDATABASE']}"
sslmode = "disable"
[slot]
name = "{slot}"
[publication]
name = "{PUBLICATION}"
autocreate_mode = "disabled"
[format]
type = "json"
schemas = false
[snapshot]
mode = "no_data"
[sink]
type = "kafka"
bootstrap_servers = "{BOOTSTRAP}"
{props}""")
    return process, connector


def spawn_pgcdc(process, connector):
    return subprocess.Popen(
        [PGCDC, "--config", process, "run", connector],
        stdout=subprocess.DEVNULL, stderr=open(connector + ".log", "w"),
    )


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def pgbench_script(work, changes_per_tx):
    path = os.path.join(work, "insert.sql")
    with open(path, "w") as f:
        f.write(f"INSERT INTO {TABLE} (v, pad) SELECT g, repeat('x', 40) FROM generate_series(1, {changes_per_tx}) g;\n")
    return path


def committing_env():
    """The environment for pgbench: the bench cluster runs with synchronous_commit = off,
    under which a commit reaches logical decoding only when the WAL writer flushes (every
    wal_writer_delay, 200 ms); the workload's sessions turn it on, as most deployments have it."""
    return dict(os.environ, PGOPTIONS="-c synchronous_commit=on")


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]
