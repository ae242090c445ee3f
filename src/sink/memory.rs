//! A sink in memory, for unit tests of the emit path and the progress code: it keeps what it
//! accepts, in order; refuses records above a size limit as a real destination does; and
//! acknowledges either at once or only when the test says so, with an optional failed delivery.

use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use tokio::sync::Notify;

use super::{Acknowledgements, ErrorClass, Sink, SinkError, SizeLimit};
use crate::format::Record;

#[derive(Debug, Clone, thiserror::Error)]
pub enum MemoryError {
    #[error("record for {topic} is {size} bytes, more than the {max} the sink accepts")]
    TooLarge {
        topic: String,
        size: usize,
        max: usize,
    },
    #[error("delivery of record {seq} failed")]
    Delivery { seq: u64 },
}

impl MemoryError {
    pub fn class(&self) -> ErrorClass {
        match self {
            MemoryError::TooLarge { .. } => ErrorClass::TooLarge,
            MemoryError::Delivery { .. } => ErrorClass::Transient,
        }
    }
}

#[derive(Default)]
pub struct MemorySink {
    /// Records accepted, in the order they were sent, across resets.
    pub accepted: Vec<Record>,
    /// Larger records (key and value bytes) are refused as too large.
    pub max_bytes: Option<usize>,
    /// Acknowledge only through [`MemoryAcks::ack_through`], not on acceptance.
    pub manual: bool,
    /// The accepted records of the current client (since the last reset).
    sent: u64,
    acks: Arc<MemoryAcks>,
    /// How many times [`Sink::reset`] was called.
    pub resets: u32,
}

/// The acknowledgement state of a [`MemorySink`].
#[derive(Default)]
pub struct MemoryAcks {
    state: Mutex<(u64, Option<u64>)>,
    changed: Notify,
}

impl MemoryAcks {
    /// Acknowledges the first `count` records.
    pub fn ack_through(&self, count: u64) {
        let mut st = self.state.lock().expect("acks lock");
        st.0 = st.0.max(count);
        drop(st);
        self.changed.notify_waiters();
    }

    /// Record `seq` failed: it and every later one never count as acknowledged.
    pub fn fail(&self, seq: u64) {
        self.state.lock().expect("acks lock").1 = Some(seq);
        self.changed.notify_waiters();
    }
}

impl Acknowledgements for MemoryAcks {
    fn wait_for(&self, count: u64) -> BoxFuture<'_, Result<(), SinkError>> {
        Box::pin(async move {
            loop {
                let notified = self.changed.notified();
                {
                    let (acked, failed) = *self.state.lock().expect("acks lock");
                    if let Some(seq) = failed.filter(|&s| s < count) {
                        return Err(MemoryError::Delivery { seq }.into());
                    }
                    if acked >= count {
                        return Ok(());
                    }
                }
                notified.await;
            }
        })
    }
}

impl MemorySink {
    pub fn with_limit(max_bytes: usize) -> Self {
        MemorySink {
            max_bytes: Some(max_bytes),
            ..MemorySink::default()
        }
    }

    /// A sink that acknowledges only when told to.
    pub fn manual() -> Self {
        MemorySink {
            manual: true,
            ..MemorySink::default()
        }
    }

    /// The current client's acknowledgements, to acknowledge or fail records by hand.
    pub fn memory_acks(&self) -> Arc<MemoryAcks> {
        self.acks.clone()
    }

    fn size(rec: &Record) -> usize {
        rec.key.as_ref().map_or(0, Vec::len) + rec.value.as_ref().map_or(0, Vec::len)
    }
}

impl Sink for MemorySink {
    async fn send(&mut self, rec: &Record) -> Result<(), SinkError> {
        let size = Self::size(rec);
        if let Some(max) = self.max_bytes.filter(|&max| size > max) {
            return Err(MemoryError::TooLarge {
                topic: rec.topic.to_string(),
                size,
                max,
            }
            .into());
        }
        self.accepted.push(rec.clone());
        self.sent += 1;
        if !self.manual {
            self.acks.ack_through(self.sent);
        }
        Ok(())
    }

    fn sent(&self) -> u64 {
        self.sent
    }

    fn acks(&self) -> Arc<dyn Acknowledgements> {
        self.acks.clone()
    }

    fn size_limit(&self) -> SizeLimit {
        SizeLimit {
            bytes: self.max_bytes.unwrap_or(usize::MAX) as u64,
            how_to_raise: "raise the memory sink's max_bytes".into(),
        }
    }

    /// Records accepted but not acknowledged are dropped, as a real client's queue would be.
    fn reset(&mut self) -> Result<(), SinkError> {
        let (acked, _) = *self.acks.state.lock().expect("acks lock");
        let dropped = (self.sent - acked.min(self.sent)) as usize;
        self.accepted.truncate(self.accepted.len() - dropped);
        self.sent = 0;
        self.acks = Arc::default();
        self.resets += 1;
        Ok(())
    }
}
