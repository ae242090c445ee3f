//! `tables.replica_identity_autoset` at start: captured tables get the replica identity the
//! configuration names before streaming, so their events carry the `before` image it implies.

use super::{ConnectorError, Settings};
use crate::config::filter::replica_identity::ReplicaIdentity;
use crate::source::admin::Admin;

/// Alters every captured table whose replica identity differs from its matching entry.
pub(super) async fn autoset(s: &Settings, admin: &Admin) -> Result<(), ConnectorError> {
    if s.replica_identities.is_empty() {
        return Ok(());
    }
    for (schema, table, code, index) in admin.replica_identities().await? {
        if !s.table_filter.matches(&schema, &table) {
            continue;
        }
        let Some(want) = s.replica_identities.for_table(&schema, &table) else {
            continue;
        };
        if is_current(want, code, index.as_deref()) {
            continue;
        }
        set(admin, &schema, &table, want).await?;
        tracing::info!(connector = %s.name, table = %format!("{schema}.{table}"), identity = %want.sql(), "replica identity set (tables.replica_identity_autoset)");
    }
    Ok(())
}

fn is_current(want: &ReplicaIdentity, code: char, index: Option<&str>) -> bool {
    match want {
        ReplicaIdentity::Index(name) => code == 'i' && index == Some(name.as_str()),
        other => other.code() == code,
    }
}

/// A refused ALTER (not the owner, no such index) is definite; a lost connection is not.
async fn set(
    admin: &Admin,
    schema: &str,
    table: &str,
    want: &ReplicaIdentity,
) -> Result<(), ConnectorError> {
    match admin.set_replica_identity(schema, table, &want.sql()).await {
        Err(e) if !e.is_transient() => Err(ConnectorError::ReplicaIdentity {
            table: format!("{schema}.{table}"),
            identity: want.sql(),
            reason: e.to_string(),
        }),
        r => Ok(r?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_identity_is_current_only_with_that_index() {
        let idx = ReplicaIdentity::Index("a_idx".into());
        assert!(is_current(&idx, 'i', Some("a_idx")));
        assert!(!is_current(&idx, 'i', Some("b_idx")));
        assert!(!is_current(&idx, 'd', None));
        assert!(is_current(&ReplicaIdentity::Full, 'f', None));
        assert!(!is_current(&ReplicaIdentity::Full, 'd', None));
    }
}
