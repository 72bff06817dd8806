//! rustok-server (mini): a RusToK-shaped server whose module set is chosen at compile
//! time with `mod-<slug>` cargo features.

mod app;
mod config;
mod http;
mod json;
mod modules;

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use app::App;
use config::Command;
use http::{ReadError, Response};

/// Most connections served at once; more are answered 503 and closed.
const MAX_CONNECTIONS: usize = 256;
/// Most requests served on one keep-alive connection.
const MAX_REQUESTS_PER_CONNECTION: usize = 1000;
/// Idle/read timeout of a connection.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let command = match config::parse(std::env::args().skip(1), |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rustok-server: {e}\n\n{}", config::USAGE);
            return ExitCode::from(2);
        }
    };
    let config = match command {
        Command::Help => {
            print!("{}", config::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("rustok-server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Serve(c) => c,
    };

    let listener = match TcpListener::bind((config.host.as_str(), config.port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "rustok-server: cannot bind {}:{}: {e}",
                config.host, config.port
            );
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rustok-server: cannot read the bound address: {e}");
            return ExitCode::FAILURE;
        }
    };

    let app = Arc::new(App::new(&config));
    eprintln!(
        "rustok-server {}: modules [{}], release_id {}, manifest_hash {}, embed_admin {}, embed_storefront {}, auth {}",
        env!("CARGO_PKG_VERSION"),
        app.slugs().join(", "),
        app::release_id().unwrap_or("-"),
        app::manifest_hash().unwrap_or("-"),
        app::EMBED_ADMIN,
        app::EMBED_STOREFRONT,
        if config.health_token.is_some() { "bearer" } else { "none" },
    );

    // The one line on stdout: tests and smoke scripts wait for it.
    {
        let mut stdout = io::stdout().lock();
        let ok = writeln!(stdout, "listening on http://{addr}").and_then(|()| stdout.flush());
        if let Err(e) = ok {
            eprintln!("rustok-server: cannot write to stdout: {e}");
        }
    }

    serve(listener, app);
    ExitCode::SUCCESS
}

/// Decrements the active-connection counter when a connection thread ends (even by panic).
struct ConnectionSlot(Arc<AtomicUsize>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn serve(listener: TcpListener, app: Arc<App>) {
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
        let app = Arc::clone(&app);
        let spawned = thread::Builder::new()
            .name("rustok-conn".into())
            .spawn(move || {
                let _slot = slot;
                handle_connection(stream, &app);
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

fn handle_connection(stream: TcpStream, app: &App) {
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
                app.handle(&req)
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
