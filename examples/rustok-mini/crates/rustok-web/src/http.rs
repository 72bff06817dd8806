//! A small, strict HTTP/1.1 request reader and response writer (std only).

use std::io::{self, BufRead, Read, Write};

/// Longest accepted request line, in bytes (including CRLF).
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Longest accepted header line, in bytes (including CRLF).
pub const MAX_HEADER_LINE: usize = 8 * 1024;
/// Most header bytes accepted in one request.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header fields accepted in one request.
pub const MAX_HEADERS: usize = 100;
/// Largest request body the server reads (and discards).
pub const MAX_BODY: u64 = 64 * 1024;

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    /// Minor version: `0` for HTTP/1.0, `1` for HTTP/1.1.
    pub minor: u8,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the `Connection` header(s) contain `token`.
    fn connection_has(&self, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection must be closed after this request.
    pub fn wants_close(&self) -> bool {
        if self.minor == 0 {
            !self.connection_has("keep-alive")
        } else {
            self.connection_has("close")
        }
    }

    /// The path of the target, without query string or fragment.
    pub fn path(&self) -> &str {
        let mut target = self.target.as_str();
        // absolute-form: http://host:port/path?query
        for scheme in ["http://", "https://"] {
            if target.len() > scheme.len() && target[..scheme.len()].eq_ignore_ascii_case(scheme) {
                let rest = &target[scheme.len()..];
                target = rest.find('/').map_or("/", |i| &rest[i..]);
                break;
            }
        }
        let end = target.find(['?', '#']).unwrap_or(target.len());
        &target[..end]
    }

    /// The body length announced by the request.
    pub fn body_len(&self) -> Result<u64, ReadError> {
        if self.header("transfer-encoding").is_some() {
            return Err(ReadError::Bad("Transfer-Encoding is not supported"));
        }
        let mut len: Option<u64> = None;
        for (_, value) in self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        {
            for part in value.split(',') {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(ReadError::Bad("invalid Content-Length"));
                }
                let n: u64 = part
                    .parse()
                    .map_err(|_| ReadError::Bad("invalid Content-Length"))?;
                if len.is_some_and(|l| l != n) {
                    return Err(ReadError::Bad("conflicting Content-Length"));
                }
                len = Some(n);
            }
        }
        let len = len.unwrap_or(0);
        if len > MAX_BODY {
            return Err(ReadError::TooLarge(413, "Payload Too Large"));
        }
        Ok(len)
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection (or went idle) before sending a request.
    Closed,
    /// An I/O error (including a read timeout in the middle of a request).
    Io(io::Error),
    /// Malformed request: answer 400.
    Bad(&'static str),
    /// A limit was exceeded: answer with this status and reason.
    TooLarge(u16, &'static str),
    /// Unsupported HTTP version: answer 505.
    Version,
}

/// `tchar` of RFC 9110: the characters of a token (method, header name).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Reads one line of at most `limit` bytes; strips `\r\n` or `\n`.
/// Returns `Ok(None)` on EOF before any byte.
fn read_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
    too_long: ReadError,
) -> Result<Option<()>, ReadError> {
    buf.clear();
    let n = reader
        .take(limit as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(ReadError::Io)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if n > limit {
            too_long
        } else {
            // EOF in the middle of a line.
            ReadError::Bad("incomplete request")
        });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    if buf.contains(&b'\r') || buf.contains(&0) {
        return Err(ReadError::Bad("stray CR or NUL"));
    }
    Ok(Some(()))
}

/// Reads a request head (request line and header fields) from `reader`.
pub fn read_request<R: BufRead>(reader: &mut R) -> Result<Request, ReadError> {
    let mut line = Vec::with_capacity(256);
    // RFC 9112 §2.2: ignore a few empty lines before the request line.
    let mut empty = 0;
    loop {
        match read_line(
            reader,
            &mut line,
            MAX_REQUEST_LINE,
            ReadError::TooLarge(414, "URI Too Long"),
        ) {
            Ok(None) => return Err(ReadError::Closed),
            Ok(Some(())) if line.is_empty() => {
                empty += 1;
                if empty > 4 {
                    return Err(ReadError::Bad("empty request"));
                }
            }
            Ok(Some(())) => break,
            Err(ReadError::Io(e))
                if empty == 0
                    && matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::ConnectionReset
                    ) =>
            {
                // Idle keep-alive connection timed out or was reset: not an error.
                return Err(ReadError::Closed);
            }
            Err(e) => return Err(e),
        }
    }
    let (method, target, minor) = parse_request_line(&line)?;

    let mut headers = Vec::new();
    let mut header_bytes = 0;
    loop {
        match read_line(
            reader,
            &mut line,
            MAX_HEADER_LINE,
            ReadError::TooLarge(431, "Request Header Fields Too Large"),
        )? {
            None => return Err(ReadError::Bad("incomplete request")),
            Some(()) if line.is_empty() => break,
            Some(()) => {}
        }
        header_bytes += line.len() + 2;
        if headers.len() >= MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
            return Err(ReadError::TooLarge(431, "Request Header Fields Too Large"));
        }
        headers.push(parse_header(&line)?);
    }
    Ok(Request {
        method,
        target,
        minor,
        headers,
    })
}

fn parse_request_line(line: &[u8]) -> Result<(String, String, u8), ReadError> {
    let bad = ReadError::Bad("malformed request line");
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(bad);
    }
    if target.is_empty() || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(bad);
    }
    let minor = match version {
        b"HTTP/1.1" => 1,
        b"HTTP/1.0" => 0,
        [b'H', b'T', b'T', b'P', b'/', maj, b'.', min]
            if maj.is_ascii_digit() && min.is_ascii_digit() =>
        {
            return Err(ReadError::Version)
        }
        _ => return Err(bad),
    };
    // Both parts are ASCII (checked above), so the conversions cannot fail.
    let method = String::from_utf8_lossy(method).into_owned();
    let target = String::from_utf8_lossy(target).into_owned();
    Ok((method, target, minor))
}

fn parse_header(line: &[u8]) -> Result<(String, String), ReadError> {
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(ReadError::Bad("malformed header field"));
    };
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // Rejects obs-fold (a line starting with whitespace) and "Name : value".
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(ReadError::Bad("malformed header field"));
    }
    let value = value.trim_ascii();
    if value.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
        return Err(ReadError::Bad("control character in header field"));
    }
    Ok((
        String::from_utf8_lossy(name).into_owned(),
        String::from_utf8_lossy(value).into_owned(),
    ))
}

/// Reads and discards `len` body bytes. Returns false if the body was cut short.
pub fn discard_body<R: Read>(reader: &mut R, len: u64) -> bool {
    match io::copy(&mut reader.take(len), &mut io::sink()) {
        Ok(n) => n == len,
        Err(_) => false,
    }
}

/// A response with a JSON (or plain) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: &'static str,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, reason: &'static str, body: String) -> Response {
        Response {
            status,
            reason,
            content_type: "application/json",
            headers: Vec::new(),
            body,
        }
    }

    /// A plain-text response (as axum answers a `(StatusCode, &str)`).
    pub fn text(status: u16, reason: &'static str, body: &str) -> Response {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    /// A JSON error body `{"error":"<message>"}`.
    pub fn error(status: u16, reason: &'static str, message: &str) -> Response {
        let mut body = String::from("{\"error\":");
        crate::json::push_str(&mut body, message);
        body.push('}');
        Response::json(status, reason, body)
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// Serializes the response; the body is omitted for HEAD requests.
    pub fn to_bytes(&self, close: bool, head: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: {}\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len(),
            if close { "close" } else { "keep-alive" },
        );
        for (name, value) in &self.headers {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        if !head {
            out.push_str(&self.body);
        }
        out.into_bytes()
    }

    /// Writes the response and flushes.
    pub fn write_to<W: Write>(&self, writer: &mut W, close: bool, head: bool) -> io::Result<()> {
        writer.write_all(&self.to_bytes(close, head))?;
        writer.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse(raw: &str) -> Result<Request, ReadError> {
        read_request(&mut Cursor::new(raw.as_bytes().to_vec()))
    }

    #[test]
    fn parses_a_simple_request() {
        let req = parse(
            "GET /health?x=1 HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nAuthorization:  Bearer t \r\n\r\n",
        )
        .unwrap();
        assert_eq!(req.method, "GET");
        assert_eq!(req.path(), "/health");
        assert_eq!(req.minor, 1);
        assert_eq!(req.header("authorization"), Some("Bearer t"));
        assert_eq!(req.header("x-empty"), Some(""));
        assert!(!req.wants_close());
        assert_eq!(req.body_len().unwrap(), 0);
    }

    #[test]
    fn connection_semantics() {
        let req = parse("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n").unwrap();
        assert!(req.wants_close());
        let req = parse("GET / HTTP/1.0\n\n").unwrap();
        assert!(req.wants_close());
        let req = parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert!(!req.wants_close());
    }

    #[test]
    fn absolute_form_target() {
        let req = parse("GET http://localhost:8080/health/modules?a HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(req.path(), "/health/modules");
        let req = parse("GET http://localhost HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(req.path(), "/");
    }

    #[test]
    fn rejects_malformed_requests() {
        for raw in [
            "GET /health\r\n\r\n",
            "GET  /health HTTP/1.1\r\n\r\n",
            "GET /health HTTP/1.1 extra\r\n\r\n",
            "G(T /health HTTP/1.1\r\n\r\n",
            "GET /health HTTP/x\r\n\r\n",
            "GET /health HTTP/1.1\r\nNo colon\r\n\r\n",
            "GET /health HTTP/1.1\r\nBad Name: x\r\n\r\n",
            "GET /health HTTP/1.1\r\n folded: x\r\n\r\n",
            "GET /health HTTP/1.1\r\nHost: a\r\n",
            "GET /health HTTP/1.1\r\nA: b\rc\r\n\r\n",
            "\r\n\r\n\r\n\r\n\r\n\r\n",
        ] {
            assert!(matches!(parse(raw), Err(ReadError::Bad(_))), "{raw:?}");
        }
        assert!(matches!(parse(""), Err(ReadError::Closed)));
        assert!(matches!(
            parse("GET / HTTP/2.0\r\n\r\n"),
            Err(ReadError::Version)
        ));
    }

    #[test]
    fn enforces_limits() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_REQUEST_LINE));
        assert!(matches!(parse(&long), Err(ReadError::TooLarge(414, _))));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "A: b\r\n".repeat(MAX_HEADERS + 1)
        );
        assert!(matches!(parse(&many), Err(ReadError::TooLarge(431, _))));
    }

    #[test]
    fn body_length_rules() {
        let req = parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!(req.body_len().unwrap(), 5);
        let req = parse("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n").unwrap();
        assert_eq!(req.body_len().unwrap(), 5);
        for raw in [
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            let req = parse(raw).unwrap();
            assert!(matches!(req.body_len(), Err(ReadError::Bad(_))), "{raw:?}");
        }
        let req =
            parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n").unwrap();
        assert!(matches!(req.body_len(), Err(ReadError::Bad(_))));
        let req = parse("POST / HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n").unwrap();
        assert!(matches!(req.body_len(), Err(ReadError::TooLarge(413, _))));
    }

    #[test]
    fn serializes_responses() {
        let resp = Response::json(200, "OK", "{}".into()).with_header("X-A", "b");
        let text = String::from_utf8(resp.to_bytes(true, false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(text.contains("Content-Length: 2\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.contains("X-A: b\r\n"));
        assert!(text.ends_with("\r\n\r\n{}"));
        let head = String::from_utf8(resp.to_bytes(false, true)).unwrap();
        assert!(head.ends_with("\r\n\r\n"));
        assert!(head.contains("Content-Length: 2\r\n"));
    }
}
