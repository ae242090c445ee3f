//! The way out for records, shared by the stream and the snapshots: what happens to an event
//! that cannot be published (`[errors]`: fail, warn, skip, dead-letter topic).

pub mod failure;

pub use failure::{EmitError, EventFailure, FailureCounts, FailureKind, FailurePolicy, Failures};
