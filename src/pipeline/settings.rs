//! What a connector run needs, resolved once from the configuration files.

use std::sync::Arc;
use std::time::Duration;

use super::ConnectorError;
use crate::config::filter::replica_identity::ReplicaIdentityRules;
use crate::config::{
    self, ConnectorConfig, EventsConfig, HeartbeatConfig, LsnFlushMode, MismatchStrategy,
    ProcessConfig, SignalConfig, SnapshotConfig, TableFilter,
};
use crate::emit::FailurePolicy;
use crate::event::EventConfig;
use crate::format::FormatSettings;
use crate::lsn::Lsn;
use crate::source::admin::PublicationMode;
use crate::source::replication::ConnectParams;
use crate::transforms::TransformChain;

/// Options of `pgcdc run` that are not connector configuration.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Exit 0 once everything up to this LSN is acknowledged and confirmed (like
    /// pg_recvlogical's --endpos).
    pub until_lsn: Option<Lsn>,
    /// Where each connector's state and metrics are published (the HTTP listener reads it).
    pub registry: crate::observe::Registry,
}

/// Everything one connector needs, resolved from its configuration file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub name: String,
    pub params: ConnectParams,
    pub slot: String,
    /// `slot.takeover`: terminate another backend holding the slot.
    pub takeover: bool,
    /// `slot.drop_on_stop`: drop the slot after a graceful stop.
    pub drop_slot_on_stop: bool,
    /// `slot.lsn_flush_mode`: whether durable positions are confirmed to the slot.
    pub lsn_flush_mode: LsnFlushMode,
    /// `offsets.mismatch_strategy`.
    pub mismatch: MismatchStrategy,
    pub heartbeat: HeartbeatConfig,
    pub publication: String,
    pub publication_mode: PublicationMode,
    pub table_filter: TableFilter,
    /// `tables.replica_identity_autoset`.
    pub replica_identities: ReplicaIdentityRules,
    pub events: EventsConfig,
    pub event: EventConfig,
    pub snapshot: SnapshotConfig,
    /// How every serializer of this connector run is made.
    pub format: FormatSettings,
    /// `[sink]`.
    pub sink: config::SinkConfig,
    /// `[offsets]`: where the resume position is kept.
    pub offsets: OffsetsLocation,
    pub status_interval: Duration,
    pub offsets_flush_interval: Duration,
    /// `[[transforms]]`, shared with the snapshot.
    pub transforms: Arc<TransformChain>,
    /// `sink.exactly_once`: the sink's transactions, each ending with an offset record.
    pub exactly_once: Option<ExactlyOnce>,
    /// `[signal]`.
    pub signal: SignalConfig,
    /// The file channel's file (`signal.file` or its default).
    pub signal_file: std::path::PathBuf,
    /// `[errors]`: what a failing event does.
    pub failure: FailurePolicy,
    /// The connector's metrics and state, as `/metrics`, `/health` and `/ready` show them.
    pub obs: Arc<crate::observe::Connector>,
}

/// `offsets.store`, resolved.
#[derive(Debug, Clone)]
pub enum OffsetsLocation {
    File(std::path::PathBuf),
    /// The sink's brokers, the topic `sink.offsets_topic`.
    Kafka {
        brokers: crate::offsets::kafka::OffsetsTopic,
        topic: Arc<str>,
    },
}

/// Exactly-once mode settings.
#[derive(Debug, Clone)]
pub struct ExactlyOnce {
    /// The topic holding offset records, the source of truth for the resume position.
    pub offsets_topic: Arc<str>,
    /// Where that topic is read from.
    pub offsets: crate::offsets::kafka::OffsetsTopic,
    /// A Kafka transaction is committed at the first PostgreSQL commit after it has been open
    /// this long: several PostgreSQL transactions share one Kafka transaction.
    pub commit_interval: Duration,
}

impl Settings {
    pub fn from_config(
        c: &ConnectorConfig,
        process: &ProcessConfig,
    ) -> Result<Self, ConnectorError> {
        let db = &c.database;
        let params = ConnectParams {
            host: db.host.clone(),
            port: db.port,
            user: db.user.clone(),
            password: db.password.as_ref().map(|p| p.expose().to_string()),
            dbname: db.dbname.clone(),
            sslmode: db.sslmode,
            sslrootcert: db.sslrootcert.clone(),
            application_name: c.application_name(),
            connect_timeout: db.connect_timeout,
        };
        let exactly_once = c
            .sink
            .kafka()
            .filter(|k| k.exactly_once)
            .map(|k| ExactlyOnce {
                offsets_topic: k.offsets_topic(&c.topic_prefix).into(),
                offsets: crate::offsets::kafka::OffsetsTopic::from_config(k),
                commit_interval: k
                    .transaction_interval
                    .unwrap_or(config::DEFAULT_TRANSACTION_INTERVAL),
            });
        // The sink's size limit is filled in when the sink is built.
        let obs = Arc::new(crate::observe::Connector::new(
            &c.name,
            db.password.as_ref().map(|p| p.expose()),
        ));
        let mut failure = FailurePolicy::from_config(&c.errors, Default::default());
        failure.obs = Some(obs.clone());
        let mut table_filter = c
            .table_filter()
            .map_err(|v| ConnectorError::Config(format!("{}: {v}", c.file.display())))?;
        if let Some((schema, table)) = c.signal.table() {
            table_filter = table_filter.never(&schema, &table);
        }
        Ok(Settings {
            name: c.name.clone(),
            params,
            slot: c.slot.name.clone(),
            takeover: c.slot.takeover,
            drop_slot_on_stop: c.slot.drop_on_stop,
            lsn_flush_mode: c.slot.lsn_flush_mode,
            mismatch: c.offsets.mismatch_strategy,
            heartbeat: c.heartbeat.clone(),
            publication: c.publication.name.clone(),
            publication_mode: match c.publication.autocreate_mode {
                config::AutocreateMode::AllTables => PublicationMode::AllTables,
                config::AutocreateMode::Filtered => PublicationMode::Filtered,
                config::AutocreateMode::Disabled => PublicationMode::Disabled,
                config::AutocreateMode::NoTables => PublicationMode::NoTables,
            },
            table_filter,
            replica_identities: c
                .tables
                .replica_identities()
                .map_err(|v| ConnectorError::Config(format!("{}: {v}", c.file.display())))?,
            events: c.events.clone(),
            event: EventConfig {
                topic_prefix: c.topic_prefix.clone(),
                database: db.dbname.clone(),
                tombstones_on_delete: c.events.tombstones_on_delete,
                unavailable_value_placeholder: c.events.unavailable_value_placeholder.clone(),
                emit_truncate: !c.events.is_skipped("t"),
                modes: c.events.type_modes(),
                column_filter: c
                    .tables
                    .column_filter()
                    .map_err(|v| ConnectorError::Config(format!("{}: {v}", c.file.display())))?,
                skip_messages_without_change: c.events.skip_messages_without_change,
                message_filter: c
                    .events
                    .message_filter()
                    .map_err(|v| ConnectorError::Config(format!("{}: {v}", c.file.display())))?,
                key_columns: c
                    .tables
                    .key_columns()
                    .map_err(|v| ConnectorError::Config(format!("{}: {v}", c.file.display())))?,
                masks: crate::event::masking::ColumnMasks::from_rules(
                    c.columns.masks().map_err(|v| {
                        ConnectorError::Config(format!("{}: {v}", c.file.display()))
                    })?,
                ),
            },
            snapshot: c.snapshot.clone(),
            format: FormatSettings::new(
                c.format.schemas(),
                c.events.binary_handling_mode,
                crate::event::context::context_headers(
                    &c.topic_prefix,
                    &crate::event::context::new_run_id(),
                ),
            )
            .with_format(&c.format),
            sink: c.sink.clone(),
            offsets: offsets_location(c, process)?,
            status_interval: c.slot.status_interval,
            offsets_flush_interval: Duration::from_millis(200),
            transforms: Arc::new(TransformChain::from_config(&c.transforms)),
            exactly_once,
            signal: c.signal.clone(),
            signal_file: c.signal_file(process),
            failure,
            obs,
        })
    }
}

fn offsets_location(
    c: &ConnectorConfig,
    process: &ProcessConfig,
) -> Result<OffsetsLocation, ConnectorError> {
    match c.offsets.store {
        config::OffsetStoreKind::File => Ok(OffsetsLocation::File(c.offsets_path(process))),
        config::OffsetStoreKind::Kafka => {
            let k = c.sink.kafka().ok_or_else(|| {
                ConnectorError::Config(format!(
                    "{}: offsets.store = \"kafka\" needs sink.type = \"kafka\"",
                    c.file.display()
                ))
            })?;
            Ok(OffsetsLocation::Kafka {
                brokers: crate::offsets::kafka::OffsetsTopic::from_config(k),
                topic: k.offsets_topic(&c.topic_prefix).into(),
            })
        }
    }
}
