//! Core contracts shared by every RusToK module.
//!
//! A module is a crate that exposes a type implementing [`RusToKModule`]. The server
//! registers one instance per module compiled into the binary (see the `mod-<slug>`
//! features of `rustok-server`) and reports their health at `/health/modules`.

use std::fmt;

/// Health of a single module, as reported by `/health/modules`: RusToK's `HealthStatus`, whose
/// wire words (`apps/server/src/controllers/health.rs`) are `healthy`, `degraded` and `unhealthy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModuleHealth {
    /// The module works.
    Healthy,
    /// The module works with reduced functionality.
    Degraded,
    /// The module does not work.
    Unhealthy,
}

impl ModuleHealth {
    /// The wire name: `"healthy"`, `"degraded"` or `"unhealthy"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModuleHealth::Healthy => "healthy",
            ModuleHealth::Degraded => "degraded",
            ModuleHealth::Unhealthy => "unhealthy",
        }
    }

    /// Whether the module is fully healthy.
    pub fn is_healthy(self) -> bool {
        self == ModuleHealth::Healthy
    }

    /// The worse of two health values (`Healthy` < `Degraded` < `Unhealthy`).
    pub fn worst(self, other: ModuleHealth) -> ModuleHealth {
        self.max(other)
    }
}

impl fmt::Display for ModuleHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The trait every RusToK module implements.
pub trait RusToKModule: Send + Sync {
    /// Manifest slug, e.g. `"content"` or `"social_graph"`.
    fn slug(&self) -> &'static str;
    /// Human-readable name, e.g. `"Content"`.
    fn name(&self) -> &'static str;
    /// Current health of the module.
    fn health(&self) -> ModuleHealth;
    /// Slugs of the modules this one needs (mirrors `depends_on` in `modules.toml`).
    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Turns a title into a URL slug: lowercase ASCII letters and digits joined by `-`.
///
/// Non-ASCII characters are dropped; an empty result becomes `"untitled"`.
pub fn slugify(title: &str) -> String {
    let mut out = String::with_capacity(title.len());
    let mut pending_dash = false;
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !out.is_empty() {
                out.push('-');
            }
            pending_dash = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    if out.is_empty() {
        out.push_str("untitled");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_names_and_order() {
        assert_eq!(ModuleHealth::Healthy.as_str(), "healthy");
        assert_eq!(ModuleHealth::Degraded.to_string(), "degraded");
        assert_eq!(ModuleHealth::Unhealthy.as_str(), "unhealthy");
        assert!(ModuleHealth::Healthy.is_healthy() && !ModuleHealth::Degraded.is_healthy());
        assert_eq!(
            ModuleHealth::Healthy.worst(ModuleHealth::Degraded),
            ModuleHealth::Degraded
        );
        assert_eq!(
            ModuleHealth::Unhealthy.worst(ModuleHealth::Degraded),
            ModuleHealth::Unhealthy
        );
    }

    #[test]
    fn slugify_examples() {
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(slugify("  Rust 2024 -- edition "), "rust-2024-edition");
        assert_eq!(slugify("Привет"), "untitled");
        assert_eq!(slugify(""), "untitled");
    }
}
