//! Forum moderation: per-author rate limits (token buckets), a word filter that sees through
//! case, spacing and common letter substitutions, @mentions, link limits for new accounts, and the
//! "hot" ranking of topics.

use std::collections::HashMap;

/// A token bucket: `capacity` actions at once, refilled at `per_second`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: f64,
}

impl Bucket {
    pub fn new(capacity: u32, per_second: f64) -> Self {
        Bucket {
            capacity: f64::from(capacity),
            per_second,
            tokens: f64::from(capacity),
            last: 0.0,
        }
    }

    /// Takes one token at time `now` (seconds); `Err(wait)` says how long until one is available.
    pub fn take(&mut self, now: f64) -> Result<(), f64> {
        let elapsed = (now - self.last).max(0.0);
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - self.tokens) / self.per_second)
        }
    }
}

/// Why a post was held back.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Accept,
    RateLimited { retry_after: f64 },
    Blocked { word: String },
    TooManyLinks { found: usize, allowed: usize },
    Empty,
}

/// Moderation settings and per-author state.
#[derive(Debug)]
pub struct Moderator {
    blocked: Vec<String>,
    buckets: HashMap<String, Bucket>,
    burst: u32,
    per_second: f64,
    links_for_new_accounts: usize,
}

impl Moderator {
    pub fn new(blocked: &[&str], burst: u32, per_second: f64) -> Self {
        Moderator {
            blocked: blocked
                .iter()
                .map(|w| normalize(w))
                .filter(|w| !w.is_empty())
                .collect(),
            buckets: HashMap::new(),
            burst,
            per_second,
            links_for_new_accounts: 1,
        }
    }

    /// Judges a post by `author` at time `now`; `new_account` limits links.
    pub fn review(&mut self, author: &str, text: &str, new_account: bool, now: f64) -> Verdict {
        if text.trim().is_empty() {
            return Verdict::Empty;
        }
        if let Some(word) = self.blocked_word(text) {
            return Verdict::Blocked { word };
        }
        let links = count_links(text);
        if new_account && links > self.links_for_new_accounts {
            return Verdict::TooManyLinks {
                found: links,
                allowed: self.links_for_new_accounts,
            };
        }
        let bucket = self
            .buckets
            .entry(author.to_lowercase())
            .or_insert_with(|| Bucket::new(self.burst, self.per_second));
        match bucket.take(now) {
            Ok(()) => Verdict::Accept,
            Err(wait) => Verdict::RateLimited { retry_after: wait },
        }
    }

    fn blocked_word(&self, text: &str) -> Option<String> {
        let words: Vec<String> = text.split_whitespace().map(normalize).collect();
        for blocked in &self.blocked {
            if words.iter().any(|w| w == blocked) {
                return Some(blocked.clone());
            }
            // s p a c e d   o u t letters
            let joined: String = words
                .iter()
                .filter(|w| w.chars().count() == 1)
                .map(String::as_str)
                .collect();
            if joined.contains(blocked.as_str()) {
                return Some(blocked.clone());
            }
        }
        None
    }
}

/// Lowercase letters only, with common substitutions undone (`$p4m` -> `spam`).
pub fn normalize(word: &str) -> String {
    word.chars()
        .filter_map(|c| {
            let c = match c {
                '0' => 'o',
                '1' | '!' | '|' => 'i',
                '3' => 'e',
                '4' | '@' => 'a',
                '5' | '$' => 's',
                '7' => 't',
                other => other,
            };
            c.is_alphabetic()
                .then(|| c.to_lowercase().next().unwrap_or(c))
        })
        .collect()
}

/// `http(s)://` links and `www.` hosts in `text`.
pub fn count_links(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| {
            let w = w.trim_start_matches(['(', '<', '[']).to_ascii_lowercase();
            w.starts_with("http://") || w.starts_with("https://") || w.starts_with("www.")
        })
        .count()
}

/// `@name` mentions in `text` (letters, digits, `_`, `-`; 2-32 chars), lowercased, deduplicated,
/// in order; an `@` inside a word (e-mail addresses) is not a mention.
pub fn mentions(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' && (i == 0 || !chars[i - 1].is_alphanumeric()) {
            let start = i + 1;
            let mut end = start;
            while end < chars.len()
                && (chars[end].is_alphanumeric() || chars[end] == '_' || chars[end] == '-')
            {
                end += 1;
            }
            let name: String = chars[start..end]
                .iter()
                .collect::<String>()
                .trim_end_matches('-')
                .to_lowercase();
            if (2..=32).contains(&name.chars().count()) && !found.contains(&name) {
                found.push(name);
            }
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// A topic's "hot" score: votes on a log scale plus recency, so new active topics rise and old ones
/// sink (the Reddit formula; `age` in seconds since an epoch, larger = newer).
pub fn hot(upvotes: i64, downvotes: i64, replies: usize, age: i64) -> f64 {
    let score = upvotes - downvotes + (replies as i64) / 2;
    let order = (score.unsigned_abs().max(1) as f64).log10();
    let sign = score.signum() as f64;
    sign * order + age as f64 / 45_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_refills() {
        let mut bucket = Bucket::new(2, 0.5);
        assert!(bucket.take(0.0).is_ok());
        assert!(bucket.take(0.0).is_ok());
        let wait = bucket.take(0.0).unwrap_err();
        assert!((wait - 2.0).abs() < 1e-9);
        assert!(bucket.take(2.0).is_ok());
    }

    #[test]
    fn review() {
        let mut m = Moderator::new(&["spam"], 1, 0.1);
        assert_eq!(m.review("ann", "Hello", false, 0.0), Verdict::Accept);
        assert!(matches!(
            m.review("ANN", "Again", false, 1.0),
            Verdict::RateLimited { .. }
        ));
        assert_eq!(
            m.review("bob", "buy $P4M now", false, 0.0),
            Verdict::Blocked {
                word: "spam".into()
            }
        );
        assert_eq!(
            m.review("bob", "s p a m", false, 0.0),
            Verdict::Blocked {
                word: "spam".into()
            }
        );
        assert_eq!(
            m.review("cid", "see https://a.io and www.b.io", true, 0.0),
            Verdict::TooManyLinks {
                found: 2,
                allowed: 1
            }
        );
        assert_eq!(m.review("cid", "  ", false, 0.0), Verdict::Empty);
    }

    #[test]
    fn mentions_and_ranking() {
        assert_eq!(
            mentions("@Ann and @bob-, mail a@b.org, @ann again @x"),
            ["ann", "bob"]
        );
        assert!(hot(10, 0, 0, 1000) > hot(1, 0, 0, 1000));
        assert!(hot(1, 0, 0, 100_000) > hot(10, 0, 0, 0));
        assert!(hot(0, 5, 0, 0) < 0.0);
    }
}
