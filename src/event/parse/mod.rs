//! Parsers for PostgreSQL text output forms (with the session settings pgcdc uses:
//! DateStyle=ISO, TimeZone=UTC, IntervalStyle=iso_8601, extra_float_digits=3, bytea_output=hex).
//!
//! Parsers take the raw bytes of one value and never panic; failures carry a short description
//! of what was expected, and the caller adds the table, column and offending text.

pub mod array;
pub mod geometric;
pub mod hstore;
pub mod interval;
pub mod numeric;
pub mod scalar;
pub mod temporal;

/// What a value was expected to look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseErr(pub &'static str);
