//! The records that are not table rows: logical decoding messages (`<prefix>.message`) and
//! transaction metadata (`<prefix>.transaction`), with Debezium's fixed schemas.

use super::{datum, header, opt_long, write_source, write_tx_block, AvroFormat};
use crate::config::BinaryHandlingMode;
use crate::event::convert::encode_binary;
use crate::event::schema::{
    message_key_schema, message_value_schema, transaction_key_schema, transaction_value_schema,
};
use crate::event::{ChangeEvent, TxRecord};
use crate::format::{FormatError, Record};

impl AvroFormat {
    pub(super) fn message(
        &mut self,
        ev: &ChangeEvent,
        prefix: &str,
        content: &[u8],
    ) -> Result<Record, FormatError> {
        let as_string = self.binary_mode != BinaryHandlingMode::Bytes;
        let (key_id, value_id) = self.fixed_ids(&ev.topic, || {
            (message_key_schema(), message_value_schema(as_string))
        })?;
        let mut key = header(key_id);
        // prefix: ["null", "string"], present.
        datum::long(&mut key, 1);
        datum::bytes(&mut key, prefix.as_bytes());
        let mut value = header(value_id);
        datum::bytes(&mut value, b"m");
        opt_long(&mut value, Some(ev.ts_nanos.div_euclid(1_000_000)));
        write_source(&mut value, &ev.source, "", "");
        write_tx_block(&mut value, ev.transaction.as_ref());
        datum::long(&mut value, 1);
        datum::bytes(&mut value, prefix.as_bytes());
        datum::long(&mut value, 1);
        if as_string {
            datum::bytes(
                &mut value,
                encode_binary(content, self.binary_mode).as_bytes(),
            );
        } else {
            datum::bytes(&mut value, content);
        }
        Ok(record(ev, key, value))
    }

    /// A BEGIN or END record.
    pub(super) fn transaction(
        &mut self,
        ev: &ChangeEvent,
        rec: &TxRecord,
    ) -> Result<Record, FormatError> {
        let (key_id, value_id) = self.fixed_ids(&ev.topic, || {
            (transaction_key_schema(), transaction_value_schema())
        })?;
        let mut key = header(key_id);
        datum::bytes(&mut key, rec.id.as_bytes());
        let mut value = header(value_id);
        datum::bytes(&mut value, rec.status.as_str().as_bytes());
        datum::bytes(&mut value, rec.id.as_bytes());
        opt_long(&mut value, rec.event_count.map(|n| n as i64));
        match &rec.data_collections {
            Some(list) => {
                datum::long(&mut value, 1);
                if !list.is_empty() {
                    datum::long(&mut value, list.len() as i64);
                    for (name, n) in list {
                        // Each item is an optional `event.collection` record.
                        datum::long(&mut value, 1);
                        datum::bytes(&mut value, name.as_bytes());
                        datum::long(&mut value, *n as i64);
                    }
                }
                datum::long(&mut value, 0);
            }
            None => datum::long(&mut value, 0),
        }
        datum::long(&mut value, rec.ts_ms);
        Ok(record(ev, key, value))
    }
}

fn record(ev: &ChangeEvent, key: Vec<u8>, value: Vec<u8>) -> Record {
    Record {
        topic: ev.topic.clone(),
        key: Some(key),
        value: Some(value),
        headers: Vec::new(),
        event_id: None,
    }
}
