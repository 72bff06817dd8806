//! RusToK pages: static pages stored as content nodes of kind `"page"`.

use rustok_content::{ContentError, ContentStore, Node};
use rustok_core::{ModuleHealth, RusToKModule};

/// Content kind used for pages.
pub const KIND: &str = "page";

/// The public path of a page, e.g. `/about-us`.
pub fn path_for(page: &Node) -> String {
    format!("/{}", page.slug)
}

/// The pages module.
#[derive(Debug, Default)]
pub struct PagesModule {
    store: ContentStore,
}

impl PagesModule {
    /// A module with no pages.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a page and returns its public path.
    pub fn create(&self, title: &str, body: &str) -> Result<String, ContentError> {
        let page = Node::new(KIND, title, body);
        let path = path_for(&page);
        self.store.insert(page)?;
        Ok(path)
    }

    /// The page served at `path`, if any.
    pub fn resolve(&self, path: &str) -> Option<Node> {
        self.store.get(KIND, path.strip_prefix('/')?)
    }
}

impl RusToKModule for PagesModule {
    fn slug(&self) -> &'static str {
        "pages"
    }

    fn name(&self) -> &'static str {
        "Pages"
    }

    fn health(&self) -> ModuleHealth {
        ModuleHealth::Ok
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["content"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_and_resolve() {
        let pages = PagesModule::new();
        assert_eq!(
            pages.create("About us", "We make CMS.").unwrap(),
            "/about-us"
        );
        assert_eq!(pages.resolve("/about-us").unwrap().title, "About us");
        assert!(pages.resolve("about-us").is_none());
        assert!(pages.create("About US", "").is_err());
        assert_eq!(pages.depends_on(), &["content"]);
    }
}
