//! Heartbeats (`heartbeat.interval.ms`): the action query that gives an idle database a change
//! to confirm. The record itself is the serializer's (`format`), sent like any other.

use crate::source::admin::{Admin, AdminError};

/// Why a heartbeat's action query failed.
#[derive(Debug, thiserror::Error)]
pub enum HeartbeatError {
    /// The connection failed; retried like any other.
    #[error(transparent)]
    Connection(AdminError),
    /// The query itself is wrong: a configuration error.
    #[error("{0}: fix or remove the query")]
    Query(AdminError),
}

/// Runs `heartbeat.action_query` on the admin connection.
pub async fn run_action_query(admin: &Admin, query: &str) -> Result<(), HeartbeatError> {
    let Err(e) = admin.client().batch_execute(query).await else {
        return Ok(());
    };
    let err = AdminError::Db {
        context: "heartbeat.action_query".into(),
        source: e,
    };
    Err(if err.is_transient() {
        HeartbeatError::Connection(err)
    } else {
        HeartbeatError::Query(err)
    })
}
