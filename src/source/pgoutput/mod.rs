//! The pgoutput logical decoding protocol, versions 1 to 4: a pure, sans-io decoder.

mod decode;
pub mod messages;

pub use decode::{DecodeError, DecodeErrorKind, Decoder};
pub use messages::*;
