//! A buffered, framed duplex over plain TCP or TLS.

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::error::ReplicationError;
use super::framing::{self, BackendFrame};

/// Bytes we ask the socket for at a time: big enough that a busy stream needs few syscalls.
const READ_CHUNK: usize = 256 * 1024;

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) struct Wire {
    io: Box<dyn Io>,
    rbuf: BytesMut,
    /// Outgoing messages are encoded here by the `postgres_protocol::message::frontend` helpers.
    pub(crate) wbuf: BytesMut,
}

impl Wire {
    pub(crate) fn new(io: Box<dyn Io>) -> Self {
        Wire {
            io,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(1024),
        }
    }

    /// A frame already in the buffer, without touching the socket.
    pub(crate) fn try_frame(&mut self) -> Result<Option<BackendFrame>, ReplicationError> {
        framing::next_frame(&mut self.rbuf)
    }

    pub(crate) async fn read_frame(&mut self) -> Result<BackendFrame, ReplicationError> {
        loop {
            if let Some(frame) = self.try_frame()? {
                return Ok(frame);
            }
            self.fill().await?;
        }
    }

    /// Reads whatever the socket has. Cancel safe (only `read_buf` is awaited), so it can sit
    /// in a `select!` next to a timer.
    pub(crate) async fn fill(&mut self) -> Result<(), ReplicationError> {
        // Make room for the whole pending frame at once when it is larger than a chunk, so a
        // big row does not grow the buffer step by step.
        let want = framing::pending_frame_len(&self.rbuf)?
            .map_or(0, |total| total.saturating_sub(self.rbuf.len()));
        self.rbuf.reserve(want.max(READ_CHUNK));
        let n = self.io.read_buf(&mut self.rbuf).await?;
        if n == 0 {
            return Err(ReplicationError::Closed);
        }
        Ok(())
    }

    /// Writes out everything encoded into `wbuf`. Cancel safe: written bytes are consumed from
    /// `wbuf` as they go, so a flush cut short by `select!` resumes where it stopped instead of
    /// sending a message twice (the pipeline polls `ReplicationStream::next` in a select).
    pub(crate) async fn flush(&mut self) -> Result<(), ReplicationError> {
        if !self.wbuf.is_empty() {
            self.io.write_all_buf(&mut self.wbuf).await?;
        }
        self.io.flush().await?;
        Ok(())
    }

    pub(crate) async fn shutdown(&mut self) {
        // The server may already be gone; a failed shutdown changes nothing for us.
        let _ = self.io.shutdown().await;
    }
}
