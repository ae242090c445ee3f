//! One exact point to compare at: the snapshot a temporary logical slot exports together with
//! its consistent point. A transaction is visible in that snapshot exactly when its commit
//! record lies before the consistent point, which is also the rule logical decoding uses to
//! decide what the slot would stream; so "committed before the point" means the same thing for
//! the database's rows and for the events' commit LSNs.
//!
//! The slot is temporary and is dropped as soon as the snapshot is imported: it never holds
//! WAL for the length of a comparison, and the connector's own slot is only read.

use crate::lsn::Lsn;
use crate::snapshot::SnapshotError;
use crate::source::admin::Admin;
use crate::source::replication::{ConnectParams, ReplicationConnection, ReplicationError};

#[derive(Debug, thiserror::Error)]
pub enum PointError {
    #[error("cannot create the temporary slot {slot} for a consistent point: {source} (it needs one free max_replication_slots entry and a user with REPLICATION)")]
    Slot {
        slot: String,
        source: Box<ReplicationError>,
    },
    #[error("the server created slot {0} without exporting a snapshot")]
    NoSnapshot(String),
    #[error("unexpected answer from PostgreSQL: {0}")]
    Unexpected(String),
    #[error(transparent)]
    Snapshot(#[from] Box<SnapshotError>),
    #[error("cannot import snapshot {name}: {source}")]
    Import {
        name: String,
        source: tokio_postgres::Error,
    },
}

/// A database session inside the exported snapshot, and the point it is consistent with.
pub struct ConsistentPoint {
    /// In a REPEATABLE READ, READ ONLY transaction that sees exactly the point's commits.
    pub session: Admin,
    pub lsn: Lsn,
}

/// Opens the point: creates a temporary slot exporting its snapshot, imports that snapshot into
/// a fresh session, then drops the slot (closing its connection).
pub async fn open(params: &ConnectParams) -> Result<ConsistentPoint, PointError> {
    let slot = format!("pgcdc_verify_{}", std::process::id());
    let mut repl = ReplicationConnection::connect(params)
        .await
        .map_err(|source| PointError::Slot {
            slot: slot.clone(),
            source: Box::new(source),
        })?;
    // Waits for transactions open at this moment to end: the point must be consistent.
    tracing::info!(slot = %slot, "creating a temporary slot for a consistent point");
    let sql = if repl.server_version_num() >= 150000 {
        format!("CREATE_REPLICATION_SLOT {slot} TEMPORARY LOGICAL pgoutput (SNAPSHOT 'export')")
    } else {
        format!("CREATE_REPLICATION_SLOT {slot} TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT")
    };
    let results = repl
        .simple_query(&sql)
        .await
        .map_err(|source| PointError::Slot {
            slot: slot.clone(),
            source: Box::new(source),
        })?;
    let (lsn, name) = created(&results, &slot)?;
    let session = crate::snapshot::connect(params).await.map_err(Box::new)?;
    import(&session, &name).await?;
    // The snapshot lives on in the importing transaction; the slot is not needed any more.
    if let Err(e) = repl.close().await {
        tracing::debug!(error = %e, "closing the temporary slot's connection");
    }
    tracing::info!(lsn = %lsn, snapshot = %name, "consistent point opened");
    Ok(ConsistentPoint { session, lsn })
}

/// The consistent point and the snapshot name of a CREATE_REPLICATION_SLOT answer.
fn created(
    results: &[crate::source::replication::QueryResult],
    slot: &str,
) -> Result<(Lsn, String), PointError> {
    let r = results
        .first()
        .ok_or_else(|| PointError::Unexpected("CREATE_REPLICATION_SLOT returned nothing".into()))?;
    let value = |name: &str| {
        let i = r.columns.iter().position(|c| c == name)?;
        r.rows.first()?.get(i)?.clone()
    };
    let point = value("consistent_point")
        .ok_or_else(|| PointError::Unexpected("no consistent_point".into()))?;
    let lsn = point
        .parse()
        .map_err(|_| PointError::Unexpected(format!("consistent_point {point:?}")))?;
    let name = value("snapshot_name").ok_or_else(|| PointError::NoSnapshot(slot.to_string()))?;
    Ok((lsn, name))
}

async fn import(session: &Admin, name: &str) -> Result<(), PointError> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(PointError::Unexpected(format!("snapshot name {name:?}")));
    }
    session
        .client()
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT '{name}'"
        ))
        .await
        .map_err(|source| PointError::Import {
            name: name.to_string(),
            source,
        })
}
