//! Debezium's context headers (`__debezium.context.*`), which Debezium 3.x puts on every
//! record it emits: the logical name (topic prefix), the task id, the connector type and an id
//! of the connector run (a UUID version 7).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use super::CONNECTOR_NAME;

/// The headers, values as plain UTF-8 strings (what Kafka Connect's default
/// `SimpleHeaderConverter` writes for string headers).
pub fn context_headers(topic_prefix: &str, run_id: &str) -> Vec<(String, Vec<u8>)> {
    [
        ("__debezium.context.connectorLogicalName", topic_prefix),
        ("__debezium.context.taskId", "0"),
        ("__debezium.context.connectorName", CONNECTOR_NAME),
        ("__debezium.context.runId", run_id),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
    .collect()
}

/// 64 bits that differ between calls and processes (std's per-instance random hash keys);
/// a run id needs uniqueness, not cryptographic strength.
fn random_u64(salt: u64) -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(salt);
    h.write_u32(std::process::id());
    h.finish()
}

/// A new UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits.
pub fn new_run_id() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ms = now.as_millis() as u64 & 0xFFFF_FFFF_FFFF;
    let r1 = random_u64(now.as_nanos() as u64);
    let r2 = random_u64(r1);
    let hi = (ms << 16) | 0x7000 | (r1 & 0x0FFF);
    let lo = (r2 & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_uuid_v7_and_distinct() {
        let a = new_run_id();
        let b = new_run_id();
        assert_ne!(a, b);
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('7'), "{a}");
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{a}");
        let ms = u64::from_str_radix(&(parts[0].to_string() + parts[1]), 16).unwrap();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        assert!(now.abs_diff(ms) < 60_000);
    }

    #[test]
    fn context_headers_in_debezium_order() {
        let h = context_headers("dbz", "r");
        let names: Vec<&str> = h.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "__debezium.context.connectorLogicalName",
                "__debezium.context.taskId",
                "__debezium.context.connectorName",
                "__debezium.context.runId"
            ]
        );
        assert_eq!(h[0].1, b"dbz");
        assert_eq!(h[2].1, b"postgresql");
    }
}
