//! RusToK content: typed content nodes and an in-memory store.
//!
//! Other modules (`pages`, `blog`, `forum`, `seo`) build on these nodes; in
//! `modules.toml` they declare `depends_on = ["content"]`.

use std::fmt;
use std::sync::Mutex;

pub mod markdown;
pub mod search;

pub use search::{Hit, SearchIndex};

use rustok_core::{slugify, ModuleHealth, RusToKModule};

/// A piece of content of some kind (`"page"`, `"post"`, `"topic"`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Kind of node, owned by the module that created it.
    pub kind: &'static str,
    /// URL slug, unique per kind.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Plain-text body.
    pub body: String,
}

impl Node {
    /// A node whose slug is derived from its title.
    pub fn new(kind: &'static str, title: &str, body: &str) -> Node {
        Node {
            kind,
            slug: slugify(title),
            title: title.to_owned(),
            body: body.to_owned(),
        }
    }

    /// Number of words in the body's text (Markdown markup not counted).
    pub fn word_count(&self) -> usize {
        markdown::to_text(&self.body).split_whitespace().count()
    }

    /// The body rendered from Markdown to HTML.
    pub fn html(&self) -> String {
        markdown::to_html(&self.body)
    }
}

/// Errors of [`ContentStore`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentError {
    /// A node of the same kind already has this slug.
    DuplicateSlug(String),
    /// The title is empty or blank.
    EmptyTitle,
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentError::DuplicateSlug(slug) => write!(f, "duplicate slug {slug:?}"),
            ContentError::EmptyTitle => f.write_str("empty title"),
        }
    }
}

impl std::error::Error for ContentError {}

/// A thread-safe, in-memory store of nodes.
#[derive(Debug, Default)]
pub struct ContentStore {
    nodes: Mutex<Vec<Node>>,
}

impl ContentStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores a node; the slug must be unique within its kind.
    pub fn insert(&self, node: Node) -> Result<(), ContentError> {
        if node.title.trim().is_empty() {
            return Err(ContentError::EmptyTitle);
        }
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        if nodes
            .iter()
            .any(|n| n.kind == node.kind && n.slug == node.slug)
        {
            return Err(ContentError::DuplicateSlug(node.slug));
        }
        nodes.push(node);
        Ok(())
    }

    /// A copy of the node of `kind` with `slug`, if any.
    pub fn get(&self, kind: &str, slug: &str) -> Option<Node> {
        let nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        nodes
            .iter()
            .find(|n| n.kind == kind && n.slug == slug)
            .cloned()
    }

    /// Copies of all nodes of `kind`, in insertion order.
    pub fn list(&self, kind: &str) -> Vec<Node> {
        let nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        nodes.iter().filter(|n| n.kind == kind).cloned().collect()
    }

    /// Number of nodes of all kinds.
    pub fn len(&self) -> usize {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_poisoned(&self) -> bool {
        self.nodes.is_poisoned()
    }
}

/// The content module.
#[derive(Debug, Default)]
pub struct ContentModule {
    store: ContentStore,
}

impl ContentModule {
    /// A module with an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The module's store.
    pub fn store(&self) -> &ContentStore {
        &self.store
    }
}

impl RusToKModule for ContentModule {
    fn slug(&self) -> &'static str {
        "content"
    }

    fn name(&self) -> &'static str {
        "Content"
    }

    fn health(&self) -> ModuleHealth {
        if self.store.is_poisoned() {
            ModuleHealth::Unhealthy
        } else {
            ModuleHealth::Healthy
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_enforces_unique_slugs_per_kind() {
        let store = ContentStore::new();
        store.insert(Node::new("page", "About us", "Hi")).unwrap();
        store.insert(Node::new("post", "About us", "Hi")).unwrap();
        assert_eq!(
            store.insert(Node::new("page", "About Us!", "")),
            Err(ContentError::DuplicateSlug("about-us".into()))
        );
        assert_eq!(
            store.insert(Node::new("page", "  ", "")),
            Err(ContentError::EmptyTitle)
        );
        assert_eq!(store.len(), 2);
        assert_eq!(store.get("page", "about-us").unwrap().body, "Hi");
        assert_eq!(store.list("post").len(), 1);
    }

    #[test]
    fn module_is_healthy() {
        let module = ContentModule::new();
        assert_eq!(module.health(), ModuleHealth::Healthy);
        assert_eq!((module.slug(), module.name()), ("content", "Content"));
    }
}
