//! The pgoutput logical decoding protocol, versions 1 to 4: a pure, sans-io decoder.

mod decode;
mod error;
pub mod messages;
mod reader;

pub use decode::{DecodeError, DecodeErrorKind, Decoder};
pub use messages::*;
