//! The CopyBoth phase: WAL data in, standby status updates out.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes, BytesMut};
use postgres_protocol::message::frontend;
use tokio::time::{sleep_until, Instant};
use tracing::{debug, trace};

use super::error::ReplicationError;
use super::framing::{self, BackendFrame, Reader, *};
use super::wire::Wire;
use crate::Lsn;

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// Upper bound for `finish`, so shutdown cannot hang on a server that stopped answering.
const FINISH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationEvent {
    /// A chunk of output-plugin data (one pgoutput message). `server_time` is microseconds
    /// since 2000-01-01 UTC.
    XLogData {
        wal_start: Lsn,
        wal_end: Lsn,
        server_time: i64,
        data: Bytes,
    },
    /// When nothing is in flight downstream, confirm `wal_end` (`set_flushed`): otherwise the
    /// slot lags behind unrelated WAL and a fast server shutdown waits for wal_sender_timeout.
    Keepalive {
        wal_end: Lsn,
        server_time: i64,
        reply_requested: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Streaming,
    /// The server sent CopyDone; we still owe it ours.
    ServerDone,
    /// The walsender finished the command outright (CommandComplete without CopyDone), which
    /// is how it leaves during a server shutdown once we confirmed everything it sent.
    ServerExited,
}

impl std::fmt::Debug for ReplicationStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicationStream")
            .field("state", &self.state)
            .field("flushed", &self.flushed)
            .field("status_interval", &self.status_interval)
            .finish_non_exhaustive()
    }
}

pub struct ReplicationStream {
    wire: Wire,
    state: State,
    flushed: Lsn,
    /// False under `lsn.flush.mode = manual`: status updates report no flush position, so the
    /// server never moves the slot (it only acts on a valid flush LSN).
    confirms: bool,
    status_interval: Duration,
    next_status: Instant,
}

impl ReplicationStream {
    pub(crate) fn new(wire: Wire, start_lsn: Lsn, status_interval: Duration) -> Self {
        ReplicationStream {
            wire,
            state: State::Streaming,
            // Until told otherwise we only vouch for where we started; 0/0 is ignored by the server.
            flushed: start_lsn,
            confirms: true,
            status_interval,
            next_status: Instant::now() + status_interval,
        }
    }

    /// The next event; `None` once the server has ended the stream (CopyDone, or the walsender
    /// exiting at server shutdown). While waiting, this sends
    /// the periodic status updates and answers keepalives, so call it steadily: a consumer
    /// that stops calling for longer than wal_sender_timeout must call `send_status` itself.
    pub async fn next(&mut self) -> Result<Option<ReplicationEvent>, ReplicationError> {
        if self.state != State::Streaming {
            return Ok(None);
        }
        loop {
            if Instant::now() >= self.next_status {
                self.send_status(false).await?;
            }
            if let Some(frame) = self.wire.try_frame()? {
                match self.handle(frame).await? {
                    Handled::Event(ev) => return Ok(Some(ev)),
                    Handled::Ended => return Ok(None),
                    Handled::Nothing => continue,
                }
            }
            // Only `fill` is cancelled when the timer wins, and it is cancel safe.
            let timer_fired = tokio::select! {
                r = self.wire.fill() => { r?; false }
                _ = sleep_until(self.next_status) => true,
            };
            if timer_fired {
                self.send_status(false).await?;
            }
        }
    }

    /// Raises the position we confirm to the server: everything up to `lsn` is durably
    /// handled and the server may recycle WAL before it. Never moves backwards.
    pub fn set_flushed(&mut self, lsn: Lsn) {
        if lsn > self.flushed {
            self.flushed = lsn;
        }
    }

    pub fn flushed(&self) -> Lsn {
        self.flushed
    }

    /// From now on, report the handled position as written only, never as flushed: the slot
    /// stays where it is until someone else advances it (`lsn.flush.mode = manual`). The
    /// written position still lets a shutting-down server see that we caught up.
    pub fn never_confirm(&mut self) {
        self.confirms = false;
    }

    /// The effective interval of unprompted status updates (after the wal_sender_timeout cap).
    pub fn status_interval(&self) -> Duration {
        self.status_interval
    }

    /// Sends a standby status update now. We report the flushed position as written, flushed
    /// and applied alike: only what is durable downstream may be confirmed.
    pub async fn send_status(&mut self, reply_requested: bool) -> Result<(), ReplicationError> {
        let flushed = if self.confirms {
            self.flushed
        } else {
            Lsn::ZERO
        };
        let msg = encode_status(self.flushed, flushed, now_pg_micros(), reply_requested);
        frontend::CopyData::new(&msg[..])?.write(&mut self.wire.wbuf);
        self.wire.flush().await?;
        self.next_status = Instant::now() + self.status_interval;
        trace!(flushed = %self.flushed, "sent standby status update");
        Ok(())
    }

    /// Ends streaming cleanly: confirms the flushed position one last time, sends CopyDone,
    /// drains the server's remaining data until it is ready again, then terminates.
    pub async fn finish(mut self) -> Result<(), ReplicationError> {
        match tokio::time::timeout(FINISH_TIMEOUT, self.finish_inner()).await {
            Ok(r) => r?,
            Err(_) => debug!("server did not end the stream in time, closing anyway"),
        }
        self.wire.shutdown().await;
        Ok(())
    }

    async fn finish_inner(&mut self) -> Result<(), ReplicationError> {
        if self.state == State::ServerExited {
            return Ok(());
        }
        if self.state == State::Streaming {
            self.send_status(false).await?;
        }
        frontend::copy_done(&mut self.wire.wbuf);
        self.wire.flush().await?;
        loop {
            let frame = self.wire.read_frame().await?;
            match frame.tag {
                TAG_READY_FOR_QUERY => break,
                TAG_ERROR_RESPONSE => {
                    return Err(ReplicationError::Db(framing::parse_error_fields(
                        &frame.body,
                    )?))
                }
                // Data still in flight, the server's CopyDone, CommandComplete, notices.
                _ => {}
            }
        }
        frontend::terminate(&mut self.wire.wbuf);
        self.wire.flush().await
    }

    async fn handle(&mut self, frame: BackendFrame) -> Result<Handled, ReplicationError> {
        match frame.tag {
            TAG_COPY_DATA => {
                let ev = parse_copy_data(frame.body)?;
                if let ReplicationEvent::Keepalive {
                    reply_requested: true,
                    wal_end,
                    ..
                } = &ev
                {
                    debug!(wal_end = %wal_end, flushed = %self.flushed, "server requested a status reply");
                    self.send_status(false).await?;
                }
                Ok(Handled::Event(ev))
            }
            TAG_COPY_DONE => {
                debug!("server ended the replication stream");
                self.state = State::ServerDone;
                Ok(Handled::Ended)
            }
            TAG_COMMAND_COMPLETE => {
                debug!("walsender exited (server shutting down)");
                self.state = State::ServerExited;
                Ok(Handled::Ended)
            }
            TAG_ERROR_RESPONSE => Err(ReplicationError::Db(framing::parse_error_fields(
                &frame.body,
            )?)),
            TAG_NOTICE_RESPONSE | TAG_PARAMETER_STATUS => Ok(Handled::Nothing),
            other => Err(ReplicationError::protocol(format!(
                "unexpected message {:?} while streaming",
                other as char
            ))),
        }
    }
}

enum Handled {
    Event(ReplicationEvent),
    Ended,
    Nothing,
}

/// Parses the payload of a CopyData message from the walsender. The XLogData payload is a
/// slice of `body`, so of the read buffer: no copy.
pub fn parse_copy_data(body: Bytes) -> Result<ReplicationEvent, ReplicationError> {
    let mut r = Reader::new(&body, "replication CopyData");
    match r.u8()? {
        b'w' => {
            let wal_start = Lsn(r.i64()? as u64);
            let wal_end = Lsn(r.i64()? as u64);
            let server_time = r.i64()?;
            let header = body.len() - r.remaining().len();
            Ok(ReplicationEvent::XLogData {
                wal_start,
                wal_end,
                server_time,
                data: body.slice(header..),
            })
        }
        b'k' => {
            let wal_end = Lsn(r.i64()? as u64);
            let server_time = r.i64()?;
            let reply_requested = r.u8()? != 0;
            Ok(ReplicationEvent::Keepalive {
                wal_end,
                server_time,
                reply_requested,
            })
        }
        other => Err(ReplicationError::protocol(format!(
            "unknown replication message kind {:?}",
            other as char
        ))),
    }
}

/// Standby status update ('r'): written, flushed, applied positions, client clock, and
/// whether we want an immediate keepalive back.
pub fn encode_status_update(flushed: Lsn, client_time: i64, reply_requested: bool) -> Bytes {
    encode_status(flushed, flushed, client_time, reply_requested)
}

/// A status update whose flushed and applied positions differ from the written one (0/0 means
/// "none": the server then leaves the slot alone).
fn encode_status(written: Lsn, flushed: Lsn, client_time: i64, reply_requested: bool) -> Bytes {
    let mut b = BytesMut::with_capacity(34);
    b.put_u8(b'r');
    b.put_u64(written.0);
    b.put_u64(flushed.0);
    b.put_u64(flushed.0);
    b.put_i64(client_time);
    b.put_u8(reply_requested as u8);
    b.freeze()
}

/// Now in PostgreSQL's timestamp representation (microseconds since 2000-01-01 UTC).
pub fn now_pg_micros() -> i64 {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    unix - PG_EPOCH_OFFSET_MICROS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_xlogdata_without_copying() {
        let mut b = BytesMut::new();
        b.put_u8(b'w');
        b.put_u64(0x10);
        b.put_u64(0x20);
        b.put_i64(12345);
        b.put_slice(b"Bpayload");
        let body = b.freeze();
        let ev = parse_copy_data(body.clone()).unwrap();
        let ReplicationEvent::XLogData {
            wal_start,
            wal_end,
            server_time,
            data,
        } = ev
        else {
            panic!("expected XLogData, got {ev:?}");
        };
        assert_eq!(
            (wal_start, wal_end, server_time),
            (Lsn(0x10), Lsn(0x20), 12345)
        );
        assert_eq!(&data[..], b"Bpayload");
        assert_eq!(
            data.as_ptr(),
            body[25..].as_ptr(),
            "data must share the read buffer"
        );
    }

    #[test]
    fn parses_keepalive() {
        let mut b = BytesMut::new();
        b.put_u8(b'k');
        b.put_u64(0xABCD);
        b.put_i64(-5);
        b.put_u8(1);
        assert_eq!(
            parse_copy_data(b.freeze()).unwrap(),
            ReplicationEvent::Keepalive {
                wal_end: Lsn(0xABCD),
                server_time: -5,
                reply_requested: true
            }
        );
    }

    #[test]
    fn rejects_truncated_and_unknown_payloads() {
        for bad in [
            &b""[..],
            b"w\0\0\0",
            b"k\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
            b"x",
        ] {
            assert!(
                parse_copy_data(Bytes::copy_from_slice(bad)).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn encodes_status_update() {
        let m = encode_status_update(Lsn(0x0102), 7, true);
        assert_eq!(m.len(), 34);
        assert_eq!(m[0], b'r');
        for i in 0..3 {
            let off = 1 + i * 8;
            assert_eq!(
                u64::from_be_bytes(m[off..off + 8].try_into().unwrap()),
                0x0102
            );
        }
        assert_eq!(i64::from_be_bytes(m[25..33].try_into().unwrap()), 7);
        assert_eq!(m[33], 1);
    }

    #[test]
    fn clock_is_relative_to_2000() {
        // 2020-01-01 is 20 years (plus leap days) after the PostgreSQL epoch.
        let twenty_years = 631_152_000_000_000i64;
        assert!(now_pg_micros() > twenty_years);
    }

    #[tokio::test]
    async fn confirms_only_the_highest_flushed_position() {
        use tokio::io::AsyncReadExt;
        let (ours, mut server) = tokio::io::duplex(1024);
        let mut stream =
            ReplicationStream::new(Wire::new(Box::new(ours)), Lsn(10), Duration::from_secs(60));
        for lsn in [Lsn(5), Lsn(20), Lsn(15)] {
            stream.set_flushed(lsn);
        }
        assert_eq!(stream.flushed(), Lsn(20));
        stream.send_status(false).await.unwrap();
        let mut frame = [0u8; 1 + 4 + 34];
        server.read_exact(&mut frame).await.unwrap();
        assert_eq!(frame[0], b'd');
        assert_eq!(frame[5], b'r');
        assert_eq!(
            u64::from_be_bytes(frame[14..22].try_into().unwrap()),
            20,
            "flush position"
        );
    }

    #[tokio::test]
    async fn never_confirm_reports_written_but_no_flush() {
        use tokio::io::AsyncReadExt;
        let (ours, mut server) = tokio::io::duplex(1024);
        let mut stream =
            ReplicationStream::new(Wire::new(Box::new(ours)), Lsn(10), Duration::from_secs(60));
        stream.never_confirm();
        stream.set_flushed(Lsn(30));
        stream.send_status(false).await.unwrap();
        let mut frame = [0u8; 1 + 4 + 34];
        server.read_exact(&mut frame).await.unwrap();
        let at = |i: usize| u64::from_be_bytes(frame[i..i + 8].try_into().unwrap());
        assert_eq!(at(6), 30, "written position");
        assert_eq!(at(14), 0, "flush position");
        assert_eq!(at(22), 0, "apply position");
    }
}
