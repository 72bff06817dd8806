//! sitemap.xml (sitemaps.org 0.9) and robots.txt.
//!
//! A sitemap holds at most 50,000 URLs; larger sites get several sitemaps and an index. URLs are
//! absolute, XML-escaped, deduplicated, and sorted so the output is stable.

use std::collections::BTreeMap;
use std::fmt::Write;

/// The protocol's limit of URLs per sitemap file.
pub const MAX_URLS: usize = 50_000;

/// How often a page is expected to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeFreq {
    Always,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
    Never,
}

impl ChangeFreq {
    fn as_str(self) -> &'static str {
        match self {
            ChangeFreq::Always => "always",
            ChangeFreq::Hourly => "hourly",
            ChangeFreq::Daily => "daily",
            ChangeFreq::Weekly => "weekly",
            ChangeFreq::Monthly => "monthly",
            ChangeFreq::Yearly => "yearly",
            ChangeFreq::Never => "never",
        }
    }
}

/// One URL of a sitemap.
#[derive(Clone, Debug, PartialEq)]
pub struct UrlEntry {
    pub path: String,
    pub last_modified: Option<String>, // W3C datetime, e.g. 2026-08-16
    pub change_freq: Option<ChangeFreq>,
    pub priority: Option<f32>,
}

impl UrlEntry {
    pub fn new(path: &str) -> Self {
        UrlEntry {
            path: path.to_owned(),
            last_modified: None,
            change_freq: None,
            priority: None,
        }
    }
}

fn xml_escape(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(ch),
        }
    }
}

/// Percent-encodes what may not appear raw in a URL path (spaces, non-ASCII, quotes ...).
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~!$&'()*+,;=:@%".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

fn absolute(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = encode_path(path);
    if path.starts_with('/') {
        format!("{base}{path}")
    } else {
        format!("{base}/{path}")
    }
}

/// The sitemap files for `entries` under `base` (e.g. `https://example.com`): one file, or several
/// plus an index (returned first) when there are more than `per_file` URLs.
pub fn sitemaps(base: &str, entries: &[UrlEntry], per_file: usize) -> Vec<(String, String)> {
    let per_file = per_file.clamp(1, MAX_URLS);
    let mut unique: BTreeMap<String, &UrlEntry> = BTreeMap::new();
    for entry in entries {
        unique.entry(absolute(base, &entry.path)).or_insert(entry);
    }
    let all: Vec<(String, &UrlEntry)> = unique.into_iter().collect();
    let chunks: Vec<&[(String, &UrlEntry)]> = all.chunks(per_file).collect();
    if chunks.len() <= 1 {
        return vec![(
            "sitemap.xml".to_owned(),
            urlset(chunks.first().copied().unwrap_or(&[])),
        )];
    }
    let mut files = Vec::with_capacity(chunks.len() + 1);
    let mut index = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (i, chunk) in chunks.iter().enumerate() {
        let name = format!("sitemap-{}.xml", i + 1);
        index.push_str("  <sitemap><loc>");
        xml_escape(&absolute(base, &name), &mut index);
        index.push_str("</loc></sitemap>\n");
        files.push((name, urlset(chunk)));
    }
    index.push_str("</sitemapindex>\n");
    files.insert(0, ("sitemap.xml".to_owned(), index));
    files
}

fn urlset(entries: &[(String, &UrlEntry)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n",
    );
    for (loc, entry) in entries {
        out.push_str("  <url>\n    <loc>");
        xml_escape(loc, &mut out);
        out.push_str("</loc>\n");
        if let Some(modified) = &entry.last_modified {
            out.push_str("    <lastmod>");
            xml_escape(modified, &mut out);
            out.push_str("</lastmod>\n");
        }
        if let Some(freq) = entry.change_freq {
            let _ = writeln!(out, "    <changefreq>{}</changefreq>", freq.as_str());
        }
        if let Some(priority) = entry.priority {
            let _ = writeln!(
                out,
                "    <priority>{:.1}</priority>",
                priority.clamp(0.0, 1.0)
            );
        }
        out.push_str("  </url>\n");
    }
    out.push_str("</urlset>\n");
    out
}

/// robots.txt: everything allowed except `disallow` paths, with the sitemap's address.
pub fn robots_txt(base: &str, disallow: &[&str]) -> String {
    let mut out = String::from("User-agent: *\n");
    if disallow.is_empty() {
        out.push_str("Disallow:\n");
    }
    for path in disallow {
        let _ = writeln!(out, "Disallow: {}", encode_path(path));
    }
    let _ = writeln!(out, "\nSitemap: {}", absolute(base, "sitemap.xml"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file() {
        let mut about = UrlEntry::new("/about us");
        about.last_modified = Some("2026-08-16".into());
        about.change_freq = Some(ChangeFreq::Monthly);
        about.priority = Some(1.7);
        let files = sitemaps(
            "https://x.org/",
            &[about, UrlEntry::new("/a&b"), UrlEntry::new("/a&b")],
            100,
        );
        assert_eq!(files.len(), 1);
        let xml = &files[0].1;
        assert!(xml.contains("<loc>https://x.org/about%20us</loc>"));
        assert!(xml.contains("<loc>https://x.org/a&amp;b</loc>"));
        assert_eq!(xml.matches("<url>").count(), 2);
        assert!(
            xml.contains("<priority>1.0</priority>")
                && xml.contains("<changefreq>monthly</changefreq>")
        );
    }

    #[test]
    fn index_when_too_many() {
        let entries: Vec<UrlEntry> = (0..5).map(|i| UrlEntry::new(&format!("/p{i}"))).collect();
        let files = sitemaps("https://x.org", &entries, 2);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "sitemap.xml",
                "sitemap-1.xml",
                "sitemap-2.xml",
                "sitemap-3.xml"
            ]
        );
        assert!(files[0]
            .1
            .contains("<sitemap><loc>https://x.org/sitemap-3.xml</loc></sitemap>"));
    }

    #[test]
    fn robots() {
        assert_eq!(
            robots_txt("https://x.org", &[]),
            "User-agent: *\nDisallow:\n\nSitemap: https://x.org/sitemap.xml\n"
        );
        assert!(robots_txt("https://x.org", &["/admin", "/ä"])
            .contains("Disallow: /admin\nDisallow: /%C3%A4\n"));
    }
}
