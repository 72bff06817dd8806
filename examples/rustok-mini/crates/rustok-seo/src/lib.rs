//! RusToK SEO: document titles and meta descriptions for content nodes.

use rustok_content::Node;
use rustok_core::{ModuleHealth, RusToKModule};

pub mod sitemap;

pub use sitemap::{robots_txt, sitemaps, UrlEntry};

/// Longest meta description, in characters.
pub const MAX_DESCRIPTION: usize = 160;

/// `<title>` text for a node: `"{title} | {site}"`.
pub fn title_tag(node: &Node, site: &str) -> String {
    format!("{} | {}", node.title.trim(), site)
}

/// A meta description: the body with whitespace collapsed, cut at a word boundary
/// to at most [`MAX_DESCRIPTION`] characters (an ellipsis marks a cut).
pub fn meta_description(node: &Node) -> String {
    let collapsed = node.body.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= MAX_DESCRIPTION {
        return collapsed;
    }
    let budget = MAX_DESCRIPTION - 1; // room for the ellipsis
    let mut out = String::new();
    let mut chars = 0;
    for word in collapsed.split(' ') {
        let extra = word.chars().count() + usize::from(!out.is_empty());
        if chars + extra > budget {
            if out.is_empty() {
                // A single huge word: cut it.
                out.extend(word.chars().take(budget));
            }
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        chars += extra;
    }
    out.push('…');
    out
}

/// The SEO module.
#[derive(Debug, Default)]
pub struct SeoModule;

impl SeoModule {
    /// The module.
    pub fn new() -> Self {
        SeoModule
    }
}

impl RusToKModule for SeoModule {
    fn slug(&self) -> &'static str {
        "seo"
    }

    fn name(&self) -> &'static str {
        "SEO"
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
    fn descriptions_are_bounded() {
        let short = Node::new("page", "About", "  We   make\nCMS. ");
        assert_eq!(meta_description(&short), "We make CMS.");
        assert_eq!(title_tag(&short, "RusToK"), "About | RusToK");
        let long = Node::new("page", "Long", &"слово ".repeat(100));
        let description = meta_description(&long);
        assert!(description.chars().count() <= MAX_DESCRIPTION);
        assert!(description.ends_with("слово…"));
        let exact = Node::new("page", "Exact", &"x".repeat(MAX_DESCRIPTION));
        assert_eq!(meta_description(&exact).chars().count(), MAX_DESCRIPTION);
        let huge = Node::new("page", "Huge", &"y".repeat(500));
        assert_eq!(meta_description(&huge).chars().count(), MAX_DESCRIPTION);
    }
}
