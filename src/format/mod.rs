//! TEMPORARY (replaced by the format work on merge).
use std::sync::Arc;
pub struct Record {
    pub topic: Arc<str>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}
