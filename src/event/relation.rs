//! Per-table schemas built from pgoutput Relation (and Type) messages, with the hook for
//! catalog facts pgoutput does not carry (primary key under REPLICA IDENTITY FULL, NOT NULL,
//! column defaults, enum labels).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::change::Row;
use super::convert::{self, Conv, TypeHints};
use super::defaults;
use super::propagate::SourceColumn;
use super::schema::{self, Field, Schema, SchemaType};
use super::value::Value;
use crate::config::filter::columns::ColumnFilter;
use crate::config::filter::key_columns::KeyColumns;
use crate::source::catalog::TableInfo;
use crate::source::pgoutput::{Relation, ReplicaIdentity, Type};

/// One column of a captured table.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSchema {
    pub name: String,
    pub type_oid: u32,
    pub type_modifier: i32,
    /// Type name for messages (`int4`, `mood`, `oid 16385`).
    pub type_label: String,
    pub conv: Conv,
    /// The field schema (optionality and default applied).
    pub schema: Schema,
    /// What an unchanged TOAST value becomes (`None`: Debezium has no placeholder; null).
    pub toast: Option<Value>,
    /// Masking or truncation applied to every converted value (`column.mask.*`,
    /// `column.truncate.*`).
    pub mapper: Option<super::masking::ColumnMapper>,
}

/// Everything needed to turn rows of one relation into events, built once per Relation message.
#[derive(Debug)]
pub struct TableSchema {
    /// Unique per build: serializers cache rendered schemas under it.
    pub id: u64,
    pub relation_oid: u32,
    pub schema_name: String,
    pub table_name: String,
    pub topic: Arc<str>,
    pub replica_identity: ReplicaIdentity,
    pub columns: Vec<ColumnSchema>,
    /// Indices into `columns` of the key fields, in key order.
    pub key_indices: Vec<usize>,
    /// Indices into `columns` of the value fields (all but the filtered-out columns), in
    /// column order; rows in events hold these columns only.
    pub value_indices: Vec<usize>,
    /// `<topic>.Key`; `None` when the table has no key (null message keys).
    pub key_schema: Option<Schema>,
    /// `<topic>.Value`.
    pub value_schema: Schema,
    /// `<topic>.Envelope`.
    pub envelope_schema: Schema,
}

impl TableSchema {
    /// Whether column `i` reaches the event: in the value (`value_indices` is ascending) or
    /// in the key.
    pub fn is_emitted(&self, i: usize) -> bool {
        self.value_indices.binary_search(&i).is_ok() || self.key_indices.contains(&i)
    }

    /// A full row (every column) reduced to the value columns, in place, with masking and
    /// truncation applied (Debezium applies them to values, not to keys).
    pub fn project(&self, mut row: Row) -> Row {
        if row.len() != self.columns.len() {
            return row;
        }
        for (v, c) in row.iter_mut().zip(&self.columns) {
            if let Some(m) = &c.mapper {
                *v = m.apply(std::mem::replace(v, Value::Null));
            }
        }
        if self.value_indices.len() == self.columns.len() {
            return row;
        }
        let mut next = self.value_indices.iter().peekable();
        let mut i = 0;
        row.retain(|_| {
            let keep = next.peek() == Some(&&i);
            if keep {
                next.next();
            }
            i += 1;
            keep
        });
        row
    }

    /// Whether two full rows agree on every value column.
    pub fn same_value(&self, a: &Row, b: &Row) -> bool {
        self.value_indices
            .iter()
            .all(|&i| match (a.get(i), b.get(i)) {
                (Some(x), Some(y)) => x.java_eq(y),
                (x, y) => x.is_none() && y.is_none(),
            })
    }

    /// The column of value field `name`, as (index into `columns`, index into value rows).
    pub fn value_column(&self, name: &str) -> Option<(usize, usize)> {
        self.value_indices
            .iter()
            .enumerate()
            .find(|(_, &c)| self.columns[c].name == name)
            .map(|(v, &c)| (c, v))
    }
}

/// Two schemas are the same if they came from the same Relation message.
impl PartialEq for TableSchema {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

static NEXT_TABLE_ID: AtomicU64 = AtomicU64::new(1);

/// Debezium's topic/schema name sanitizing: characters other than `[A-Za-z0-9._-]` become `_`.
pub fn sanitize_topic(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Relation/Type state of one replication session plus the catalog hook.
#[derive(Debug, Default)]
pub struct RelationCache {
    tables: HashMap<u32, Arc<TableSchema>>,
    type_names: HashMap<u32, String>,
    enum_labels: HashMap<u32, Vec<String>>,
    enum_array_labels: HashMap<u32, Vec<String>>,
    table_info: HashMap<(String, String), TableInfo>,
    column_filter: ColumnFilter,
    key_columns: KeyColumns,
    masks: super::masking::ColumnMasks,
}

impl RelationCache {
    /// A cache whose tables leave the columns `filter` rejects out of row values.
    pub fn with_column_filter(filter: ColumnFilter) -> Self {
        RelationCache {
            column_filter: filter,
            ..Default::default()
        }
    }

    /// Column masking/truncation rules: take effect with each table's next Relation message.
    pub fn set_masks(&mut self, masks: super::masking::ColumnMasks) {
        self.masks = masks;
    }

    /// `message.key.columns`: takes effect with each table's next Relation message.
    pub fn set_key_columns(&mut self, keys: KeyColumns) {
        self.key_columns = keys;
    }

    pub fn get(&self, oid: u32) -> Option<&Arc<TableSchema>> {
        self.tables.get(&oid)
    }

    pub fn apply_type(&mut self, t: &Type) {
        self.type_names.insert(t.oid, t.name.clone());
    }

    /// Enum labels (sort order) of an enum type, so its columns get `io.debezium.data.Enum`.
    pub fn set_enum_labels(&mut self, type_oid: u32, labels: Vec<String>) {
        self.enum_labels.insert(type_oid, labels);
    }

    /// Element labels of an array-of-enum type, so its columns become arrays of
    /// `io.debezium.data.Enum`.
    pub fn set_enum_array_labels(&mut self, type_oid: u32, labels: Vec<String>) {
        self.enum_array_labels.insert(type_oid, labels);
    }

    /// Catalog facts for a table; takes effect with the table's next Relation message.
    pub fn set_table_info(&mut self, schema: &str, table: &str, info: TableInfo) {
        self.table_info
            .insert((schema.to_string(), table.to_string()), info);
    }

    /// Builds and caches the schema of a relation (a default that does not convert is logged
    /// and left out).
    pub fn apply_relation(
        &mut self,
        rel: &Relation,
        topic_prefix: &str,
        placeholder: &Bytes,
        modes: &crate::config::TypeModes,
    ) -> Arc<TableSchema> {
        let info = self
            .table_info
            .get(&(rel.namespace.clone(), rel.name.clone()));
        let custom = self.key_columns.for_table(&rel.namespace, &rel.name);
        let key_indices: Vec<usize> = match custom {
            // In the order listed, as Debezium 3.6.3 does (checked by tests/oracle_diff.rs).
            Some(names) => {
                let mut idx: Vec<usize> = Vec::with_capacity(names.len());
                for n in names {
                    let pos = rel
                        .columns
                        .iter()
                        .position(|c| c.name.eq_ignore_ascii_case(n));
                    match pos {
                        Some(p) if !idx.contains(&p) => idx.push(p),
                        Some(_) => {}
                        None => tracing::warn!(
                            table = %format!("{}.{}", rel.namespace, rel.name),
                            column = %n,
                            "message key column not in the table; left out of the key"
                        ),
                    }
                }
                idx
            }
            None => match info.and_then(|i| i.key_columns.as_ref()) {
                Some(names) => names
                    .iter()
                    .filter_map(|n| rel.columns.iter().position(|c| &c.name == n))
                    .collect(),
                None => (0..rel.columns.len())
                    .filter(|&i| rel.columns[i].is_key())
                    .collect(),
            },
        };
        let topic = sanitize_topic(&format!("{topic_prefix}.{}.{}", rel.namespace, rel.name));
        let mut columns = Vec::with_capacity(rel.columns.len());
        // Keys keep the schemas without masking parameters.
        let mut unmasked = Vec::with_capacity(rel.columns.len());
        for (i, c) in rel.columns.iter().enumerate() {
            let col_info = info.and_then(|t| t.columns.get(&c.name));
            let type_facts = col_info.filter(|ci| ci.type_oid.is_none_or(|oid| oid == c.type_oid));
            let own_name = type_facts
                .and_then(|ci| ci.type_name.as_deref())
                .or_else(|| self.type_names.get(&c.type_oid).map(String::as_str));
            // Debezium maps a domain column by the domain's base type.
            let domain = type_facts.and_then(|ci| ci.domain_base.as_ref());
            let (type_oid, type_modifier, type_name) = match domain {
                Some(b) => {
                    let typmod = if b.type_modifier >= 0 {
                        b.type_modifier
                    } else {
                        c.type_modifier
                    };
                    (b.oid, typmod, Some(b.name.as_str()))
                }
                None => (c.type_oid, c.type_modifier, own_name),
            };
            let hints = TypeHints {
                type_name,
                enum_values: self.enum_labels.get(&type_oid).map(Vec::as_slice),
                enum_array_values: self.enum_array_labels.get(&type_oid).map(Vec::as_slice),
            };
            let (conv, base) = convert::column_type_with(type_oid, type_modifier, &hints, modes);
            let is_key = key_indices.contains(&i);
            let optional = col_info.and_then(|ci| ci.optional).unwrap_or(!is_key);
            let mut field_schema = base.optional(optional);
            if let Some(expr) = col_info.and_then(|ci| ci.default_expr.as_deref()) {
                match defaults::default_value(&conv, expr) {
                    Some(v) => field_schema = field_schema.default_value(v),
                    None => tracing::debug!(
                        table = %format!("{}.{}", rel.namespace, rel.name),
                        column = %c.name,
                        default = %expr,
                        "column default has no Debezium representation; left out of the schema"
                    ),
                }
            }
            let toast = convert::toast_placeholder(&conv, placeholder);
            unmasked.push(field_schema.clone());
            let label = convert::type_label(c.type_oid, own_name);
            let source = SourceColumn {
                schema: &rel.namespace,
                table: &rel.name,
                column: &c.name,
                type_name: own_name.unwrap_or(&label),
                base_oid: convert::array_element(type_oid).unwrap_or(type_oid),
                type_modifier,
            };
            let (mapper, field_schema) = match self.masks.propagate(&source, &field_schema) {
                Some(schema) => (None, schema),
                None => self.masks.for_column(
                    &rel.namespace,
                    &rel.name,
                    &c.name,
                    c.type_oid,
                    c.type_modifier,
                    field_schema,
                ),
            };
            columns.push(ColumnSchema {
                name: c.name.clone(),
                type_oid: c.type_oid,
                type_modifier: c.type_modifier,
                type_label: label.into_owned(),
                conv,
                schema: field_schema,
                toast,
                mapper,
            });
        }
        let value_indices: Vec<usize> = (0..columns.len())
            .filter(|&i| {
                // Debezium leaves columns of unmapped types out unless told to include them.
                (modes.include_unknown || !columns[i].conv.is_unknown())
                    && self
                        .column_filter
                        .matches(&rel.namespace, &rel.name, &columns[i].name)
            })
            .collect();
        let value_fields: Vec<Field> = value_indices
            .iter()
            .map(|&i| schema::field(columns[i].name.clone(), columns[i].schema.clone()))
            .collect();
        let value_schema =
            Schema::new(SchemaType::Struct(value_fields)).named(format!("{topic}.Value"));
        let key_schema = (!key_indices.is_empty()).then(|| {
            let fields = key_indices
                .iter()
                .map(|&i| {
                    // Debezium 3.6.3 marks a key column optional when the column filter
                    // leaves it out of the value.
                    let excluded = !value_indices.contains(&i);
                    let sch = unmasked[i].clone();
                    let sch = if excluded { sch.optional(true) } else { sch };
                    schema::field(columns[i].name.clone(), sch)
                })
                .collect();
            Schema::new(SchemaType::Struct(fields)).named(format!("{topic}.Key"))
        });
        let envelope_schema = schema::envelope_schema(&value_schema, format!("{topic}.Envelope"));
        let table = Arc::new(TableSchema {
            id: NEXT_TABLE_ID.fetch_add(1, Ordering::Relaxed),
            relation_oid: rel.oid,
            schema_name: rel.namespace.clone(),
            table_name: rel.name.clone(),
            topic: Arc::from(topic),
            replica_identity: rel.replica_identity,
            columns,
            key_indices,
            value_indices,
            key_schema,
            value_schema,
            envelope_schema,
        });
        self.tables.insert(rel.oid, table.clone());
        table
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::catalog::ColumnInfo;
    use crate::source::pgoutput::Column;

    fn rel(identity: ReplicaIdentity, key_flags: &[u8]) -> Relation {
        let names = ["id", "name", "qty"];
        let oids = [23, 25, 23];
        Relation {
            xid: None,
            oid: 16_384,
            namespace: "public".into(),
            name: "items".into(),
            replica_identity: identity,
            columns: (0..3)
                .map(|i| Column {
                    flags: key_flags[i],
                    name: names[i].into(),
                    type_oid: oids[i],
                    type_modifier: -1,
                })
                .collect(),
        }
    }

    fn placeholder() -> Bytes {
        Bytes::from_static(b"__debezium_unavailable_value")
    }

    #[test]
    fn key_from_relation_flags() {
        let mut cache = RelationCache::default();
        let t = cache.apply_relation(
            &rel(ReplicaIdentity::Default, &[1, 0, 0]),
            "dbz",
            &placeholder(),
            &crate::config::TypeModes::default(),
        );
        assert_eq!(&*t.topic, "dbz.public.items");
        assert_eq!(t.key_indices, vec![0]);
        assert_eq!(
            t.key_schema.as_ref().unwrap().name.as_deref(),
            Some("dbz.public.items.Key")
        );
        assert!(!t.columns[0].schema.optional);
        assert!(t.columns[1].schema.optional);
        assert!(cache.get(16_384).is_some());
    }

    #[test]
    fn table_info_overrides_full_identity_key() {
        let mut cache = RelationCache::default();
        let mut info = TableInfo {
            key_columns: Some(vec!["id".into()]),
            ..Default::default()
        };
        info.columns.insert(
            "qty".into(),
            ColumnInfo {
                optional: Some(false),
                default_expr: Some("0".into()),

                ..Default::default()
            },
        );
        cache.set_table_info("public", "items", info);
        let t = cache.apply_relation(
            &rel(ReplicaIdentity::Full, &[1, 1, 1]),
            "dbz",
            &placeholder(),
            &crate::config::TypeModes::default(),
        );
        assert_eq!(t.key_indices, vec![0]);
        assert!(!t.columns[2].schema.optional);
        assert_eq!(t.columns[2].schema.default, Some(Value::Int32(0)));
        assert!(t.columns[1].schema.optional);
    }

    #[test]
    fn no_key_columns_means_no_key_schema() {
        let mut cache = RelationCache::default();
        let t = cache.apply_relation(
            &rel(ReplicaIdentity::Nothing, &[0, 0, 0]),
            "dbz",
            &placeholder(),
            &crate::config::TypeModes::default(),
        );
        assert!(t.key_schema.is_none());
        assert!(t.key_indices.is_empty());
    }

    #[test]
    fn sanitizes_topic_names() {
        assert_eq!(
            sanitize_topic("dbz.public.my table$"),
            "dbz.public.my_table_"
        );
        assert_eq!(sanitize_topic("a-b_c.d"), "a-b_c.d");
    }

    fn relation(columns: &[(&str, u32, i32)]) -> Relation {
        Relation {
            xid: None,
            oid: 16_390,
            namespace: "public".into(),
            name: "ext".into(),
            replica_identity: ReplicaIdentity::Default,
            columns: columns
                .iter()
                .enumerate()
                .map(|(i, (name, oid, typmod))| Column {
                    flags: u8::from(i == 0),
                    name: (*name).into(),
                    type_oid: *oid,
                    type_modifier: *typmod,
                })
                .collect(),
        }
    }

    fn typed(oid: u32, name: &str) -> ColumnInfo {
        ColumnInfo {
            type_oid: Some(oid),
            type_name: Some(name.into()),
            ..Default::default()
        }
    }

    #[test]
    fn domains_unknown_types_and_propagation() {
        let rel = relation(&[
            ("id", 23, -1),
            ("d", 16_400, -1),
            ("g", 628, -1),
            ("n", 23, -1),
        ]);
        let mut info = TableInfo::default();
        info.columns.insert(
            "d".into(),
            ColumnInfo {
                domain_base: Some(crate::source::catalog::DomainBase {
                    oid: 1043,
                    type_modifier: 12,
                    name: "varchar".into(),
                }),
                ..typed(16_400, "short_text")
            },
        );
        // The catalog is ahead of the stream: `n` is int8 there already.
        info.columns.insert("n".into(), typed(20, "int8"));
        let mut cache = RelationCache::default();
        let mut masks = super::super::masking::ColumnMasks::default();
        masks.set_propagation(
            super::super::propagate::Propagation::new(&["public\\.ext\\..*".into()], &[]).unwrap(),
        );
        cache.set_masks(masks);
        cache.set_table_info("public", "ext", info);
        let t = cache.apply_relation(
            &rel,
            "dbz",
            &placeholder(),
            &crate::config::TypeModes::default(),
        );
        // The domain is mapped by its base type, named by its own name.
        assert_eq!(t.columns[1].conv, Conv::Text);
        let param = |c: usize, k: &str| {
            t.columns[c]
                .schema
                .parameters
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            param(1, "__debezium.source.column.type").as_deref(),
            Some("SHORT_TEXT")
        );
        assert_eq!(
            param(1, "__debezium.source.column.length").as_deref(),
            Some("8")
        );
        // A stale catalog type is not used: the stream says int4.
        assert_eq!(
            param(3, "__debezium.source.column.type").as_deref(),
            Some("int4".to_ascii_uppercase().as_str())
        );
        // The line column is left out of values unless include.unknown.datatypes.
        assert!(t.columns[2].conv.is_unknown());
        assert_eq!(t.value_indices, vec![0, 1, 3]);
        let with_unknown = crate::config::TypeModes {
            include_unknown: true,
            ..Default::default()
        };
        let t = cache.apply_relation(&rel, "dbz", &placeholder(), &with_unknown);
        assert_eq!(t.value_indices, vec![0, 1, 2, 3]);
        // Keys keep plain schemas.
        let key = t.key_schema.as_ref().unwrap();
        assert!(key.fields()[0].schema.parameters.is_empty());
    }
}
