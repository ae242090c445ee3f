//! Reading changes out of PostgreSQL: the replication protocol client, the pgoutput decoder,
//! and slot/publication management over an ordinary SQL connection.

pub mod admin;
pub mod catalog;
pub mod copy_text;
pub mod pgoutput;
pub mod replication;
