//! Prints the records of some topics as JSON lines, from the beginning, then exits once the
//! topics have been quiet for `--idle` seconds. Used by scripts/demo.sh; Debian's kcat is too
//! old for tansu, so the demo brings its own consumer.
//!
//!     cargo run --example tail -- --bootstrap 127.0.0.1:9092 dbz.public.customers dbz.public.orders

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut bootstrap = "127.0.0.1:9092".to_string();
    let mut idle = 3.0f64;
    let mut topics = Vec::new();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bootstrap" => bootstrap = args.next().expect("--bootstrap HOST:PORT"),
            "--idle" => {
                idle = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--idle SECONDS")
            }
            t => topics.push(t.to_string()),
        }
    }
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "pgcdc-tail")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for t in &topics {
        let md = consumer
            .fetch_metadata(Some(t), Duration::from_secs(10))
            .expect("metadata");
        for mt in md.topics() {
            for p in mt.partitions() {
                tpl.add_partition_offset(t, p.id(), Offset::Beginning)
                    .unwrap();
            }
        }
    }
    consumer.assign(&tpl).expect("assign");
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs_f64(idle) {
        let Some(res) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = match res {
            Ok(m) => m,
            Err(e) => {
                eprintln!("tail: {e}");
                continue;
            }
        };
        last = Instant::now();
        let text = |b: Option<&[u8]>| match b {
            Some(b) => serde_json::from_slice::<serde_json::Value>(b)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(b).into())),
            None => serde_json::Value::Null,
        };
        let headers: serde_json::Map<String, serde_json::Value> = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| {
                        (
                            h.key.to_string(),
                            String::from_utf8_lossy(h.value.unwrap_or_default()).into(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut line = serde_json::json!({
            "topic": m.topic(),
            "partition": m.partition(),
            "offset": m.offset(),
            "key": text(m.key()),
            "value": text(m.payload()),
        });
        if !headers.is_empty() {
            line["headers"] = serde_json::Value::Object(headers);
        }
        println!("{line}");
    }
}
