//! STUB: owned by the decoder work.
#[derive(Debug)]
pub struct DecodeError;
#[derive(Debug)]
pub enum DecodeErrorKind {}
pub struct Decoder;
