//! End-to-end tests: start the real binary on a free port and talk HTTP to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rustok-server"));
        cmd.args(["--port", "0"])
            .env_remove("RUSTOK_OBSERVABILITY_BEARER_TOKEN")
            .env_remove("RUSTOK_METRICS_BEARER_TOKEN")
            .env_remove("RUSTOK_DEGRADED")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn rustok-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        assert!(!addr.ends_with(":0"), "port 0 must be resolved: {addr}");
        Server { child, addr }
    }

    /// Sends raw bytes, reads until the server closes, returns (status, head, body).
    fn raw(&self, request: &[u8]) -> (u16, String, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let text = String::from_utf8(response).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").expect("complete response");
        let status = head[9..12].parse().unwrap();
        (status, head.to_owned(), body.to_owned())
    }

    fn get(&self, path: &str, auth: Option<&str>) -> (u16, String) {
        let auth = auth
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n");
        let (status, head, body) = self.raw(request.as_bytes());
        let length = format!("Content-Length: {}\r\n", body.len());
        assert!(format!("{head}\r\n").contains(&length), "{head}");
        (status, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn expected_modules() -> String {
    let all = [
        ("blog", "Blog", cfg!(feature = "mod-blog")),
        ("content", "Content", cfg!(feature = "mod-content")),
        ("forum", "Forum", cfg!(feature = "mod-forum")),
        ("outbox", "Outbox", cfg!(feature = "mod-outbox")),
        ("pages", "Pages", cfg!(feature = "mod-pages")),
        ("seo", "SEO", cfg!(feature = "mod-seo")),
    ];
    let items: Vec<String> = all
        .iter()
        // registered: in the manifest build.rs read, and compiled in by its feature
        .filter(|(slug, _, on)| {
            *on && env!("RUSTOK_MANIFEST_MODULES")
                .split(',')
                .any(|s| s == *slug)
        })
        .map(|(slug, name, _)| {
            format!("{{\"slug\":\"{slug}\",\"name\":\"{name}\",\"status\":\"healthy\"}}")
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn health_body() -> String {
    format!(
        "{{\"status\":\"ok\",\"app\":\"rustok\",\"version\":\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    )
}

/// Without a token, `/health/modules` is open in a debug build and 503 in a release build (RusToK's
/// `metrics_auth`); these tests run the binary of their own profile.
#[test]
fn health_endpoints() {
    let server = Server::start(&[]);
    assert_eq!(server.get("/health/", None), (200, health_body()));
    assert_eq!(server.get("/health/", None), (200, health_body()));
    assert_eq!(
        server.get("/health/live", None),
        (200, "{\"status\":\"ok\"}".to_owned())
    );
    if !cfg!(debug_assertions) {
        assert_eq!(
            server.get("/health/modules", None),
            (
                503,
                "observability authentication is not configured".to_owned()
            )
        );
        return;
    }
    let (status, body) = server.get("/health/modules", None);
    assert_eq!(status, 200);
    let modules = format!("{{\"status\":\"ok\",\"modules\":{},", expected_modules());
    assert!(body.starts_with(&modules), "{body}");
    assert!(body.contains("\"manifest_hash\":"), "{body}");
    assert!(body.contains("\"release_id\":"), "{body}");
    let (status, body) = server.get("/nope", None);
    assert_eq!(status, 404);
    assert_eq!(body, "{\"error\":\"not found\"}");
}

#[test]
fn bearer_token() {
    let server = Server::start(&[("RUSTOK_OBSERVABILITY_BEARER_TOKEN", "s3cret")]);
    let refused = (401, "observability bearer token required".to_owned());
    assert_eq!(server.get("/health/modules", None), refused);
    assert_eq!(server.get("/health/modules", Some("wrong")), refused);
    assert_eq!(server.get("/health/modules", Some("s3cret")).0, 200);
    for public in ["/health/", "/health/live"] {
        assert_eq!(server.get(public, None).0, 200);
    }
    let legacy = Server::start(&[("RUSTOK_METRICS_BEARER_TOKEN", "old")]);
    assert_eq!(legacy.get("/health/modules", Some("old")).0, 200);
    assert_eq!(legacy.get("/health/modules", None).0, 401);
}

#[test]
fn degraded_module() {
    let server = Server::start(&[
        ("RUSTOK_DEGRADED", "content"),
        ("RUSTOK_OBSERVABILITY_BEARER_TOKEN", "t"),
    ]);
    let (status, body) = server.get("/health/modules", Some("t"));
    assert_eq!(status, 200);
    if cfg!(feature = "mod-content") {
        assert!(body.starts_with("{\"status\":\"degraded\""), "{body}");
        assert!(
            body.contains("{\"slug\":\"content\",\"name\":\"Content\",\"status\":\"degraded\"}")
        );
    } else {
        assert!(body.starts_with("{\"status\":\"ok\""), "{body}");
    }
}

#[test]
fn bad_requests_get_400_and_the_server_survives() {
    let server = Server::start(&[]);
    for raw in [
        &b"garbage\r\n\r\n"[..],
        b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n",
        b"GET /health HTTP/1.1\r\n\x00\xff\r\n\r\n",
        b"\xff\xfe\xfd HTTP/1.1\r\n\r\n",
        b"GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ] {
        let (status, _, body) = server.raw(raw);
        assert_eq!(status, 400, "{raw:?}");
        assert!(body.starts_with("{\"error\":"), "{body}");
    }
    assert_eq!(server.get("/health/", None).0, 200);
}

#[test]
fn keep_alive_and_pipelining() {
    let server = Server::start(&[]);
    let (status, _, body) = server.raw(
        b"GET /health/ HTTP/1.1\r\nHost: x\r\n\r\nPOST /health/modules HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /health/ HTTP/1.0\r\n\r\n",
    );
    assert_eq!(status, 200);
    // ok, then 405 for the POST (body skipped), then ok again; HTTP/1.0 closes.
    assert_eq!(body.matches("HTTP/1.1 200 OK").count(), 1, "{body}");
    assert_eq!(
        body.matches("HTTP/1.1 405 Method Not Allowed").count(),
        1,
        "{body}"
    );
    assert!(body.ends_with(&health_body()), "{body}");
}
