//! The database's side of a comparison: the captured tables as the snapshot lists them, and
//! their rows read inside the consistent point's snapshot and converted exactly as the initial
//! snapshot converts them (COPY text → pgcdc's event conversion → the connector's transforms
//! and JSON format). Both sides are then the same JSON, whatever the column types.

use std::sync::Arc;

use futures_util::StreamExt;

use super::change::{self, Change, ChangeError, Shape};
use super::state::project;
use crate::event::{EventBuilder, EventError, SnapshotMarker, SnapshotPoint, TableSchema};
use crate::format::{FormatError, FormatSettings};
use crate::lsn::Lsn;
use crate::pipeline::Settings;
use crate::snapshot::{captured_tables, SnapshotError, SnapshotTable};
use crate::source::admin::Admin;
use crate::source::copy_text::{self, CopyTextError, RowSplitter};
use crate::source::pgoutput::TupleData;

#[derive(Debug, thiserror::Error)]
pub enum DbRowsError {
    #[error(transparent)]
    Snapshot(#[from] Box<SnapshotError>),
    #[error("cannot read {table}: {source}")]
    Read {
        table: String,
        source: tokio_postgres::Error,
    },
    #[error("{table}: {source}: this is a bug in pgcdc; please report it")]
    Copy {
        table: String,
        source: CopyTextError,
    },
    #[error("{table}: a row of {got} fields, expected {expected}")]
    Fields {
        table: String,
        got: usize,
        expected: usize,
    },
    #[error("{table}: {source}")]
    Event {
        table: String,
        source: Box<EventError>,
    },
    #[error("{table}: {source}")]
    Format {
        table: String,
        source: Box<FormatError>,
    },
    #[error("{table}: {source}")]
    Change { table: String, source: ChangeError },
}

/// The captured tables, registered with a builder as the snapshot registers them.
pub struct DbTables {
    pub builder: EventBuilder,
    pub tables: Vec<SnapshotTable>,
    point: SnapshotPoint,
}

/// Lists the captured tables (publication ∩ table filter) inside `session`'s snapshot.
pub async fn list(session: &Admin, s: &Settings, lsn: Lsn) -> Result<DbTables, SnapshotError> {
    let mut builder = EventBuilder::new(s.event.clone());
    // One chunk per table: the rows are read once, in one statement.
    let tables = captured_tables(
        session.client(),
        session.server_version_num(),
        &s.publication,
        &s.table_filter,
        &mut builder,
        u32::MAX,
        1,
    )
    .await?;
    let point = SnapshotPoint {
        lsn,
        xid: None,
        ts_micros: 0,
    };
    Ok(DbTables {
        builder,
        tables,
        point,
    })
}

/// The names of a table's value columns, in order: what rows are compared on.
pub fn value_columns(schema: &TableSchema) -> Vec<String> {
    schema
        .value_indices
        .iter()
        .map(|&i| schema.columns[i].name.clone())
        .collect()
}

/// Reads every row of `table` and calls `f(key, row)` with both as the rebuilt state holds
/// them. Returns the number of rows.
pub async fn read(
    session: &Admin,
    db: &DbTables,
    table: &SnapshotTable,
    shape: Shape,
    transforms: &Arc<crate::transforms::TransformChain>,
    mut f: impl FnMut(&str, &str),
) -> Result<u64, DbRowsError> {
    let name = table.name();
    let columns = value_columns(&table.schema);
    let width = table.schema.columns.len();
    let chunk = table.chunks(0)[0];
    let stream = session
        .client()
        .copy_out(table.copy_sql(&chunk).as_str())
        .await
        .map_err(|source| DbRowsError::Read {
            table: name.clone(),
            source,
        })?;
    futures_util::pin_mut!(stream);
    let mut format = FormatSettings {
        schemas: shape.schemas,
        ..FormatSettings::default()
    }
    .build();
    let mut splitter = RowSplitter::default();
    let mut lines = Vec::new();
    let mut tuple = TupleData(Vec::with_capacity(width));
    let mut records = Vec::new();
    let mut rows = 0u64;
    while let Some(data) = stream.next().await {
        let data = data.map_err(|source| DbRowsError::Read {
            table: name.clone(),
            source,
        })?;
        splitter.push(data, &mut lines);
        for line in lines.drain(..) {
            parse(&line, width, &mut tuple, &name)?;
            let ev = db
                .builder
                .snapshot_read(&table.schema, &tuple, &db.point, SnapshotMarker::False)
                .map_err(|source| DbRowsError::Event {
                    table: name.clone(),
                    source: Box::new(source),
                })?;
            crate::format::encode_transformed(transforms, &mut *format, ev, &mut records).map_err(
                |source| DbRowsError::Format {
                    table: name.clone(),
                    source: Box::new(source),
                },
            )?;
            for rec in records.drain(..) {
                let change = change::decode(shape, rec.key.as_deref(), rec.value.as_deref())
                    .map_err(|source| DbRowsError::Change {
                        table: name.clone(),
                        source,
                    })?;
                if let Change::Upsert { key, row } = change {
                    f(&key, &project(&columns, &row));
                }
            }
            rows += 1;
        }
    }
    splitter.finish().map_err(|source| DbRowsError::Copy {
        table: name.clone(),
        source,
    })?;
    Ok(rows)
}

fn parse(
    line: &bytes::Bytes,
    width: usize,
    tuple: &mut TupleData,
    table: &str,
) -> Result<(), DbRowsError> {
    copy_text::parse_row(line, width, &mut tuple.0).map_err(|source| DbRowsError::Copy {
        table: table.to_string(),
        source,
    })?;
    if tuple.0.len() != width {
        return Err(DbRowsError::Fields {
            table: table.to_string(),
            got: tuple.0.len(),
            expected: width,
        });
    }
    Ok(())
}
