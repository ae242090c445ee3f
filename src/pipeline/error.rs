//! Errors of a connector run, classified by what happens next: transient ones start a new
//! session after a backoff, definite ones stop the connector with a hint.

use crate::emit::EmitError;
use crate::event::EventError;
use crate::format::FormatError;
use crate::lsn::Lsn;
use crate::offsets::OffsetError;
use crate::progress::ProgressError;
use crate::sink::SinkError;
use crate::snapshot::SnapshotError;
use crate::source::admin::AdminError;
use crate::source::catalog::CatalogError;
use crate::source::pgoutput::DecodeError;
use crate::source::replication::ReplicationError;

/// The offset store as messages name it: where it is, and how to make pgcdc forget it.
#[derive(Debug, Clone)]
pub struct StoreName {
    pub location: String,
    pub reset: String,
}

impl StoreName {
    pub fn of(store: &crate::offsets::OffsetStore) -> Self {
        StoreName {
            location: store.location(),
            reset: store.reset_hint(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("connector {connector}: {source}")]
    Connector {
        connector: String,
        #[source]
        source: Box<ConnectorError>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Replication(#[from] ReplicationError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("{0}: this is a bug in pgcdc or an unsupported server; please report it with the server version")]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Progress(#[from] ProgressError),
    #[error(transparent)]
    Offsets(#[from] OffsetError),
    #[error("snapshot failed: {0}")]
    Snapshot(Box<SnapshotError>),
    #[error("replication slot {slot:?} has confirmed {slot_lsn} but the {} says {stored}: the changes in between were consumed by something else and would be silently skipped; if that loss is acceptable, {} to resume from the slot (and consider a re-snapshot)", .store.location, .store.reset)]
    SlotAhead {
        slot: String,
        slot_lsn: Lsn,
        stored: Lsn,
        store: StoreName,
    },
    #[error("replication slot {slot:?} does not exist but the {} holds position {stored}: the slot was dropped, so changes made since are lost to it; {} to start again from a new slot (and consider a re-snapshot)", .store.location, .store.reset)]
    SlotLost {
        slot: String,
        stored: Lsn,
        store: StoreName,
    },
    #[error("replication slot {slot:?} was invalidated by the server (wal_status = lost: it fell behind max_slot_wal_keep_size and the WAL it needed is gone), so it can never stream again; to start over: drop the slot (SELECT pg_drop_replication_slot('{slot}')), {}, and re-snapshot with snapshot.mode = \"when_needed\" or \"always\" (changes made since the slot fell behind are otherwise lost)", .store.reset)]
    SlotInvalidated { slot: String, store: StoreName },
    /// One event failed and `[errors] mode` is `fail`: the slot stays before it.
    #[error("{0}")]
    EventFailed(Box<crate::emit::EventFailure>),
    #[error("cannot set REPLICA IDENTITY {identity} on {table} (tables.replica_identity_autoset): {reason}; run ALTER TABLE {table} REPLICA IDENTITY {identity} as the table's owner or a superuser, or take the table out of tables.replica_identity_autoset")]
    ReplicaIdentity {
        table: String,
        identity: String,
        reason: String,
    },
    #[error("heartbeat.action_query failed: {0}")]
    HeartbeatQuery(String),
    #[error("{0}")]
    Config(String),
    #[error("wal_level is {0:?} but logical decoding needs it to be \"logical\": set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL")]
    WalLevel(String),
    #[error("the server ended the replication stream")]
    StreamEnded,
    #[error("the acknowledger stopped unexpectedly")]
    AcknowledgerGone,
    #[error("{source} (gave up after {attempts} attempts: pgcdc retries a few times at startup, and indefinitely once it has streamed)")]
    GaveUp {
        attempts: u32,
        source: Box<ConnectorError>,
    },
}

impl From<EmitError> for ConnectorError {
    fn from(e: EmitError) -> Self {
        match e {
            EmitError::EventFailed(f) => ConnectorError::EventFailed(f),
            EmitError::Sink(e) => ConnectorError::Sink(e),
        }
    }
}

impl From<SnapshotError> for ConnectorError {
    fn from(e: SnapshotError) -> Self {
        match e {
            // The same one line as a streamed event that failed.
            SnapshotError::EventFailed(f) => ConnectorError::EventFailed(f),
            e => ConnectorError::Snapshot(Box::new(e)),
        }
    }
}

impl ConnectorError {
    /// Transient errors are retried from the last durable position; definite ones stop.
    pub fn is_transient(&self) -> bool {
        match self {
            ConnectorError::Replication(e) => e.is_transient(),
            ConnectorError::Admin(e) => e.is_transient(),
            ConnectorError::Sink(e) => e.is_transient(),
            ConnectorError::Progress(e) => e.is_transient(),
            ConnectorError::Catalog(e) => e.is_transient(),
            ConnectorError::Snapshot(e) => e.is_transient(),
            ConnectorError::Offsets(e) => e.is_transient(),
            ConnectorError::Format(e) => e.is_transient(),
            ConnectorError::StreamEnded | ConnectorError::AcknowledgerGone => true,
            ConnectorError::GaveUp { .. } => false,
            ConnectorError::Decode(_)
            | ConnectorError::Event(_)
            | ConnectorError::Config(_)
            | ConnectorError::WalLevel(_)
            | ConnectorError::SlotAhead { .. }
            | ConnectorError::SlotLost { .. }
            | ConnectorError::SlotInvalidated { .. }
            | ConnectorError::HeartbeatQuery(_)
            | ConnectorError::ReplicaIdentity { .. }
            | ConnectorError::EventFailed(_) => false,
        }
    }
}

impl ConnectorError {
    /// What failed, for `pgcdc_reconnects_total{cause}`.
    pub fn cause(&self) -> &'static str {
        match self {
            ConnectorError::Replication(_)
            | ConnectorError::Admin(_)
            | ConnectorError::Catalog(_)
            | ConnectorError::StreamEnded => "source",
            ConnectorError::Sink(_) | ConnectorError::Progress(ProgressError::Sink(_)) => "sink",
            ConnectorError::Offsets(_) | ConnectorError::Progress(ProgressError::Offsets(_)) => {
                "offsets"
            }
            ConnectorError::Snapshot(_) => "snapshot",
            _ => "other",
        }
    }

    /// The failure came from Kafka: the producer's queue may hold records after a failed one.
    pub(super) fn is_sink_failure(&self) -> bool {
        matches!(
            self,
            ConnectorError::Sink(_) | ConnectorError::Progress(ProgressError::Sink(_))
        )
    }
}
