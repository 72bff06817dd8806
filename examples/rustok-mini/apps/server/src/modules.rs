//! The module registry: exactly the modules compiled into this binary.
//!
//! `build.rs` writes `register_modules` from the manifest (`RUSTOK_MODULES_MANIFEST`, else the
//! workspace's `modules.toml`): each listed module behind its `mod-<slug>` cargo feature, so the
//! binary serves the composition the manifest it was built from asks for, and nothing else.

use rustok_core::RusToKModule;

include!(concat!(env!("OUT_DIR"), "/modules_registry_codegen.rs"));

/// The slugs of the manifest the registry was generated from (compiled in or not).
#[cfg(test)]
const MANIFEST_MODULES: &str = env!("RUSTOK_MANIFEST_MODULES");

/// One instance of every module compiled in, sorted by slug.
pub fn compiled() -> Vec<Box<dyn RusToKModule>> {
    let mut modules = register_modules(Vec::new());
    modules.sort_by_key(|m| m.slug());
    modules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled_slugs() -> Vec<&'static str> {
        compiled().iter().map(|m| m.slug()).collect()
    }

    fn in_manifest(slug: &str) -> bool {
        MANIFEST_MODULES.split(',').any(|s| s == slug)
    }

    #[test]
    fn registry_matches_features() {
        let mut expected = Vec::new();
        for (slug, on) in [
            ("blog", cfg!(feature = "mod-blog")),
            ("content", cfg!(feature = "mod-content")),
            ("forum", cfg!(feature = "mod-forum")),
            ("outbox", cfg!(feature = "mod-outbox")),
            ("pages", cfg!(feature = "mod-pages")),
            ("seo", cfg!(feature = "mod-seo")),
        ] {
            if on && in_manifest(slug) {
                expected.push(slug);
            }
        }
        assert_eq!(compiled_slugs(), expected);
    }

    #[test]
    fn dependencies_are_compiled_in() {
        let slugs = compiled_slugs();
        for module in compiled() {
            for dep in module.depends_on() {
                assert!(slugs.contains(dep), "{} needs {dep}", module.slug());
            }
        }
    }
}
