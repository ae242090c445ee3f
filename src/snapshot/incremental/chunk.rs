//! One table of an incremental snapshot read in primary-key chunks:
//! `WHERE (key) > (last) AND (key) <= (max) [AND (filter)] ORDER BY key LIMIT n`, with COPY in
//! text format on a connection with the replication session's settings, so every value (keys
//! included) has exactly the text pgoutput sends for it.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio_postgres::Client;

use crate::event::{EventBuilder, TableSchema};
use crate::offsets::incremental::KeyText;
use crate::snapshot::plan;
use crate::snapshot::SnapshotError;
use crate::source::admin::AdminError;
use crate::source::copy_text::{self, RowSplitter};
use crate::source::pgoutput::{TupleData, TupleValue};
use crate::source::replication::quote_ident;

/// A row's key: the text of each key column as it appears in tuples (streamed or read).
pub type Key = Vec<Option<Bytes>>;

/// A table ready to be read in key order.
#[derive(Debug)]
pub struct ChunkTable {
    pub oid: u32,
    /// `schema.table`.
    pub name: String,
    pub schema: Arc<TableSchema>,
    from: String,
    columns: String,
    /// Quoted key columns and their SQL types, in key order.
    key: Vec<(String, String)>,
}

fn db(context: String) -> impl FnOnce(tokio_postgres::Error) -> SnapshotError {
    move |source| SnapshotError::Admin(AdminError::Db { context, source })
}

/// Why a requested table cannot be read incrementally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    NoKey,
}

impl Refusal {
    pub fn message(&self, table: &str) -> String {
        match self {
            Refusal::NotFound => format!("table {table} does not exist; it is skipped"),
            Refusal::NoKey => format!(
                "table {table} has no primary key, so it cannot be read in key order; give it a primary key or set tables.message_key_columns for it; it is skipped"
            ),
        }
    }
}

/// Looks `schema.table` up and registers its schema with `builder`.
pub async fn lookup(
    client: &Client,
    server_version_num: u32,
    builder: &mut EventBuilder,
    schema: &str,
    table: &str,
) -> Result<Result<ChunkTable, Refusal>, SnapshotError> {
    let name = format!("{schema}.{table}");
    let row = client
        .query_opt(
            "SELECT c.oid, c.relkind::text, c.relreplident::text FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
            &[&schema, &table],
        )
        .await
        .map_err(db(format!("cannot look up table {name}")))?;
    let Some(row) = row else {
        return Ok(Err(Refusal::NotFound));
    };
    let oid: u32 = row.get(0);
    let relkind: String = row.get(1);
    let replident: String = row.get(2);
    let d = plan::describe(
        client,
        server_version_num,
        builder,
        oid,
        schema,
        table,
        &relkind,
        &replident,
    )
    .await?;
    if d.schema.key_indices.is_empty() {
        return Ok(Err(Refusal::NoKey));
    }
    let mut key = Vec::with_capacity(d.schema.key_indices.len());
    for &i in &d.schema.key_indices {
        let c = &d.schema.columns[i];
        let ty: String = client
            .query_one(
                "SELECT format_type($1, $2)",
                &[&c.type_oid, &c.type_modifier],
            )
            .await
            .map_err(db(format!("cannot read the type of {name}.{}", c.name)))?
            .get(0);
        key.push((quote_ident(&c.name), ty));
    }
    Ok(Ok(ChunkTable {
        oid,
        name,
        schema: d.schema,
        from: d.from,
        columns: d.columns,
        key,
    }))
}

/// An SQL string literal (the connection runs with standard_conforming_strings on).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl ChunkTable {
    /// The key of a tuple in this table's column order (a streamed row or a read one).
    pub fn key_of(&self, tuple: &TupleData) -> Key {
        self.schema
            .key_indices
            .iter()
            .map(|&i| match tuple.0.get(i) {
                Some(TupleValue::Text(b)) => Some(b.clone()),
                _ => None,
            })
            .collect()
    }

    fn key_list(&self) -> String {
        self.key
            .iter()
            .map(|(c, _)| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `ROW('1'::integer, ...)`.
    fn key_row(&self, key: &KeyText) -> String {
        let values: Vec<String> = self
            .key
            .iter()
            .zip(key)
            .map(|((_, ty), v)| match v {
                Some(v) => format!("{}::{ty}", literal(v)),
                None => format!("NULL::{ty}"),
            })
            .collect();
        format!("ROW({})", values.join(", "))
    }

    fn where_clause(&self, conds: &[String]) -> String {
        if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        }
    }

    /// Reads the largest key (within `filter`), as the snapshot's upper bound.
    pub fn max_key_sql(&self, filter: Option<&str>) -> String {
        let conds: Vec<String> = filter.map(|f| format!("({f})")).into_iter().collect();
        let order = self
            .key
            .iter()
            .map(|(c, _)| format!("{c} DESC"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "COPY (SELECT {} FROM {}{} ORDER BY {order} LIMIT 1) TO STDOUT",
            self.key_list(),
            self.from,
            self.where_clause(&conds)
        )
    }

    /// Reads the next `limit` rows after `after` up to `max`, in key order.
    pub fn chunk_sql(
        &self,
        after: Option<&KeyText>,
        max: &KeyText,
        filter: Option<&str>,
        limit: u32,
    ) -> String {
        let keys = format!("ROW({})", self.key_list());
        let mut conds = Vec::new();
        if let Some(a) = after {
            conds.push(format!("{keys} > {}", self.key_row(a)));
        }
        conds.push(format!("{keys} <= {}", self.key_row(max)));
        if let Some(f) = filter {
            conds.push(format!("({f})"));
        }
        format!(
            "COPY (SELECT {} FROM {}{} ORDER BY {} LIMIT {limit}) TO STDOUT",
            self.columns,
            self.from,
            self.where_clause(&conds),
            self.key_list()
        )
    }

    pub fn columns(&self) -> usize {
        self.schema.columns.len()
    }

    pub fn key_len(&self) -> usize {
        self.key.len()
    }
}

/// A key as stored in the offsets.
pub fn key_text(key: &Key) -> KeyText {
    key.iter()
        .map(|v| v.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()))
        .collect()
}

/// Every value of a tuple as text (a row of key columns only, e.g. the maximum key).
pub fn tuple_text(tuple: &TupleData) -> KeyText {
    tuple
        .0
        .iter()
        .map(|v| match v {
            TupleValue::Text(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

/// Runs a `COPY ... TO STDOUT` and parses each row into `columns` values.
pub async fn copy_rows(
    client: &Client,
    sql: &str,
    columns: usize,
    what: &str,
) -> Result<Vec<TupleData>, SnapshotError> {
    let stream = client
        .copy_out(sql)
        .await
        .map_err(db(format!("cannot read {what}")))?;
    futures_util::pin_mut!(stream);
    let mut splitter = RowSplitter::default();
    let mut lines = Vec::new();
    let mut out = Vec::new();
    while let Some(data) = stream.next().await {
        splitter.push(data.map_err(db(format!("cannot read {what}")))?, &mut lines);
        for line in lines.drain(..) {
            let mut tuple = TupleData(Vec::with_capacity(columns));
            copy_text::parse_row(&line, columns, &mut tuple.0)?;
            out.push(tuple);
        }
    }
    splitter.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventConfig;
    use crate::source::pgoutput::{Column, Message, Relation, ReplicaIdentity};

    fn table() -> ChunkTable {
        let mut b = EventBuilder::new(EventConfig::new("p", "db"));
        let rel = Relation {
            xid: None,
            oid: 7,
            namespace: "s".into(),
            name: "t".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: vec![
                Column {
                    flags: 1,
                    name: "a".into(),
                    type_oid: 23,
                    type_modifier: -1,
                },
                Column {
                    flags: 0,
                    name: "v".into(),
                    type_oid: 25,
                    type_modifier: -1,
                },
                Column {
                    flags: 1,
                    name: "b b".into(),
                    type_oid: 25,
                    type_modifier: -1,
                },
            ],
        };
        b.handle(crate::Lsn::ZERO, &Message::Relation(rel), &mut Vec::new())
            .unwrap();
        ChunkTable {
            oid: 7,
            name: "s.t".into(),
            schema: b.table(7).unwrap().clone(),
            from: "ONLY \"s\".\"t\"".into(),
            columns: "\"a\", \"v\", \"b b\"".into(),
            key: vec![
                ("\"a\"".into(), "integer".into()),
                ("\"b b\"".into(), "text".into()),
            ],
        }
    }

    #[test]
    fn chunk_queries_bound_and_quote_the_key() {
        let t = table();
        let max = vec![Some("9".to_string()), Some("z".to_string())];
        let first = t.chunk_sql(None, &max, None, 10);
        assert_eq!(
            first,
            "COPY (SELECT \"a\", \"v\", \"b b\" FROM ONLY \"s\".\"t\" WHERE ROW(\"a\", \"b b\") <= ROW('9'::integer, 'z'::text) ORDER BY \"a\", \"b b\" LIMIT 10) TO STDOUT"
        );
        let after = vec![Some("3".to_string()), Some("it's".to_string())];
        let next = t.chunk_sql(Some(&after), &max, Some("v > 'x'"), 5);
        assert!(
            next.contains("ROW(\"a\", \"b b\") > ROW('3'::integer, 'it''s'::text) AND ROW(\"a\", \"b b\") <= ROW('9'::integer, 'z'::text) AND (v > 'x') ORDER BY"),
            "{next}"
        );
        assert_eq!(
            t.max_key_sql(Some("v > 'x'")),
            "COPY (SELECT \"a\", \"b b\" FROM ONLY \"s\".\"t\" WHERE (v > 'x') ORDER BY \"a\" DESC, \"b b\" DESC LIMIT 1) TO STDOUT"
        );
    }

    #[test]
    fn keys_come_from_the_key_columns() {
        let t = table();
        let text = |s: &'static str| TupleValue::Text(Bytes::from_static(s.as_bytes()));
        let row = TupleData(vec![text("1"), text("v"), text("k")]);
        let key = t.key_of(&row);
        assert_eq!(key, vec![Some(Bytes::from("1")), Some(Bytes::from("k"))]);
        assert_eq!(
            key_text(&key),
            vec![Some("1".to_string()), Some("k".to_string())]
        );
        let short = TupleData(vec![text("1"), TupleValue::Null]);
        assert_eq!(t.key_of(&short), vec![Some(Bytes::from("1")), None]);
        assert_eq!(tuple_text(&short), vec![Some("1".to_string()), None]);
    }
}
