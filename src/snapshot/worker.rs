//! A snapshot worker: one database connection inside the shared snapshot, reading chunks off a
//! common queue with COPY ... TO STDOUT (text) and turning rows into encoded `r` records.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::markers::ChunkEnds;
use super::plan::{Chunk, SnapshotTable};
use super::SnapshotError;
use crate::event::{ChangeEvent, EventBuilder, SnapshotMarker, SnapshotPoint};
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

/// A row read by a snapshot worker, with the id its records carry.
pub type Row = (ChangeEvent, EventId);

/// Encodes one row and gives its records the row's event id.
pub fn encode_row(
    shared: &Shared,
    format: &mut dyn Serializer,
    (ev, id): Row,
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
            let ev = shared.builder.snapshot_read(
                &table.schema,
                &tuple,
                &shared.point,
                SnapshotMarker::True,
            )?;
            let ev = (ev, EventId::snapshot_row(shared.point.lsn, place, rows));
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
                    encode_row(shared, format, f, &mut records)?;
                }
            }
            if let Some(prev) = pending.replace(ev) {
                encode_row(shared, format, prev, &mut records)?;
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
