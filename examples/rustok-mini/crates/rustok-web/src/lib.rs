//! The web runtime of rustok-server: a strict HTTP/1.1 reader and writer, a thread-per-connection
//! server loop, JSON string writing and the runtime settings.
//!
//! It knows nothing of modules, so it does not change when the composition does: a pipeline that
//! keeps its target dir compiles it once (as RusToK's axum/tokio stack), and installing a module
//! rebuilds only the module crate and the thin server crate.

pub mod config;
pub mod http;
pub mod json;
mod server;

pub use http::{Request, Response};
pub use server::{serve, Handler};

/// Compares two byte strings in time that depends only on the length of `expected`.
pub fn constant_time_eq(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != given.len());
    for (i, &e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(!e);
        diff |= e ^ g;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_works() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
