//! RusToK blog: posts stored as content nodes of kind `"post"`.

use rustok_content::{ContentError, ContentStore, Node};
use rustok_core::{ModuleHealth, RusToKModule};

pub mod feed;

pub use feed::{atom, DateTime, Entry, FeedInfo};

/// Content kind used for blog posts.
pub const KIND: &str = "post";

/// Average reading speed used by [`reading_minutes`].
const WORDS_PER_MINUTE: usize = 200;

/// Estimated reading time of a post, at least one minute.
pub fn reading_minutes(post: &Node) -> usize {
    post.word_count().div_ceil(WORDS_PER_MINUTE).max(1)
}

/// The blog module.
#[derive(Debug, Default)]
pub struct BlogModule {
    store: ContentStore,
}

impl BlogModule {
    /// A blog with no posts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes a post and returns its slug.
    pub fn publish(&self, title: &str, body: &str) -> Result<String, ContentError> {
        let post = Node::new(KIND, title, body);
        let slug = post.slug.clone();
        self.store.insert(post)?;
        Ok(slug)
    }

    /// All posts, newest first.
    pub fn feed(&self) -> Vec<Node> {
        let mut posts = self.store.list(KIND);
        posts.reverse();
        posts
    }
}

impl RusToKModule for BlogModule {
    fn slug(&self) -> &'static str {
        "blog"
    }

    fn name(&self) -> &'static str {
        "Blog"
    }

    fn health(&self) -> ModuleHealth {
        ModuleHealth::Healthy
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["content"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_is_newest_first() {
        let blog = BlogModule::new();
        blog.publish("First", "one").unwrap();
        blog.publish("Second", "two").unwrap();
        let feed = blog.feed();
        assert_eq!(feed[0].slug, "second");
        assert_eq!(reading_minutes(&feed[0]), 1);
        let long = Node::new(KIND, "Long", &"word ".repeat(401));
        assert_eq!(reading_minutes(&long), 3);
    }
}
