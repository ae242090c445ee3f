//! Configuration: the process file (`config/pgcdc.toml`) and one file per connector
//! (`connectors/<name>.toml`).
//!
//! Loading a file goes: TOML syntax → `${ENV}` interpolation of string values → serde (unknown
//! keys are errors) → `validate()`. Every error names the file and the dotted key. Key names
//! follow Debezium's properties; docs/configuration.md maps each one.

mod connector;
mod error;
pub mod filter;
mod interpolate;
mod parse;
mod process;
mod secret;
mod set;
mod tagged;

pub use connector::{
    split_table, AutocreateMode, AvroConverterConfig, ColumnsConfig, ConnectorConfig,
    DatabaseConfig, DeleteMode, EnvelopeField, ErrorsConfig, EventsConfig, ExtractChangedConfig,
    ExtractChangedOptions, FailureMode, FieldRef, FormatConfig, HeartbeatConfig,
    JsonConverterConfig, KafkaConfig, LsnFlushMode, MismatchStrategy, OffsetStoreKind,
    OffsetsConfig, PublicationConfig, SignalChannel, SignalConfig, SinkConfig, SlotConfig,
    SnapshotConfig, SnapshotMode, SslMode, SubjectNameStrategy, TableFilter, TablesConfig,
    TopicCreationConfig, TransformConfig, UnwrapConfig, UnwrapOptions,
    DEFAULT_TRANSACTION_INTERVAL, DELETED_FIELD, MAX_SNAPSHOT_PARALLELISM,
};
pub use connector::{
    BinaryHandlingMode, ColumnRules, DecimalHandlingMode, HashAlgorithm, HstoreHandlingMode,
    IntervalHandlingMode, Rule, TimePrecisionMode, TypeModes, MONEY_FRACTION_DIGITS, SOURCE_FIELDS,
    TRANSACTION_FIELDS,
};
pub use error::{ConfigError, Violation};
pub use interpolate::{interpolate, InterpolateError};
pub use parse::{process_env, EnvLookup};
pub use process::{HttpConfig, LogConfig, LogFormat, ProcessConfig, DEFAULT_HTTP_LISTEN};
pub use secret::{Secret, MASK};
pub use set::{check_unique, connector_files, load_connectors, load_connectors_with_env};
