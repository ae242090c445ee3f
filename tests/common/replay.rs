//! Tables of `(id, v)` rows, compared key by key with what a consumer of their topic ends up
//! holding: the check of every snapshot test (initial and incremental).

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use super::kafka::Rec;
use super::pg::TestPg;

/// Replays a topic key by key: the last value wins, deletes and tombstones remove the key.
/// Values are projected to `{"id":..,"v":..}`, the columns the tables share.
pub fn replay(recs: &[Rec]) -> BTreeMap<i64, Value> {
    let mut state = BTreeMap::new();
    for r in recs {
        let id = r.key.as_ref().unwrap()["id"].as_i64().unwrap();
        match &r.value {
            None => {
                state.remove(&id);
            }
            Some(v) if v["op"] == "d" => {
                state.remove(&id);
            }
            Some(v) => {
                let a = &v["after"];
                state.insert(id, json!({"id": a["id"], "v": a["v"]}));
            }
        }
    }
    state
}

/// `id -> {"id":..,"v":..}` as `table` holds it now.
pub fn table_state(pg: &TestPg, table: &str) -> BTreeMap<i64, Value> {
    pg.psql(&format!("SELECT id, v FROM {table} ORDER BY id"))
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (id, v) = l.split_once('|').unwrap();
            let id: i64 = id.parse().unwrap();
            (id, json!({"id": id, "v": v.parse::<i64>().unwrap()}))
        })
        .collect()
}

/// A psql session in the background running `sql` (a concurrent writer).
pub fn background_psql(pg: &TestPg, sql: &str) -> Child {
    Command::new(pg.bin("psql"))
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
        .args(["-U", "postgres", "-p", &pg.port().to_string()])
        .args(["-d", "postgres", "-c", sql])
        .stdout(Stdio::null())
        .spawn()
        .expect("psql")
}
