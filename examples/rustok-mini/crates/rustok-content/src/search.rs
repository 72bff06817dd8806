//! Full-text search over content nodes: an inverted index ranked with BM25.
//!
//! Tokens are lowercased alphanumeric runs, folded to ASCII where a Latin letter has an obvious base
//! (é → e), with English stop words dropped and a light suffix stemmer (`publishing` → `publish`).
//! Title matches weigh more than body matches. Queries support `"exact phrases"`, `-excluded`
//! words and a `prefix*` wildcard on the last word.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::Node;

const K1: f64 = 1.2;
const B: f64 = 0.75;
const TITLE_BOOST: u32 = 3;

const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

/// Folds common Latin letters with diacritics to their ASCII base letter.
fn fold(ch: char) -> char {
    match ch {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

/// A light English stemmer: strips common inflectional suffixes, keeping at least 3 letters.
pub fn stem(word: &str) -> String {
    const SUFFIXES: &[(&str, &str)] = &[
        ("ational", "ate"),
        ("ization", "ize"),
        ("fulness", "ful"),
        ("ousness", "ous"),
        ("iveness", "ive"),
        ("ing", ""),
        ("edly", ""),
        ("ies", "y"),
        ("ied", "y"),
        ("ed", ""),
        ("ly", ""),
        ("sses", "ss"),
        ("s", ""),
    ];
    if word.chars().count() <= 3 || !word.is_ascii() {
        return word.to_owned();
    }
    for (suffix, replacement) in SUFFIXES {
        if let Some(base) = word.strip_suffix(suffix) {
            if base.len() >= 3 && !(suffix == &"s" && base.ends_with('s')) {
                let mut out = format!("{base}{replacement}");
                // publishing -> publish, stopped -> stop
                let bytes = out.as_bytes();
                let n = bytes.len();
                if replacement.is_empty()
                    && n >= 4
                    && bytes[n - 1] == bytes[n - 2]
                    && !matches!(bytes[n - 1], b'l' | b's' | b'z')
                {
                    out.pop();
                }
                return out;
            }
        }
    }
    word.to_owned()
}

/// The index terms of `text`, in order.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut push = |current: &mut String| {
        if !current.is_empty() {
            if !STOP_WORDS.contains(&current.as_str()) {
                tokens.push(stem(current));
            }
            current.clear();
        }
    };
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            current.extend(ch.to_lowercase().map(fold));
        } else if ch == '\'' {
            // don't -> dont, o'brien -> obrien
        } else {
            push(&mut current);
        }
    }
    push(&mut current);
    tokens
}

/// A parsed query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<String>,
    pub phrases: Vec<Vec<String>>,
    pub excluded: Vec<String>,
    pub prefix: Option<String>,
}

impl Query {
    pub fn parse(text: &str) -> Query {
        let mut query = Query::default();
        let mut rest = text;
        while let Some(open) = rest.find('"') {
            let (before, after) = rest.split_at(open);
            query.add_words(before);
            let after = &after[1..];
            let close = after.find('"').unwrap_or(after.len());
            let phrase = tokenize(&after[..close]);
            if phrase.len() > 1 {
                query.phrases.push(phrase);
            } else {
                query.terms.extend(phrase);
            }
            rest = after.get(close + 1..).unwrap_or("");
        }
        query.add_words(rest);
        query
    }

    fn add_words(&mut self, text: &str) {
        for word in text.split_whitespace() {
            if let Some(excluded) = word.strip_prefix('-') {
                self.excluded.extend(tokenize(excluded));
            } else if let Some(prefix) = word.strip_suffix('*') {
                let folded: String = prefix
                    .chars()
                    .flat_map(char::to_lowercase)
                    .map(fold)
                    .collect();
                if folded.chars().count() >= 2 {
                    self.prefix = Some(folded);
                }
            } else {
                self.terms.extend(tokenize(word));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty() && self.phrases.is_empty() && self.prefix.is_none()
    }
}

#[derive(Debug, Default)]
struct Posting {
    weight: u32,         // term frequency, title occurrences boosted
    positions: Vec<u32>, // positions in the concatenated title + body
}

/// One search result.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub kind: &'static str,
    pub slug: String,
    pub title: String,
    pub score: f64,
}

/// An inverted index of nodes.
#[derive(Debug, Default)]
pub struct SearchIndex {
    docs: Vec<(&'static str, String, String, u32)>, // kind, slug, title, length
    postings: HashMap<String, BTreeMap<usize, Posting>>,
    by_key: HashMap<(&'static str, String), usize>,
    removed: HashSet<usize>,
}

impl SearchIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a node.
    pub fn index(&mut self, node: &Node) {
        self.remove(node.kind, &node.slug);
        let id = self.docs.len();
        let title = tokenize(&node.title);
        let body = tokenize(&crate::markdown::to_text(&node.body));
        let length = (title.len() as u32) * TITLE_BOOST + body.len() as u32;
        for (pos, term) in title.iter().chain(body.iter()).enumerate() {
            let posting = self
                .postings
                .entry(term.clone())
                .or_default()
                .entry(id)
                .or_default();
            posting.weight += if pos < title.len() { TITLE_BOOST } else { 1 };
            posting.positions.push(pos as u32);
        }
        self.docs.push((
            node.kind,
            node.slug.clone(),
            node.title.clone(),
            length.max(1),
        ));
        self.by_key.insert((node.kind, node.slug.clone()), id);
    }

    /// Removes a node; returns whether it was indexed.
    pub fn remove(&mut self, kind: &'static str, slug: &str) -> bool {
        match self.by_key.remove(&(kind, slug.to_owned())) {
            Some(id) => {
                self.removed.insert(id);
                for postings in self.postings.values_mut() {
                    postings.remove(&id);
                }
                self.postings.retain(|_, p| !p.is_empty());
                true
            }
            None => false,
        }
    }

    /// Number of live documents.
    pub fn len(&self) -> usize {
        self.docs.len() - self.removed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn average_length(&self) -> f64 {
        let live = self.len().max(1) as f64;
        let total: u32 = self
            .docs
            .iter()
            .enumerate()
            .filter(|(id, _)| !self.removed.contains(id))
            .map(|(_, d)| d.3)
            .sum();
        f64::from(total) / live
    }

    fn bm25(&self, term: &str, scores: &mut HashMap<usize, f64>, avg: f64) {
        let Some(postings) = self.postings.get(term) else {
            return;
        };
        let n = self.len() as f64;
        let df = postings.len() as f64;
        let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
        for (&id, posting) in postings {
            let tf = f64::from(posting.weight);
            let len = f64::from(self.docs[id].3);
            let score = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * len / avg));
            *scores.entry(id).or_default() += score;
        }
    }

    fn phrase_docs(&self, phrase: &[String]) -> HashSet<usize> {
        let mut found = HashSet::new();
        let Some(first) = self.postings.get(&phrase[0]) else {
            return found;
        };
        'docs: for (&id, posting) in first {
            for &start in &posting.positions {
                let all = phrase.iter().enumerate().skip(1).all(|(offset, term)| {
                    self.postings
                        .get(term)
                        .and_then(|p| p.get(&id))
                        .is_some_and(|p| p.positions.contains(&(start + offset as u32)))
                });
                if all {
                    found.insert(id);
                    continue 'docs;
                }
            }
        }
        found
    }

    /// The best `limit` nodes for `query`, highest score first (ties by slug).
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let query = Query::parse(query);
        if query.is_empty() || limit == 0 {
            return Vec::new();
        }
        let avg = self.average_length();
        let mut scores: HashMap<usize, f64> = HashMap::new();
        for term in &query.terms {
            self.bm25(term, &mut scores, avg);
        }
        if let Some(prefix) = &query.prefix {
            let expansions: Vec<&String> = self
                .postings
                .keys()
                .filter(|t| t.starts_with(prefix.as_str()))
                .collect();
            for term in expansions {
                self.bm25(term, &mut scores, avg);
            }
        }
        for phrase in &query.phrases {
            let docs = self.phrase_docs(phrase);
            let mut phrase_scores = HashMap::new();
            for term in phrase {
                self.bm25(term, &mut phrase_scores, avg);
            }
            if query.terms.is_empty() && query.prefix.is_none() && scores.is_empty() {
                for id in &docs {
                    scores.insert(*id, 0.0);
                }
            }
            scores.retain(|id, _| docs.contains(id));
            for (id, score) in phrase_scores {
                if let Some(total) = scores.get_mut(&id) {
                    *total += score * 1.5;
                }
            }
        }
        for term in &query.excluded {
            if let Some(postings) = self.postings.get(term) {
                scores.retain(|id, _| !postings.contains_key(id));
            }
        }
        let mut hits: Vec<Hit> = scores
            .into_iter()
            .filter(|(id, _)| !self.removed.contains(id))
            .map(|(id, score)| {
                let (kind, slug, title, _) = &self.docs[id];
                Hit {
                    kind,
                    slug: slug.clone(),
                    title: title.clone(),
                    score,
                }
            })
            .collect();
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.slug.cmp(&b.slug))
        });
        hits.truncate(limit);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> SearchIndex {
        let mut index = SearchIndex::new();
        for (title, body) in [
            (
                "Publishing with RusToK",
                "How publishing works: drafts, reviews and *scheduled* posts.",
            ),
            (
                "Café opening hours",
                "The café opens at eight. Coffee and cakes.",
            ),
            (
                "Release notes",
                "Scheduled jobs now retry. Publishing is faster.",
            ),
            (
                "Forum rules",
                "Be kind. No spam. Moderators publish the rules.",
            ),
        ] {
            index.index(&Node::new("page", title, body));
        }
        index
    }

    #[test]
    fn tokens_and_stems() {
        assert_eq!(
            tokenize("The Publishing of CAFÉS, don't!"),
            ["publish", "cafe", "dont"]
        );
        assert_eq!(stem("stopped"), "stop");
        assert_eq!(stem("stories"), "story");
        assert_eq!(stem("class"), "class");
    }

    #[test]
    fn ranking_prefers_title_matches() {
        let hits = index().search("publishing", 10);
        let slugs: Vec<&str> = hits.iter().map(|h| h.slug.as_str()).collect();
        assert_eq!(slugs[0], "publishing-with-rustok");
        assert_eq!(slugs.len(), 3);
    }

    #[test]
    fn phrases_exclusions_prefixes() {
        let index = index();
        let phrase: Vec<String> = index
            .search("\"scheduled jobs\"", 10)
            .into_iter()
            .map(|h| h.slug)
            .collect();
        assert_eq!(phrase, ["release-notes"]);
        let excluded: Vec<String> = index
            .search("publish -rules", 10)
            .into_iter()
            .map(|h| h.slug)
            .collect();
        assert!(!excluded.contains(&"forum-rules".to_owned()));
        let prefix = index.search("caf*", 10);
        assert_eq!(prefix[0].title, "Café opening hours");
        assert!(index.search("", 10).is_empty());
    }

    #[test]
    fn reindex_and_remove() {
        let mut index = index();
        index.index(&Node::new("page", "Forum rules", "Only cake talk."));
        assert_eq!(index.len(), 4);
        assert_eq!(index.search("cake", 10).len(), 2);
        assert!(index.remove("page", "forum-rules"));
        assert!(!index.remove("page", "forum-rules"));
        assert_eq!(index.search("cake", 10).len(), 1);
    }
}
