//! Where a session starts: the offset store (and, in exactly-once mode, the offsets topic)
//! checked against the slot before streaming.

use std::time::Duration;

use super::error::StoreName;
use super::settings::OffsetsLocation;
use super::{ConnectorError, Settings};
use crate::config::{MismatchStrategy, TableFilter};
use crate::lsn::Lsn;
use crate::offsets::kafka::OffsetTopic;
use crate::offsets::{OffsetBackend, OffsetFile, OffsetStore};
use crate::source::admin::{Admin, SlotInfo};
use crate::source::replication::{ReplicationConnection, ReplicationStream, SlotCreation};

/// Opens the offset store `[offsets]` names: the file, or the offsets topic (created when
/// missing). Reading a topic can fail while the brokers are down: a transient error.
pub async fn open_store(s: &Settings) -> Result<OffsetStore, ConnectorError> {
    let backend: Box<dyn OffsetBackend> = match &s.offsets {
        OffsetsLocation::File(path) => Box::new(OffsetFile::new(path, &s.name, &s.slot)),
        OffsetsLocation::Kafka { brokers, topic } => {
            Box::new(OffsetTopic::connect(brokers, topic, &s.name, &s.slot).await?)
        }
    };
    let store = tokio::task::block_in_place(|| OffsetStore::open(backend, &s.name, &s.slot))?;
    Ok(store)
}

/// Exactly-once mode: the last offset record committed with the changes is the source of
/// truth; the file is written after it and may lag behind (a crash between the two), never
/// lead. Call after the sink's transactions are initialized (which creates the topic).
pub(super) async fn adopt_committed_offset(
    s: &Settings,
    store: &mut OffsetStore,
) -> Result<(), ConnectorError> {
    let Some(eos) = &s.exactly_once else {
        return Ok(());
    };
    let latest = tokio::task::block_in_place(|| {
        eos.offsets.read_latest(
            &eos.offsets_topic,
            &s.name,
            &s.slot,
            Duration::from_secs(60),
        )
    })?;
    if let Some(o) = latest {
        if tokio::task::block_in_place(|| store.adopt(&o))? {
            tracing::info!(connector = %s.name, lsn = %o.lsn, topic = %eos.offsets_topic, "resuming from the offset record committed to kafka");
        }
    }
    Ok(())
}

/// Opens the replication stream; also returns the position it resumes from, which is the
/// slot's rather than the offsets file's under `offsets.mismatch_strategy = trust_slot`.
pub(super) async fn open_stream(
    s: &Settings,
    admin: &Admin,
    mut resume: Option<Lsn>,
    store: &StoreName,
) -> Result<(ReplicationStream, Option<Lsn>), ConnectorError> {
    let mut conn = ReplicationConnection::connect(&s.params).await?;
    if admin.slot_info(&s.slot).await?.is_none() {
        if let Some(stored) = resume {
            if !s.drop_slot_on_stop {
                return Err(ConnectorError::SlotLost {
                    slot: s.slot.clone(),
                    stored,
                    store: store.clone(),
                });
            }
            // The loss was chosen: Debezium, too, streams from a new slot after drop.on.stop.
            tracing::warn!(connector = %s.name, slot = %s.slot, stored = %stored,
                "slot.drop_on_stop: the slot was dropped at the last stop; a new one is created and changes made while pgcdc was stopped are not captured");
            resume = None;
        }
        if let SlotCreation::Created(c) = conn.create_slot(&s.slot, "pgoutput").await? {
            tracing::info!(slot = %s.slot, consistent_point = %c.consistent_point, "created replication slot");
        }
    }
    let stored = resume;
    let resume = check_slot_position(admin, s, resume, store).await?;
    if let (Some(from), Some(to)) = (stored, resume) {
        if to > from {
            tracing::warn!(connector = %s.name, slot = %s.slot, skipped_from = %from, skipped_to = %to,
                "offsets.mismatch_strategy is trust_slot: resuming from the slot, which is ahead of the offsets file; changes between the two positions are NOT captured");
        }
    }
    if s.takeover {
        admin.terminate_slot_holder(&s.slot).await?;
    }
    let start = resume.unwrap_or(Lsn::ZERO);
    let publication = s.publication.clone();
    let mut options: Vec<(&str, &str)> =
        vec![("proto_version", "1"), ("publication_names", &publication)];
    // Logical decoding messages are available through pgoutput from PostgreSQL 14 on.
    if admin.server_version_num() >= 140000 {
        options.push(("messages", "true"));
    }
    conn.set_status_interval(s.status_interval);
    let mut stream = conn.start_replication(&s.slot, start, &options).await?;
    if !s.lsn_flush_mode.confirms() {
        stream.never_confirm();
    }
    // PostgreSQL 15+ silently starts from the slot's confirmed position when asked for an
    // older one, so check again now that the slot is ours.
    check_slot_position(admin, s, resume, store).await?;
    tracing::info!(connector = %s.name, slot = %s.slot, start = %start, "streaming");
    Ok((stream, resume))
}

/// The tables a `filtered` publication should hold: every user table the filter accepts
/// (Debezium's `publication.autocreate.mode=filtered`).
pub(super) async fn publication_tables(
    admin: &Admin,
    filter: &TableFilter,
) -> Result<Vec<String>, ConnectorError> {
    let rows = admin
        .client()
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_tables
             WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
             ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(|e| {
            ConnectorError::Config(format!("cannot list tables for the publication: {e}"))
        })?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .filter(|(schema, table)| filter.matches(schema, table))
        .map(|(schema, table)| format!("{schema}.{table}"))
        .collect())
}

/// The position to resume from, after checking the slot against the offsets file.
pub(super) async fn check_slot_position(
    admin: &Admin,
    s: &Settings,
    resume: Option<Lsn>,
    store: &StoreName,
) -> Result<Option<Lsn>, ConnectorError> {
    let info = admin.slot_info(&s.slot).await?;
    let Some(info) = info else {
        // Missing before a first run is fine (it is created); `open_stream` and the snapshot
        // phase report a slot that went missing under a stored position.
        return Ok(resume);
    };
    reconcile(s, resume, Some(&info), store)
}

/// The slot's state against the stored position: the position to resume from, or why that
/// is impossible (`offsets.mismatch_strategy` decides about a slot that is ahead).
pub(super) fn reconcile(
    s: &Settings,
    resume: Option<Lsn>,
    slot: Option<&SlotInfo>,
    store: &StoreName,
) -> Result<Option<Lsn>, ConnectorError> {
    if slot.is_some_and(|i| i.wal_status.as_deref() == Some("lost")) {
        return Err(ConnectorError::SlotInvalidated {
            slot: s.slot.clone(),
            store: store.clone(),
        });
    }
    let (Some(stored), slot) = (resume, slot) else {
        return Ok(resume);
    };
    let Some(info) = slot else {
        if s.drop_slot_on_stop {
            // `open_stream` creates the slot again and streams from there.
            return Ok(None);
        }
        return Err(ConnectorError::SlotLost {
            slot: s.slot.clone(),
            stored,
            store: store.clone(),
        });
    };
    match info.confirmed_flush_lsn {
        Some(slot_lsn) if slot_lsn > stored => match s.mismatch {
            MismatchStrategy::TrustSlot => Ok(Some(slot_lsn)),
            MismatchStrategy::Fail | MismatchStrategy::TrustOffset => {
                Err(ConnectorError::SlotAhead {
                    slot: s.slot.clone(),
                    slot_lsn,
                    stored,
                    store: store.clone(),
                })
            }
        },
        // The file ahead of the slot is normal (it is written before the slot is confirmed):
        // streaming starts at the stored position and the server skips to it.
        _ => Ok(resume),
    }
}
