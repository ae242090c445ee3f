//! "Up to a moment" for `pgcdc replay`: a WAL position or a wall-clock time, and whether a
//! record belongs before it. Stream records carry their transaction's commit LSN in the event
//! id and its commit time in `source.ts_ms`; initial snapshot rows carry no event id, so their
//! `source.lsn` (the snapshot's point) decides.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::change::{event_lsn, Shape};
use crate::lsn::Lsn;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// Transactions that committed at or before this LSN.
    Lsn(Lsn),
    /// Transactions that committed at or before this time (milliseconds since the epoch).
    TimeMs(i64),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MomentError {
    #[error(
        "--until {0:?} is neither an LSN (0/16B3748) nor an RFC 3339 time (2026-12-04T18:00:00Z)"
    )]
    Parse(String),
    #[error("a record without its commit time: --until with a time needs source.ts_ms in the values (with the unwrap transform: add_fields = [\"source.ts_ms\"]); give an LSN instead")]
    NoTime,
}

impl std::str::FromStr for Moment {
    type Err = MomentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(lsn) = s.parse::<Lsn>() {
            return Ok(Moment::Lsn(lsn));
        }
        let t = humantime::parse_rfc3339_weak(s).map_err(|_| MomentError::Parse(s.into()))?;
        let ms = t
            .duration_since(UNIX_EPOCH)
            .map_err(|_| MomentError::Parse(s.into()))?
            .as_millis();
        Ok(Moment::TimeMs(ms as i64))
    }
}

impl Moment {
    /// Whether a record with this event id header and value belongs at or before the moment.
    pub fn includes(
        &self,
        shape: Shape,
        event_id: Option<&[u8]>,
        value: Option<&[u8]>,
    ) -> Result<bool, MomentError> {
        match *self {
            Moment::Lsn(until) => {
                let lsn = event_id
                    .and_then(event_lsn)
                    .or_else(|| source_field(shape, value, "lsn").map(Lsn::from));
                Ok(lsn.is_none_or(|l| l <= until))
            }
            Moment::TimeMs(until) => {
                if value.is_none() {
                    // A tombstone follows its delete, which was judged already.
                    return Ok(true);
                }
                let ts = source_field(shape, value, "ts_ms").ok_or(MomentError::NoTime)?;
                Ok(ts as i64 <= until)
            }
        }
    }
}

/// A number of the record's `source` block (`__source_<field>` in flat values).
fn source_field(shape: Shape, value: Option<&[u8]>, field: &str) -> Option<u64> {
    let v: Value = serde_json::from_slice(value?).ok()?;
    let v = if shape.schemas { v.get("payload")? } else { &v };
    if shape.flat {
        v.get(format!("__source_{field}"))?.as_u64()
    } else {
        v.get("source")?.get(field)?.as_u64()
    }
}

/// Now, as a moment (the default: the topics' latest state).
pub fn now() -> Moment {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(i64::MAX);
    Moment::TimeMs(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Shape = Shape {
        schemas: false,
        flat: false,
    };

    #[test]
    fn parses_lsns_and_times() {
        assert_eq!(
            "0/16B3748".parse::<Moment>(),
            Ok(Moment::Lsn("0/16B3748".parse().unwrap()))
        );
        assert_eq!(
            "1970-01-01T00:00:01Z".parse::<Moment>(),
            Ok(Moment::TimeMs(1000))
        );
        assert!(matches!(
            "soon".parse::<Moment>(),
            Err(MomentError::Parse(_))
        ));
    }

    #[test]
    fn commit_lsn_decides_and_snapshot_rows_use_source_lsn() {
        let m = Moment::Lsn(Lsn::from(100));
        assert!(m.includes(PLAIN, Some(b"0/64:3"), None).unwrap());
        assert!(!m.includes(PLAIN, Some(b"0/65:0"), None).unwrap());
        let snap = br#"{"op":"r","source":{"lsn":90}}"#;
        assert!(m.includes(PLAIN, None, Some(snap)).unwrap());
        let late = br#"{"op":"r","source":{"lsn":190}}"#;
        assert!(!m.includes(PLAIN, None, Some(late)).unwrap());
    }

    #[test]
    fn commit_time_decides() {
        let m = Moment::TimeMs(1000);
        let early = br#"{"op":"c","source":{"ts_ms":999}}"#;
        let late = br#"{"op":"c","source":{"ts_ms":1001}}"#;
        assert!(m.includes(PLAIN, None, Some(early)).unwrap());
        assert!(!m.includes(PLAIN, None, Some(late)).unwrap());
        let flat = Shape {
            schemas: false,
            flat: true,
        };
        assert_eq!(
            m.includes(flat, None, Some(br#"{"id":1}"#)),
            Err(MomentError::NoTime)
        );
    }
}
