//! A TCP proxy on a loopback port that can cut the network between a client and a server:
//! `cut(Reset)` drops every connection and closes new ones at once (a host that is gone),
//! `cut(Blackhole)` keeps connections open but lets nothing through either way and answers new
//! ones with silence (a partition: the client only learns from its own timeouts), and `heal()`
//! lets traffic through again (closing the blackholed connections, whose byte streams have lost
//! data and cannot be resumed). `cut(DropReplies)` forwards requests but throws the server's
//! answers away (the server acts, the client never hears of it: the case that makes clients
//! retry what already happened). One thread accepts; each connection has a thread per direction.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutMode {
    Reset,
    Blackhole,
    DropReplies,
}

/// Which way a pump copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ToServer,
    ToClient,
}

#[derive(Default)]
struct Shared {
    cut: Mutex<Option<CutMode>>,
    /// Both ends of every live connection, to shut them down on a cut.
    conns: Mutex<Vec<(TcpStream, TcpStream)>>,
    /// Connections accepted during a blackhole, held open without an answer.
    held: Mutex<Vec<TcpStream>>,
    stopped: AtomicBool,
    accepted: AtomicUsize,
}

impl Shared {
    fn cut(&self) -> Option<CutMode> {
        *self.cut.lock().unwrap()
    }

    fn close_all(&self) {
        for (a, b) in self.conns.lock().unwrap().drain(..) {
            let _ = a.shutdown(Shutdown::Both);
            let _ = b.shutdown(Shutdown::Both);
        }
        for h in self.held.lock().unwrap().drain(..) {
            let _ = h.shutdown(Shutdown::Both);
        }
    }
}

pub struct Proxy {
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on 127.0.0.1:`port` and forwards to 127.0.0.1:`target`.
    pub fn start(port: u16, target: u16) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("proxy cannot listen on {port}: {e}"));
        let shared = Arc::new(Shared::default());
        let accept = {
            let shared = shared.clone();
            std::thread::spawn(move || accept_loop(listener, target, shared))
        };
        Proxy {
            port,
            shared,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far (including refused and held ones).
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    pub fn cut(&self, mode: CutMode) {
        *self.shared.cut.lock().unwrap() = Some(mode);
        if mode == CutMode::Reset {
            self.shared.close_all();
        }
    }

    pub fn heal(&self) {
        // Blackholed streams lost bytes: close them so that clients reconnect cleanly.
        self.shared.close_all();
        *self.shared.cut.lock().unwrap() = None;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        self.shared.close_all();
    }
}

fn accept_loop(listener: TcpListener, target: u16, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        match shared.cut() {
            Some(CutMode::Reset) => {
                let _ = client.shutdown(Shutdown::Both);
                continue;
            }
            Some(CutMode::Blackhole | CutMode::DropReplies) => {
                shared.held.lock().unwrap().push(client);
                continue;
            }
            None => {}
        }
        let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let (Ok(c2), Ok(u2), Ok(c3), Ok(u3)) = (
            client.try_clone(),
            upstream.try_clone(),
            client.try_clone(),
            upstream.try_clone(),
        ) else {
            continue;
        };
        shared.conns.lock().unwrap().push((c3, u3));
        let s1 = shared.clone();
        let s2 = shared.clone();
        std::thread::spawn(move || pump(client, upstream, Dir::ToServer, s1));
        std::thread::spawn(move || pump(u2, c2, Dir::ToClient, s2));
    }
}

/// Copies `from` → `to` until either side closes; what a cut stops is read and discarded.
fn pump(mut from: TcpStream, mut to: TcpStream, dir: Dir, shared: Arc<Shared>) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let dropped = match shared.cut() {
                    None => false,
                    Some(CutMode::DropReplies) => dir == Dir::ToClient,
                    Some(_) => true,
                };
                if dropped {
                    continue;
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if shared.stopped.load(Ordering::SeqCst) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
