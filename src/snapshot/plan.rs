//! What a snapshot reads: the captured tables (publication ∩ table filter), their columns as a
//! Relation message would describe them, and their split into ctid chunks.

use std::sync::Arc;

use tokio_postgres::Client;

use super::SnapshotError;
use crate::config::TableFilter;
use crate::event::{EventBuilder, TableSchema};
use crate::lsn::Lsn;
use crate::source::admin::WAL_POSITION;
use crate::source::catalog;
use crate::source::pgoutput::{Column, Message, Relation, ReplicaIdentity, Type};
use crate::source::replication::quote_ident;

/// pgoutput sends Type messages for types at or above this oid (FirstGenbkiObjectId).
const FIRST_NON_BUILTIN_TYPE: u32 = 10_000;
/// Below this many pages a table is read in one piece: splitting would cost more than it saves.
const MIN_SPLIT_PAGES: i64 = 64;

/// One captured table, ready to be read.
#[derive(Debug)]
pub struct SnapshotTable {
    pub schema: Arc<TableSchema>,
    /// `"schema"."table"`, with `ONLY` for plain tables so inheritance children (captured on
    /// their own) are not read twice.
    from: String,
    /// The quoted column list in attnum order.
    columns: String,
    pub pages: i64,
    /// Heap pages per chunk; `None`: read the table in one piece.
    chunk_pages: Option<i64>,
}

/// A piece of a table: a ctid range (the last one open-ended, so pages added after the size
/// was measured are still read) or the whole table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub table: usize,
    pub index: usize,
    pub start_page: i64,
    pub end_page: Option<i64>,
}

impl SnapshotTable {
    pub fn chunk_count(&self) -> usize {
        match self.chunk_pages {
            None => 1,
            Some(n) => (self.pages.max(1) + n - 1).div_euclid(n) as usize,
        }
    }

    pub fn chunks(&self, table: usize) -> Vec<Chunk> {
        let count = self.chunk_count();
        let n = self.chunk_pages.unwrap_or(0);
        (0..count)
            .map(|i| Chunk {
                table,
                index: i,
                start_page: i as i64 * n,
                end_page: (i + 1 < count).then(|| (i as i64 + 1) * n),
            })
            .collect()
    }

    /// The COPY statement reading `chunk` in text format.
    pub fn copy_sql(&self, chunk: &Chunk) -> String {
        let filter = match (self.chunk_pages, chunk.end_page) {
            (None, _) => String::new(),
            (Some(_), end) => {
                let mut f = format!(" WHERE ctid >= '({},0)'::tid", chunk.start_page);
                if let Some(end) = end {
                    f.push_str(&format!(" AND ctid < '({end},0)'::tid"));
                }
                f
            }
        };
        format!(
            "COPY (SELECT {} FROM {}{filter}) TO STDOUT",
            self.columns, self.from
        )
    }

    pub fn name(&self) -> String {
        format!("{}.{}", self.schema.schema_name, self.schema.table_name)
    }
}

/// Facts about the snapshot transaction itself.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotTxn {
    /// None on a standby, which assigns no transaction ids (Debezium writes a null txId too).
    pub xid: Option<u32>,
    pub wal_lsn: Lsn,
}

fn db(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> SnapshotError {
    let context = context.into();
    move |source| SnapshotError::Admin(crate::source::admin::AdminError::Db { context, source })
}

pub async fn snapshot_txn(client: &Client) -> Result<SnapshotTxn, SnapshotError> {
    let row = client
        .query_one(
            &format!(
                "SELECT CASE WHEN pg_is_in_recovery() THEN NULL \
                 ELSE (txid_current() % 4294967296)::bigint END, {WAL_POSITION}::text"
            ),
            &[],
        )
        .await
        .map_err(db("cannot read the snapshot transaction id"))?;
    let wal: String = row.get(1);
    Ok(SnapshotTxn {
        xid: row.get::<_, Option<i64>>(0).map(|x| x as u32),
        wal_lsn: wal
            .parse()
            .map_err(|_| SnapshotError::Unexpected(format!("WAL position {wal:?}")))?,
    })
}

/// Lists the captured tables in Debezium's snapshot order (by the first `tables.include`
/// pattern each matches, then (schema, table); without an include list (schema, table)) and
/// registers each with `builder` as a
/// Relation message would, with the catalog facts the stream path adds (key columns, NOT NULL,
/// type names, enum labels). Runs inside the snapshot transaction, so the schema is the one the
/// rows were written with.
pub async fn tables(
    client: &Client,
    server_version_num: u32,
    publication: &str,
    filter: &TableFilter,
    builder: &mut EventBuilder,
    chunk_pages: u32,
    parallelism: usize,
) -> Result<Vec<SnapshotTable>, SnapshotError> {
    let rows = client
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text,
                    c.relreplident::text,
                    (pg_relation_size(c.oid) / current_setting('block_size')::bigint)::bigint
             FROM pg_publication_tables pt
             JOIN pg_namespace n ON n.nspname = pt.schemaname
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = pt.tablename
             WHERE pt.pubname = $1
             ORDER BY 2, 3",
            &[&publication],
        )
        .await
        .map_err(db(format!(
            "cannot list the tables of publication {publication:?}"
        )))?;
    // TID range scans (PostgreSQL 14+) make a ctid range cost only its pages; before that each
    // chunk would scan the whole table.
    let can_split = server_version_num >= 140000;
    let mut rows: Vec<_> = rows
        .iter()
        .filter(|r| filter.matches(r.get(1), r.get(2)))
        .collect();
    // Stable: tables matching the same pattern keep the query's (schema, table) order.
    rows.sort_by_key(|r| filter.include_position(r.get(1), r.get(2)));
    let mut out = Vec::new();
    for r in rows {
        let oid: u32 = r.get(0);
        let namespace: String = r.get(1);
        let name: String = r.get(2);
        let relkind: String = r.get(3);
        let replident: String = r.get(4);
        let pages: i64 = r.get(5);
        let d = describe(
            client,
            server_version_num,
            builder,
            oid,
            &namespace,
            &name,
            &relkind,
            &replident,
        )
        .await?;
        let plain = relkind == "r";
        let chunk_pages = (plain && can_split && pages >= MIN_SPLIT_PAGES).then(|| {
            // Spread a table over all workers, but never beyond the configured chunk size.
            let per_worker = (pages + parallelism as i64 - 1) / parallelism as i64;
            per_worker.clamp(1, i64::from(chunk_pages))
        });
        out.push(SnapshotTable {
            schema: d.schema,
            from: d.from,
            columns: d.columns,
            pages,
            chunk_pages,
        });
    }
    Ok(out)
}

/// A table registered with an [`EventBuilder`] the way a Relation message would register it.
pub(crate) struct Described {
    pub schema: Arc<TableSchema>,
    /// `ONLY "schema"."table"` (plain tables) or `"schema"."table"`.
    pub from: String,
    /// The quoted column list in attnum order.
    pub columns: String,
}

/// Builds the schema of one table as a Relation message would describe it, with the catalog
/// facts the stream path adds (key columns, NOT NULL, type names, enum labels), and registers
/// it with `builder`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn describe(
    client: &Client,
    server_version_num: u32,
    builder: &mut EventBuilder,
    oid: u32,
    namespace: &str,
    name: &str,
    relkind: &str,
    replident: &str,
) -> Result<Described, SnapshotError> {
    let generated = if server_version_num >= 120000 {
        "AND a.attgenerated = ''"
    } else {
        ""
    };
    let column_sql = format!(
        "SELECT a.attname::text, a.atttypid, a.atttypmod,
                CASE c.relreplident
                  WHEN 'f' THEN true
                  WHEN 'd' THEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid
                                        AND i.indisprimary AND a.attnum = ANY (i.indkey))
                  WHEN 'i' THEN EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid
                                        AND i.indisreplident AND a.attnum = ANY (i.indkey))
                  ELSE false END
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
         WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped {generated}
         ORDER BY a.attnum"
    );
    let replica_identity = match replident {
        "f" => ReplicaIdentity::Full,
        "n" => ReplicaIdentity::Nothing,
        "i" => ReplicaIdentity::Index,
        _ => ReplicaIdentity::Default,
    };
    let cols = client
        .query(&column_sql, &[&oid])
        .await
        .map_err(db(format!("cannot read the columns of {namespace}.{name}")))?;
    let mut columns = Vec::with_capacity(cols.len());
    for c in &cols {
        let type_oid: u32 = c.get(1);
        if type_oid >= FIRST_NON_BUILTIN_TYPE {
            register_type(client, builder, type_oid).await?;
        }
        columns.push(Column {
            flags: u8::from(c.get::<_, bool>(3)),
            name: c.get(0),
            type_oid,
            type_modifier: c.get(2),
        });
    }
    let column_list = columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let info = catalog::table_info(client, oid).await?;
    builder.set_table_info(namespace, name, info);
    let relation = Relation {
        xid: None,
        oid,
        namespace: namespace.to_string(),
        name: name.to_string(),
        replica_identity,
        columns,
    };
    let mut none = Vec::new();
    builder.handle(Lsn::ZERO, &Message::Relation(relation), &mut none)?;
    let schema = builder
        .table(oid)
        .cloned()
        .ok_or_else(|| SnapshotError::Unexpected(format!("no schema built for {oid}")))?;
    let plain = relkind == "r";
    let from = format!(
        "{}{}.{}",
        if plain { "ONLY " } else { "" },
        quote_ident(namespace),
        quote_ident(name)
    );
    Ok(Described {
        schema,
        from,
        columns: column_list,
    })
}

async fn register_type(
    client: &Client,
    builder: &mut EventBuilder,
    type_oid: u32,
) -> Result<(), SnapshotError> {
    let row = client
        .query_opt(
            "SELECT n.nspname::text, t.typname::text FROM pg_type t
             JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1",
            &[&type_oid],
        )
        .await
        .map_err(db(format!("cannot read type oid {type_oid}")))?;
    let Some(row) = row else { return Ok(()) };
    let mut none = Vec::new();
    builder.handle(
        Lsn::ZERO,
        &Message::Type(Type {
            xid: None,
            oid: type_oid,
            namespace: row.get(0),
            name: row.get(1),
        }),
        &mut none,
    )?;
    builder.set_type_labels(type_oid, catalog::enum_labels(client, type_oid).await?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventConfig;

    fn table(pages: i64, chunk_pages: Option<i64>) -> SnapshotTable {
        let mut b = EventBuilder::new(EventConfig::new("p", "db"));
        let rel = Relation {
            xid: None,
            oid: 1,
            namespace: "s".into(),
            name: "t".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: vec![],
        };
        b.handle(Lsn::ZERO, &Message::Relation(rel), &mut Vec::new())
            .unwrap();
        SnapshotTable {
            schema: b.table(1).unwrap().clone(),
            from: "ONLY \"s\".\"t\"".into(),
            columns: "\"a\", \"b\"".into(),
            pages,
            chunk_pages,
        }
    }

    #[test]
    fn chunks_cover_the_table_and_the_last_is_open_ended() {
        let t = table(10, Some(4));
        let chunks = t.chunks(3);
        assert_eq!(chunks.len(), 3);
        assert_eq!((chunks[0].start_page, chunks[0].end_page), (0, Some(4)));
        assert_eq!((chunks[1].start_page, chunks[1].end_page), (4, Some(8)));
        assert_eq!((chunks[2].start_page, chunks[2].end_page), (8, None));
        assert!(chunks.iter().all(|c| c.table == 3));
        assert_eq!(
            t.copy_sql(&chunks[1]),
            "COPY (SELECT \"a\", \"b\" FROM ONLY \"s\".\"t\" WHERE ctid >= '(4,0)'::tid \
             AND ctid < '(8,0)'::tid) TO STDOUT"
        );
        assert_eq!(
            t.copy_sql(&chunks[2]),
            "COPY (SELECT \"a\", \"b\" FROM ONLY \"s\".\"t\" WHERE ctid >= '(8,0)'::tid) TO STDOUT"
        );
        let whole = table(10, None);
        assert_eq!(whole.chunk_count(), 1);
        assert_eq!(
            whole.copy_sql(&whole.chunks(0)[0]),
            "COPY (SELECT \"a\", \"b\" FROM ONLY \"s\".\"t\") TO STDOUT"
        );
        assert_eq!(table(0, Some(4)).chunk_count(), 1);
        assert_eq!(table(8, Some(4)).chunk_count(), 2);
    }
}
