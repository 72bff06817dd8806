//! Blog syndication and archives: Atom 1.0 feeds (RFC 4287), RFC 3339 timestamps computed from Unix
//! seconds (proleptic Gregorian, no time-zone database needed), monthly archives and pagination.

use std::collections::BTreeMap;
use std::fmt::Write;

use rustok_content::markdown::{escape, escape_into};

/// A civil date-time in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl DateTime {
    /// The UTC date-time of a Unix timestamp (Howard Hinnant's `civil_from_days`).
    pub fn from_unix(seconds: i64) -> DateTime {
        let days = seconds.div_euclid(86_400);
        let secs = seconds.rem_euclid(86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        DateTime {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
        }
    }

    /// Unix seconds of this date-time (`days_from_civil`).
    pub fn to_unix(self) -> i64 {
        let y = self.year - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400 + i64::from(self.hour * 3600 + self.minute * 60 + self.second)
    }

    /// `2026-08-16T10:00:00Z`
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// Parses the `Z` form of RFC 3339 (`2026-08-16T10:00:00Z`), checking the calendar.
    pub fn parse_rfc3339(text: &str) -> Option<DateTime> {
        let b = text.as_bytes();
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        if b[19] != b'Z' && b[19] != b'z' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<u32>().ok();
        let dt = DateTime {
            year: i64::from(num(0..4)?),
            month: num(5..7)?,
            day: num(8..10)?,
            hour: num(11..13)?,
            minute: num(14..16)?,
            second: num(17..19)?,
        };
        let valid = (1..=12).contains(&dt.month)
            && dt.day >= 1
            && dt.day <= days_in_month(dt.year, dt.month)
            && dt.hour < 24
            && dt.minute < 60
            && dt.second < 60;
        valid.then_some(dt)
    }
}

/// Whether `year` is a leap year in the Gregorian calendar.
pub fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A published post as syndicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub slug: String,
    pub title: String,
    pub html: String,
    pub published: i64,
    pub tags: Vec<String>,
}

/// Feed metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedInfo {
    pub title: String,
    pub base_url: String,
    pub author: String,
}

/// An Atom feed of the newest `limit` entries.
pub fn atom(info: &FeedInfo, entries: &[Entry], limit: usize) -> String {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| {
        b.published
            .cmp(&a.published)
            .then_with(|| a.slug.cmp(&b.slug))
    });
    sorted.truncate(limit);
    let base = info.base_url.trim_end_matches('/');
    let updated = sorted.first().map_or(0, |e| e.published);
    let mut out = String::with_capacity(512 + sorted.len() * 512);
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    let _ = writeln!(out, "  <title>{}</title>", escape(&info.title));
    let _ = writeln!(out, "  <id>{}/</id>", escape(base));
    let _ = writeln!(out, "  <link href=\"{}/\" />", escape(base));
    let _ = writeln!(
        out,
        "  <link rel=\"self\" href=\"{}/feed.atom\" />",
        escape(base)
    );
    let _ = writeln!(
        out,
        "  <updated>{}</updated>",
        DateTime::from_unix(updated).rfc3339()
    );
    let _ = writeln!(
        out,
        "  <author><name>{}</name></author>",
        escape(&info.author)
    );
    for entry in sorted {
        let url = format!("{base}/blog/{}", entry.slug);
        out.push_str("  <entry>\n");
        let _ = writeln!(out, "    <title>{}</title>", escape(&entry.title));
        let _ = writeln!(out, "    <id>{}</id>", escape(&url));
        let _ = writeln!(out, "    <link href=\"{}\" />", escape(&url));
        let stamp = DateTime::from_unix(entry.published).rfc3339();
        let _ = writeln!(
            out,
            "    <published>{stamp}</published>\n    <updated>{stamp}</updated>"
        );
        for tag in &entry.tags {
            out.push_str("    <category term=\"");
            escape_into(tag, &mut out);
            out.push_str("\" />\n");
        }
        out.push_str("    <content type=\"html\">");
        escape_into(&entry.html, &mut out);
        out.push_str("</content>\n  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

/// Entries grouped by month, newest month first: ("August 2026", slugs newest first).
pub fn archive(entries: &[Entry]) -> Vec<(String, Vec<String>)> {
    let mut months: BTreeMap<(i64, u32), Vec<(i64, String)>> = BTreeMap::new();
    for entry in entries {
        let dt = DateTime::from_unix(entry.published);
        months
            .entry((dt.year, dt.month))
            .or_default()
            .push((entry.published, entry.slug.clone()));
    }
    months
        .into_iter()
        .rev()
        .map(|((year, month), mut posts)| {
            posts.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            let label = format!("{} {year}", MONTHS[month as usize - 1]);
            (label, posts.into_iter().map(|(_, slug)| slug).collect())
        })
        .collect()
}

/// Tag -> number of entries, most used first (ties alphabetical); tags compare case-insensitively.
pub fn tag_cloud(entries: &[Entry]) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for entry in entries {
        let mut seen: Vec<String> = entry.tags.iter().map(|t| t.trim().to_lowercase()).collect();
        seen.sort();
        seen.dedup();
        for tag in seen.into_iter().filter(|t| !t.is_empty()) {
            *counts.entry(tag).or_default() += 1;
        }
    }
    let mut cloud: Vec<(String, usize)> = counts.into_iter().collect();
    cloud.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    cloud
}

/// One page of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub number: usize,
    pub total_pages: usize,
    pub previous: Option<usize>,
    pub next: Option<usize>,
}

/// Page `number` (1-based, clamped to the valid range) of `items`, `per_page` at a time.
pub fn paginate<T: Clone>(items: &[T], per_page: usize, number: usize) -> Page<T> {
    let per_page = per_page.max(1);
    let total_pages = items.len().div_ceil(per_page).max(1);
    let number = number.clamp(1, total_pages);
    let start = (number - 1) * per_page;
    let end = (start + per_page).min(items.len());
    Page {
        items: items.get(start..end).unwrap_or(&[]).to_vec(),
        number,
        total_pages,
        previous: (number > 1).then(|| number - 1),
        next: (number < total_pages).then(|| number + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(slug: &str, published: i64, tags: &[&str]) -> Entry {
        Entry {
            slug: slug.into(),
            title: format!("Post {slug}"),
            html: "<p>a & b</p>".into(),
            published,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn dates() {
        assert_eq!(DateTime::from_unix(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(
            DateTime::from_unix(1_787_047_200).rfc3339(),
            "2026-08-18T10:00:00Z"
        );
        assert_eq!(
            DateTime::from_unix(951_782_400).rfc3339(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(DateTime::from_unix(-1).rfc3339(), "1969-12-31T23:59:59Z");
        for t in [0, 951_782_400, 1_787_047_199, -86_400 * 800] {
            assert_eq!(DateTime::from_unix(t).to_unix(), t);
        }
        assert_eq!(
            DateTime::parse_rfc3339("2024-02-29T12:00:00Z").map(|d| d.day),
            Some(29)
        );
        assert!(DateTime::parse_rfc3339("2023-02-29T12:00:00Z").is_none());
        assert!(DateTime::parse_rfc3339("2023-02-28 12:00:00Z").is_none());
    }

    #[test]
    fn atom_feed() {
        let info = FeedInfo {
            title: "R&D".into(),
            base_url: "https://x.org/".into(),
            author: "Ann".into(),
        };
        let feed = atom(
            &info,
            &[entry("old", 0, &[]), entry("new", 86_400, &["rust"])],
            1,
        );
        assert!(feed.contains("<title>R&amp;D</title>"));
        assert!(feed.contains("<updated>1970-01-02T00:00:00Z</updated>"));
        assert!(feed.contains("<id>https://x.org/blog/new</id>"));
        assert!(!feed.contains("blog/old"));
        assert!(feed.contains("<content type=\"html\">&lt;p&gt;a &amp; b&lt;/p&gt;</content>"));
        assert!(feed.contains("<category term=\"rust\" />"));
    }

    #[test]
    fn archives_tags_pages() {
        let entries = [
            entry("a", 1_785_000_000, &["Rust", "cms"]),
            entry("b", 1_787_000_000, &["rust"]),
            entry("c", 1_786_000_000, &[]),
        ];
        assert_eq!(
            archive(&entries),
            [
                (
                    "August 2026".to_owned(),
                    vec!["b".to_owned(), "c".to_owned()]
                ),
                ("July 2026".to_owned(), vec!["a".to_owned()])
            ]
        );
        assert_eq!(
            tag_cloud(&entries),
            [("rust".to_owned(), 2), ("cms".to_owned(), 1)]
        );
        let page = paginate(&[1, 2, 3, 4, 5], 2, 3);
        assert_eq!(
            (page.items, page.previous, page.next, page.total_pages),
            (vec![5], Some(2), None, 3)
        );
        assert_eq!(paginate::<u8>(&[], 10, 4).number, 1);
    }
}
