//! A snapshot worker: one database connection inside the shared snapshot, reading chunks off a
//! common queue with COPY ... TO STDOUT (text) and turning rows into encoded `r` records.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::markers::ChunkEnds;
use super::plan::{Chunk, SnapshotTable};
use super::SnapshotError;
use crate::event::{ChangeEvent, EventBuilder, EventError, SnapshotMarker, SnapshotPoint};
use crate::format::{EventId, SnapshotChunk};
use crate::format::{Record, Serializer};
use crate::source::admin::{Admin, AdminError};
use crate::source::copy_text::{self, RowSplitter};
use crate::source::pgoutput::TupleData;

/// Records handed to the coordinator at once, to amortise channel sends.
const RECORD_BATCH: usize = 512;

pub enum WorkerMsg {
    Records(Vec<Record>),
    /// A chunk is read; its first and last rows were held back for their markers.
    ChunkDone {
        chunk: Chunk,
        ends: Box<ChunkEnds<Row>>,
        rows: u64,
    },
    /// A row whose values could not be converted, built with them as null (its topic and
    /// key), for the coordinator's `[errors]` policy. Records before it were sent first.
    FailedRow {
        table: usize,
        records: Vec<Record>,
        error: EventError,
    },
    Failed(SnapshotError),
}

/// What every worker shares.
pub struct Shared {
    pub tables: Vec<SnapshotTable>,
    pub builder: EventBuilder,
    pub point: SnapshotPoint,
    pub format: crate::format::FormatSettings,
    pub transforms: Arc<crate::transforms::TransformChain>,
    pub queue: Mutex<VecDeque<Chunk>>,
}

/// A row read by a snapshot worker, with the id its records carry and, when a value could not
/// be converted, why (the event then holds that value as null).
pub type Row = (ChangeEvent, EventId, Option<EventError>);

/// Encodes one row and gives its records the row's event id.
pub fn encode_row(
    shared: &Shared,
    format: &mut dyn Serializer,
    (ev, id, _): Row,
    records: &mut Vec<Record>,
) -> Result<(), SnapshotError> {
    let first = records.len();
    crate::format::encode_transformed(&shared.transforms, format, ev, records)?;
    for r in &mut records[first..] {
        r.event_id = Some(id);
    }
    Ok(())
}

/// Reads chunks until the queue is empty; a failure is reported on `tx` (the coordinator then
/// stops everything).
pub async fn run(conn: Admin, shared: Arc<Shared>, tx: mpsc::Sender<WorkerMsg>) {
    if let Err(e) = work(&conn, &shared, &tx).await {
        let _ = tx.send(WorkerMsg::Failed(e)).await;
    }
}

async fn work(
    conn: &Admin,
    shared: &Shared,
    tx: &mpsc::Sender<WorkerMsg>,
) -> Result<(), SnapshotError> {
    let mut format = shared.format.build();
    loop {
        let next = shared
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        let Some(chunk) = next else { break };
        read_chunk(conn, shared, &mut *format, chunk, tx).await?;
    }
    conn.client()
        .batch_execute("COMMIT")
        .await
        .map_err(|source| AdminError::Db {
            context: "cannot end the snapshot transaction".into(),
            source,
        })?;
    Ok(())
}

async fn send(tx: &mpsc::Sender<WorkerMsg>, msg: WorkerMsg) -> Result<(), SnapshotError> {
    tx.send(msg).await.map_err(|_| SnapshotError::Stopped)
}

async fn read_chunk(
    conn: &Admin,
    shared: &Shared,
    format: &mut dyn Serializer,
    chunk: Chunk,
    tx: &mpsc::Sender<WorkerMsg>,
) -> Result<(), SnapshotError> {
    let table = &shared.tables[chunk.table];
    let columns = table.schema.columns.len();
    let sql = table.copy_sql(&chunk);
    let db = |source| AdminError::Db {
        context: format!("cannot read {} (chunk {})", table.name(), chunk.index),
        source,
    };
    let stream = conn.client().copy_out(sql.as_str()).await.map_err(db)?;
    futures_util::pin_mut!(stream);
    let mut splitter = RowSplitter::default();
    let mut lines = Vec::new();
    let mut tuple = TupleData(Vec::with_capacity(columns));
    let mut first: Option<Row> = None;
    let mut pending: Option<Row> = None;
    let place = SnapshotChunk {
        table: chunk.table as u32,
        chunk: chunk.index as u32,
    };
    let mut records = Vec::with_capacity(RECORD_BATCH);
    let mut rows = 0u64;
    while let Some(data) = stream.next().await {
        splitter.push(data.map_err(db)?, &mut lines);
        for line in lines.drain(..) {
            copy_text::parse_row(&line, columns, &mut tuple.0)?;
            let (ev, failed) = read_row(shared, table, &tuple)?;
            let ev = (
                ev,
                EventId::snapshot_row(shared.point.lsn, place, rows),
                failed,
            );
            rows += 1;
            if rows == 1 {
                first = Some(ev);
                continue;
            }
            if rows == 2 && chunk.index == 0 {
                // See `ChunkEnds`: the table's first row, and not its last.
                if let Some(mut f) = first.take() {
                    f.0.source.snapshot =
                        SnapshotMarker::for_read(chunk.table == 0, false, true, false);
                    encode_or_report(shared, format, f, chunk.table, &mut records, tx).await?;
                }
            }
            if let Some(prev) = pending.replace(ev) {
                encode_or_report(shared, format, prev, chunk.table, &mut records, tx).await?;
                if records.len() >= RECORD_BATCH {
                    let full = std::mem::replace(&mut records, Vec::with_capacity(RECORD_BATCH));
                    send(tx, WorkerMsg::Records(full)).await?;
                }
            }
        }
    }
    splitter.finish()?;
    if !records.is_empty() {
        send(tx, WorkerMsg::Records(records)).await?;
    }
    tracing::debug!(table = %table.name(), chunk = chunk.index, rows, "snapshot chunk read");
    send(
        tx,
        WorkerMsg::ChunkDone {
            chunk,
            ends: Box::new(ChunkEnds {
                first,
                last: pending,
            }),
            rows,
        },
    )
    .await
}

/// The `r` event of one row; a value that cannot be converted does not fail the snapshot here
/// but is returned beside the row built with it as null, for `[errors]` to decide.
fn read_row(
    shared: &Shared,
    table: &SnapshotTable,
    tuple: &TupleData,
) -> Result<(ChangeEvent, Option<EventError>), SnapshotError> {
    let (point, marker) = (&shared.point, SnapshotMarker::True);
    Ok(shared
        .builder
        .snapshot_read_or_nulls(&table.schema, tuple, point, marker)?)
}

/// Encodes `row` into `records`, or, when it failed, sends what is batched and then the row on
/// its own as a [`WorkerMsg::FailedRow`], keeping the order.
async fn encode_or_report(
    shared: &Shared,
    format: &mut dyn Serializer,
    mut row: Row,
    table: usize,
    records: &mut Vec<Record>,
    tx: &mpsc::Sender<WorkerMsg>,
) -> Result<(), SnapshotError> {
    let Some(error) = row.2.take() else {
        return encode_row(shared, format, row, records);
    };
    if !records.is_empty() {
        send(tx, WorkerMsg::Records(std::mem::take(records))).await?;
    }
    let mut failed = Vec::new();
    encode_row(shared, format, row, &mut failed)?;
    send(
        tx,
        WorkerMsg::FailedRow {
            table,
            records: failed,
            error,
        },
    )
    .await
}
