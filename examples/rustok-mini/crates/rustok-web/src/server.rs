//! The server loop: one thread per connection (at most `MAX_CONNECTIONS`, then 503), keep-alive,
//! read/write timeouts, graceful close.

use std::io::{BufReader, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::http::{self, ReadError, Request, Response};

/// Most connections served at once; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 256;
/// Most requests served on one keep-alive connection.
pub const MAX_REQUESTS_PER_CONNECTION: usize = 1000;
/// Idle/read timeout of a connection.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Decrements the active-connection counter when a connection thread ends (even by panic).
struct ConnectionSlot(Arc<AtomicUsize>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Answers one request; shared by all connection threads.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Serves `listener` forever, answering every request with `handler`. Not generic on purpose:
/// the loop is compiled once, in this crate, not again in every crate that calls it.
pub fn serve(listener: TcpListener, handler: Handler) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                // E.g. EMFILE: back off a little instead of spinning.
                eprintln!("rustok-server: accept failed: {e}");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            reject_busy(stream);
            continue;
        }
        let slot = ConnectionSlot(Arc::clone(&active));
        let handler = Arc::clone(&handler);
        let spawned = thread::Builder::new()
            .name("rustok-conn".into())
            .spawn(move || {
                let _slot = slot;
                handle_connection(stream, handler.as_ref());
            });
        if let Err(e) = spawned {
            // The closure (with the stream and the slot) was dropped: nothing leaks.
            eprintln!("rustok-server: cannot spawn a connection thread: {e}");
        }
    }
}

fn reject_busy(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let resp = Response::error(503, "Service Unavailable", "too many connections")
        .with_header("Retry-After", "1");
    let _ = resp.write_to(&mut stream, true, false);
    let _ = stream.shutdown(Shutdown::Both);
}

fn handle_connection(stream: TcpStream, handler: &(dyn Fn(&Request) -> Response + Send + Sync)) {
    let _ = stream.set_nodelay(true);
    if stream.set_read_timeout(Some(READ_TIMEOUT)).is_err()
        || stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_err()
    {
        return;
    }
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;

    for served in 1..=MAX_REQUESTS_PER_CONNECTION {
        let req = match http::read_request(&mut reader) {
            Ok(req) => req,
            Err(ReadError::Closed) | Err(ReadError::Io(_)) => break,
            Err(ReadError::Bad(why)) => {
                let _ = Response::error(400, "Bad Request", why).write_to(&mut writer, true, false);
                break;
            }
            Err(ReadError::TooLarge(status, reason)) => {
                let _ = Response::error(status, reason, &reason.to_ascii_lowercase()).write_to(
                    &mut writer,
                    true,
                    false,
                );
                break;
            }
            Err(ReadError::Version) => {
                let _ = Response::error(
                    505,
                    "HTTP Version Not Supported",
                    "http version not supported",
                )
                .write_to(&mut writer, true, false);
                break;
            }
        };

        // Read (and ignore) a body so the next request on the connection starts cleanly.
        let mut close = req.wants_close() || served == MAX_REQUESTS_PER_CONNECTION;
        let resp = match req.body_len() {
            Ok(len) => {
                if !http::discard_body(&mut reader, len) {
                    break;
                }
                handler(&req)
            }
            Err(ReadError::TooLarge(status, reason)) => {
                close = true;
                Response::error(status, reason, &reason.to_ascii_lowercase())
            }
            Err(ReadError::Bad(why)) => {
                close = true;
                Response::error(400, "Bad Request", why)
            }
            Err(_) => break,
        };
        if resp
            .write_to(&mut writer, close, req.method == "HEAD")
            .is_err()
            || close
        {
            break;
        }
    }
    linger_close(writer, reader.into_inner());
}

/// Closes gracefully: stop writing, then drain what the peer still sends for a short
/// while, so unread request bytes do not turn our FIN into a RST that could destroy
/// the response before the client reads it.
fn linger_close(writer: TcpStream, mut reader: TcpStream) {
    let _ = writer.shutdown(Shutdown::Write);
    let _ = reader.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 4096];
    let mut drained = 0usize;
    while drained < 256 * 1024 {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}
