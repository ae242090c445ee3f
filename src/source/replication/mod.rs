//! Our own client for PostgreSQL's streaming replication protocol (logical, CopyBoth).
//!
//! tokio-postgres has no replication support, so this speaks the wire protocol directly, using
//! postgres-protocol only for frontend message encoding and the authentication primitives.
//! Layers, bottom up: `framing` (sans-io frame cutting and body parsing), `wire` (buffered
//! socket), `tls`/`auth` (handshake), `conn` (replication commands), `stream` (CopyBoth).

mod auth;
mod conn;
pub mod error;
pub mod framing;
mod params;
mod stream;
pub mod tls;
mod wire;

pub use conn::{
    parse_server_version, QueryResult, ReplicationConnection, SlotCreated, SlotCreation,
    SystemInfo, DEFAULT_STATUS_INTERVAL, SESSION_SETTINGS,
};
pub use error::{DbError, ReplicationError};
pub use params::ConnectParams;
pub use stream::{encode_status_update, parse_copy_data, ReplicationEvent, ReplicationStream};

pub(crate) use conn::quote_ident;
