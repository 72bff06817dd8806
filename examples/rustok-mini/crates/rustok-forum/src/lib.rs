//! RusToK forum: topics stored as content nodes of kind `"topic"`, with replies.

use std::collections::HashMap;
use std::sync::Mutex;

use rustok_content::{ContentError, ContentStore, Node};
use rustok_core::{ModuleHealth, RusToKModule};

pub mod moderation;

pub use moderation::{mentions, Moderator, Verdict};

/// Content kind used for forum topics.
pub const KIND: &str = "topic";

/// The forum module.
#[derive(Debug, Default)]
pub struct ForumModule {
    topics: ContentStore,
    replies: Mutex<HashMap<String, Vec<String>>>,
}

impl ForumModule {
    /// A forum with no topics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens a topic and returns its slug.
    pub fn open_topic(&self, title: &str, body: &str) -> Result<String, ContentError> {
        let topic = Node::new(KIND, title, body);
        let slug = topic.slug.clone();
        self.topics.insert(topic)?;
        Ok(slug)
    }

    /// Adds a reply; returns the new reply count, or `None` if there is no such topic.
    pub fn reply(&self, topic: &str, text: &str) -> Option<usize> {
        self.topics.get(KIND, topic)?;
        let mut replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
        let thread = replies.entry(topic.to_owned()).or_default();
        thread.push(text.to_owned());
        Some(thread.len())
    }

    /// Number of replies in a topic.
    pub fn reply_count(&self, topic: &str) -> usize {
        let replies = self.replies.lock().unwrap_or_else(|e| e.into_inner());
        replies.get(topic).map_or(0, Vec::len)
    }
}

impl RusToKModule for ForumModule {
    fn slug(&self) -> &'static str {
        "forum"
    }

    fn name(&self) -> &'static str {
        "Forum"
    }

    fn health(&self) -> ModuleHealth {
        if self.replies.is_poisoned() {
            ModuleHealth::Degraded
        } else {
            ModuleHealth::Healthy
        }
    }

    fn depends_on(&self) -> &'static [&'static str] {
        &["content"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_replies() {
        let forum = ForumModule::new();
        let slug = forum.open_topic("Welcome!", "Say hi").unwrap();
        assert_eq!(forum.reply(&slug, "hi"), Some(1));
        assert_eq!(forum.reply(&slug, "hello"), Some(2));
        assert_eq!(forum.reply("missing", "?"), None);
        assert_eq!(forum.reply_count(&slug), 2);
        assert_eq!(forum.health(), ModuleHealth::Healthy);
    }
}
