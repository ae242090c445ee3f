//! Table state rebuilt from a connector's topics, and its comparison with PostgreSQL
//! (`pgcdc verify`).
//!
//! The pure part folds records into rows by key ([`change`], [`state`]) and compares rows
//! ([`compare`]); the I/O part finds a consistent point in the database ([`point`]), reads a
//! topic from its start with a read-only consumer ([`topic`]) and converts the database's rows
//! with pgcdc's own event conversion ([`db_rows`]), so both sides are the same JSON.

pub mod change;
pub mod compare;
pub mod db_rows;
pub mod moment;
pub mod output;
pub mod point;
pub mod state;

pub use change::{Change, ChangeError, Shape};
pub use compare::{Comparer, TableReport};
pub use state::TableState;
