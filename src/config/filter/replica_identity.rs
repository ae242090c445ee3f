//! `tables.replica_identity_autoset` (Debezium `replica.identity.autoset.values`): the replica
//! identity each captured table should have, as `<schema.table regex>:<identity>` entries.

use regex::Regex;

/// A table's replica identity, as `ALTER TABLE ... REPLICA IDENTITY` sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaIdentity {
    Default,
    Full,
    Nothing,
    /// `USING INDEX <name>` (an index of the same table, in its schema).
    Index(String),
}

impl ReplicaIdentity {
    /// Debezium's spelling: `DEFAULT`, `FULL`, `NOTHING` or `INDEX <name>`, any case.
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let upper = text.to_ascii_uppercase();
        match upper.as_str() {
            "DEFAULT" => return Ok(ReplicaIdentity::Default),
            "FULL" => return Ok(ReplicaIdentity::Full),
            "NOTHING" => return Ok(ReplicaIdentity::Nothing),
            _ => {}
        }
        match upper.strip_prefix("INDEX ") {
            Some(_) if !text[6..].trim().is_empty() => {
                Ok(ReplicaIdentity::Index(text[6..].trim().to_string()))
            }
            _ => Err(format!(
                "{text:?} is not a replica identity: use DEFAULT, FULL, NOTHING or INDEX <index name>"
            )),
        }
    }

    /// `pg_class.relreplident` of this identity.
    pub fn code(&self) -> char {
        match self {
            ReplicaIdentity::Default => 'd',
            ReplicaIdentity::Full => 'f',
            ReplicaIdentity::Nothing => 'n',
            ReplicaIdentity::Index(_) => 'i',
        }
    }

    /// The clause after `ALTER TABLE <table> REPLICA IDENTITY`.
    pub fn sql(&self) -> String {
        match self {
            ReplicaIdentity::Default => "DEFAULT".into(),
            ReplicaIdentity::Full => "FULL".into(),
            ReplicaIdentity::Nothing => "NOTHING".into(),
            ReplicaIdentity::Index(name) => {
                format!("USING INDEX \"{}\"", name.replace('"', "\"\""))
            }
        }
    }
}

/// The compiled entries; the first one matching a table decides.
#[derive(Debug, Clone, Default)]
pub struct ReplicaIdentityRules {
    rules: Vec<(Regex, ReplicaIdentity)>,
}

impl ReplicaIdentityRules {
    /// Compiles the entries; the error is the index of the bad one and why.
    pub fn parse(entries: &[String]) -> Result<Self, (usize, String)> {
        let mut rules = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            // The identity never holds a colon; a table regex may.
            let Some((pattern, identity)) = entry.rsplit_once(':') else {
                return Err((
                    i,
                    format!(
                        "{entry:?} must be <schema.table regex>:<DEFAULT|FULL|NOTHING|INDEX name>"
                    ),
                ));
            };
            let identity = ReplicaIdentity::parse(identity).map_err(|e| (i, e))?;
            let regex = super::anchored(&[pattern.trim().to_string()])
                .map_err(|(_, e)| {
                    (
                        i,
                        format!("{pattern:?} is not a valid regular expression: {e}"),
                    )
                })?
                .remove(0);
            rules.push((regex, identity));
        }
        Ok(ReplicaIdentityRules { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The identity wanted for `schema.table`, if any entry matches.
    pub fn for_table(&self, schema: &str, table: &str) -> Option<&ReplicaIdentity> {
        let name = format!("{schema}.{table}");
        self.rules
            .iter()
            .find(|(r, _)| r.is_match(&name))
            .map(|(_, id)| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(entries: &[&str]) -> Result<ReplicaIdentityRules, (usize, String)> {
        let v: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        ReplicaIdentityRules::parse(&v)
    }

    #[test]
    fn first_matching_entry_decides() {
        let r = rules(&[
            "public.orders:FULL",
            "public.t2:INDEX t2_code_idx",
            "inv\\..*:nothing",
            "public\\..*:DEFAULT",
        ])
        .unwrap();
        assert_eq!(
            r.for_table("public", "orders"),
            Some(&ReplicaIdentity::Full)
        );
        assert_eq!(
            r.for_table("public", "t2"),
            Some(&ReplicaIdentity::Index("t2_code_idx".into()))
        );
        assert_eq!(r.for_table("inv", "x"), Some(&ReplicaIdentity::Nothing));
        assert_eq!(
            r.for_table("public", "other"),
            Some(&ReplicaIdentity::Default)
        );
        assert_eq!(r.for_table("shop", "orders"), None);
        assert_eq!(
            r.for_table("public", "t2").unwrap().sql(),
            "USING INDEX \"t2_code_idx\""
        );
    }

    #[test]
    fn bad_entries_are_named() {
        assert_eq!(rules(&["public.a:FULL", "public.b"]).unwrap_err().0, 1);
        assert!(rules(&["public.a:PARTIAL"])
            .unwrap_err()
            .1
            .contains("DEFAULT, FULL"));
        assert!(rules(&["public.a:INDEX "]).is_err());
        assert!(rules(&["(:FULL"])
            .unwrap_err()
            .1
            .contains("regular expression"));
    }
}
