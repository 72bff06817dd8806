//! RusToK search: a tiny in-memory inverted index.
//!
//! This crate deliberately has NO `mod-search` feature in `rustok-server`: a manifest
//! that names `search` must be rejected before any build starts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use rustok_core::{ModuleHealth, RusToKModule};

/// Lowercased alphanumeric terms of `text`.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The search module.
#[derive(Debug, Default)]
pub struct SearchModule {
    index: Mutex<BTreeMap<String, BTreeSet<String>>>,
}

impl SearchModule {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Indexes `text` under document id `doc`.
    pub fn index(&self, doc: &str, text: &str) {
        let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        for term in tokenize(text) {
            index.entry(term).or_default().insert(doc.to_owned());
        }
    }

    /// Documents containing every term of `query`, sorted.
    pub fn search(&self, query: &str) -> Vec<String> {
        let index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        let mut result: Option<BTreeSet<String>> = None;
        for term in tokenize(query) {
            let docs = index.get(&term).cloned().unwrap_or_default();
            result = Some(match result {
                None => docs,
                Some(acc) => acc.intersection(&docs).cloned().collect(),
            });
        }
        result.unwrap_or_default().into_iter().collect()
    }
}

impl RusToKModule for SearchModule {
    fn slug(&self) -> &'static str {
        "search"
    }

    fn name(&self) -> &'static str {
        "Search"
    }

    fn health(&self) -> ModuleHealth {
        ModuleHealth::Healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_intersects_terms() {
        let search = SearchModule::new();
        search.index("a", "Rust CMS, modular");
        search.index("b", "Modular commerce");
        assert_eq!(search.search("modular"), ["a", "b"]);
        assert_eq!(search.search("MODULAR rust"), ["a"]);
        assert!(search.search("").is_empty());
    }
}
