//! Arbitrary bytes into the pgoutput decoder: it must return Ok or Err, never panic.
//!
//! The first input byte picks the decoder: bits 0-1 the protocol version (1 to 4), bit 2
//! whether it is inside a Stream Start/Stop block. The rest is one XLogData payload.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pgcdc::source::pgoutput::{Decoder, Message};

const STREAM_START: &[u8] = &[b'S', 0, 0, 0, 1, 1];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    let version = u32::from(selector & 0b11) + 1;
    let mut decoder = Decoder::new(version);
    if selector & 0b100 != 0 && version >= 2 {
        decoder
            .decode(Bytes::from_static(STREAM_START))
            .expect("a well-formed stream start decodes");
    }
    let was_in_stream = decoder.in_stream();
    match decoder.decode(Bytes::copy_from_slice(frame)) {
        Ok(Message::StreamStart(_)) => assert!(decoder.in_stream()),
        Ok(Message::StreamStop) => assert!(!decoder.in_stream()),
        Ok(_) => assert_eq!(decoder.in_stream(), was_in_stream),
        Err(e) => {
            assert!(e.offset <= frame.len(), "error offset past the frame");
            assert_eq!(decoder.in_stream(), was_in_stream);
        }
    }
});
