//! The signal table (Debezium's `signal.data.collection`): a table with three text columns
//! (id, type, data). Rows inserted into it reach pgcdc through the replication stream, so a
//! signal takes effect at its place in the WAL; pgcdc writes its window markers there too.

use bytes::Bytes;
use tokio_postgres::Client;

use super::Signal;
use crate::source::pgoutput::{TupleData, TupleValue};
use crate::source::replication::quote_ident;

/// `"schema"."table"`.
pub fn qualified(schema: &str, table: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(table))
}

/// Inserts a signal row (positionally, as Debezium does: the first three columns are id, type
/// and data whatever their names) and commits it.
pub async fn insert(
    client: &Client,
    schema: &str,
    table: &str,
    signal: &Signal,
) -> Result<(), tokio_postgres::Error> {
    let sql = format!(
        "INSERT INTO {} VALUES ($1, $2, $3)",
        qualified(schema, table)
    );
    client
        .execute(&sql, &[&signal.id, &signal.kind, &signal.data])
        .await
        .map(|_| ())
}

/// The signal a streamed row of the signal table carries; `None` when its first two columns
/// are not text (not a signal table after all).
pub fn from_tuple(tuple: &TupleData) -> Option<Signal> {
    let text = |i: usize| -> Option<String> {
        match tuple.0.get(i) {
            Some(TupleValue::Text(b)) => Some(utf8(b)),
            Some(TupleValue::Null) | None => None,
            _ => None,
        }
    };
    Some(Signal {
        id: text(0)?,
        kind: text(1)?,
        data: text(2).unwrap_or_default(),
    })
}

fn utf8(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_signals() {
        let t = |s: &'static str| TupleValue::Text(Bytes::from_static(s.as_bytes()));
        let row = TupleData(vec![t("id-1"), t("pause-snapshot"), TupleValue::Null]);
        let s = from_tuple(&row).unwrap();
        assert_eq!(
            (s.id.as_str(), s.kind.as_str(), s.data.as_str()),
            ("id-1", "pause-snapshot", "")
        );
        assert!(from_tuple(&TupleData(vec![t("x")])).is_none());
        assert_eq!(qualified("public", "Sig"), "\"public\".\"Sig\"");
    }
}
