//! The Kafka sink against a real broker: topics are created, records arrive keyed and in order
//! with their headers, and the acknowledged count covers them only after the broker acked.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::kafka::TestKafka;
use pgcdc::format::Record;
use pgcdc::sink::kafka::{KafkaSink, KafkaSinkConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_arrive_in_order_with_keys_and_headers() {
    let kafka = TestKafka::start();
    let mut sink = KafkaSink::new(KafkaSinkConfig {
        bootstrap_servers: kafka.bootstrap(),
        ..Default::default()
    })
    .unwrap();
    let topic: Arc<str> = Arc::from("t.public.items");
    for i in 0..500 {
        let rec = Record {
            topic: topic.clone(),
            key: Some(format!("{{\"id\":{}}}", i % 7).into_bytes()),
            value: if i == 499 {
                None
            } else {
                Some(format!("{{\"n\":{i}}}").into_bytes())
            },
            headers: vec![
                ("h".into(), Some(format!("{i}").into_bytes().into())),
                ("n".into(), None),
            ],
            event_id: None,
        };
        sink.send(&rec).await.unwrap();
    }
    assert_eq!(sink.sent(), 500);
    tokio::time::timeout(Duration::from_secs(30), sink.acks().wait_for(500))
        .await
        .expect("acknowledged within 30 s")
        .expect("no delivery failed");
    let recs = tokio::task::spawn_blocking(move || {
        kafka.read_topic("t.public.items", 500, Duration::from_secs(30))
    })
    .await
    .unwrap();
    assert_eq!(recs.len(), 500);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.key, Some(serde_json::json!({"id": i % 7})));
        assert_eq!(r.header("h"), Some(format!("{i}").as_bytes()));
        // A header without a value arrives as one.
        assert_eq!(r.headers[1], ("n".to_string(), None));
        if i == 499 {
            assert!(r.value.is_none(), "tombstone keeps a null value");
        } else {
            assert_eq!(r.value, Some(serde_json::json!({"n": i})));
        }
    }
}
