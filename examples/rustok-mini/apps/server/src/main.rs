//! rustok-server (mini): a RusToK-shaped server whose module set is chosen at compile
//! time with `mod-<slug>` cargo features.

//!
//! This crate is deliberately thin (wiring only): the HTTP runtime lives in `rustok-web` and the
//! modules in their crates, so a composition change recompiles little.

mod app;
mod modules;

use std::io::{self, Write};
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::App;
use rustok_web::config::{self, Command};

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
        "rustok-server {}: modules [{}], release_id {}, manifest_hash {}, embed_admin {}, embed_storefront {}, auth {}, access_log {}",
        env!("CARGO_PKG_VERSION"),
        app.slugs().join(", "),
        app::release_id().unwrap_or("-"),
        app::manifest_hash().unwrap_or("-"),
        app::EMBED_ADMIN,
        app::EMBED_STOREFRONT,
        if config.health_token.is_some() { "bearer" } else { "none" },
        if ACCESS_LOG { "on" } else { "off" },
    );

    // The one line on stdout: tests and smoke scripts wait for it.
    {
        let mut stdout = io::stdout().lock();
        let ok = writeln!(stdout, "listening on http://{addr}").and_then(|()| stdout.flush());
        if let Err(e) = ok {
            eprintln!("rustok-server: cannot write to stdout: {e}");
        }
    }

    rustok_web::serve(
        listener,
        Arc::new(move |req: &rustok_web::Request| {
            let started = Instant::now();
            let response = app.handle(req);
            if ACCESS_LOG {
                eprintln!(
                    "{}",
                    access_log_line(req, response.status, started.elapsed())
                );
            }
            response
        }),
    );
    ExitCode::SUCCESS
}

/// The non-module default feature `access-log` (RusToK's `redis-cache` plays this part): a build
/// with `--no-default-features` that does not pass it back serves without an access log.
const ACCESS_LOG: bool = cfg!(feature = "access-log");

/// `access: GET /health/modules 200 0.1ms`: the path without its query (which may carry secrets),
/// control characters escaped (one request, one line).
fn access_log_line(req: &rustok_web::Request, status: u16, took: Duration) -> String {
    format!(
        "access: {} {} {status} {:.1}ms",
        req.method.escape_debug(),
        req.path().escape_debug(),
        took.as_secs_f64() * 1000.0
    )
}
