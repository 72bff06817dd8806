//! The module registry: exactly the modules compiled into this binary.
//!
//! Each module is behind its `mod-<slug>` cargo feature, so the binary contains the
//! composition `modules.toml` asked for and nothing else.

use rustok_core::RusToKModule;

/// One instance of every module compiled in, sorted by slug.
pub fn compiled() -> Vec<Box<dyn RusToKModule>> {
    let candidates: [Option<Box<dyn RusToKModule>>; 6] = [
        #[cfg(feature = "mod-outbox")]
        Some(Box::new(rustok_outbox::OutboxModule::new())),
        #[cfg(not(feature = "mod-outbox"))]
        None,
        #[cfg(feature = "mod-content")]
        Some(Box::new(rustok_content::ContentModule::new())),
        #[cfg(not(feature = "mod-content"))]
        None,
        #[cfg(feature = "mod-pages")]
        Some(Box::new(rustok_pages::PagesModule::new())),
        #[cfg(not(feature = "mod-pages"))]
        None,
        #[cfg(feature = "mod-blog")]
        Some(Box::new(rustok_blog::BlogModule::new())),
        #[cfg(not(feature = "mod-blog"))]
        None,
        #[cfg(feature = "mod-forum")]
        Some(Box::new(rustok_forum::ForumModule::new())),
        #[cfg(not(feature = "mod-forum"))]
        None,
        #[cfg(feature = "mod-seo")]
        Some(Box::new(rustok_seo::SeoModule::new())),
        #[cfg(not(feature = "mod-seo"))]
        None,
    ];
    let mut modules: Vec<Box<dyn RusToKModule>> = candidates.into_iter().flatten().collect();
    modules.sort_by_key(|m| m.slug());
    modules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled_slugs() -> Vec<&'static str> {
        compiled().iter().map(|m| m.slug()).collect()
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
            if on {
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
