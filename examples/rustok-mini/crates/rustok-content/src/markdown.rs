//! Markdown to HTML for content bodies: a strict CommonMark subset.
//!
//! Blocks: ATX headings (`#`..`######`), paragraphs, fenced code blocks (```` ``` ```` or `~~~`,
//! with an info string), block quotes (`>`, nested), bullet lists (`-`, `*`, `+`) and ordered
//! lists (`1.`), thematic breaks (`---`, `***`). Inlines: code spans, `**strong**`, `*em*` / `_em_`,
//! links `[text](url "title")`, autolinks `<https://...>`, backslash escapes, hard breaks (two
//! trailing spaces). All text is HTML-escaped; link URLs are limited to safe schemes so content
//! cannot inject `javascript:` links.

use std::fmt::Write;

/// Renders `source` to HTML.
pub fn to_html(source: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::with_capacity(source.len() + source.len() / 4);
    render_blocks(&lines, &mut out);
    out
}

/// The plain text of `source` (markup removed), e.g. for search and meta descriptions.
pub fn to_text(source: &str) -> String {
    let html = to_html(source);
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(ch),
            _ => {}
        }
    }
    let text = unescape(&text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Debug, PartialEq, Eq)]
enum Block<'a> {
    Heading(usize, &'a str),
    Rule,
    Fence {
        info: &'a str,
        body: Vec<&'a str>,
    },
    Quote(Vec<&'a str>),
    List {
        ordered: Option<u64>,
        items: Vec<Vec<String>>,
    },
    Paragraph(Vec<&'a str>),
    Blank,
}

fn render_blocks(lines: &[&str], out: &mut String) {
    let mut i = 0;
    while i < lines.len() {
        let (block, used) = next_block(&lines[i..]);
        i += used.max(1);
        match block {
            Block::Heading(level, text) => {
                let _ = write!(out, "<h{level}>");
                render_inline(text.trim(), out);
                let _ = writeln!(out, "</h{level}>");
            }
            Block::Rule => out.push_str("<hr />\n"),
            Block::Fence { info, body } => {
                let lang = info.split_whitespace().next().unwrap_or("");
                if lang.is_empty() {
                    out.push_str("<pre><code>");
                } else {
                    out.push_str("<pre><code class=\"language-");
                    escape_into(lang, out);
                    out.push_str("\">");
                }
                for line in body {
                    escape_into(line, out);
                    out.push('\n');
                }
                out.push_str("</code></pre>\n");
            }
            Block::Quote(inner) => {
                out.push_str("<blockquote>\n");
                render_blocks(&inner, out);
                out.push_str("</blockquote>\n");
            }
            Block::List { ordered, items } => {
                match ordered {
                    Some(1) => out.push_str("<ol>\n"),
                    Some(start) => {
                        let _ = writeln!(out, "<ol start=\"{start}\">");
                    }
                    None => out.push_str("<ul>\n"),
                }
                for item in items {
                    out.push_str("<li>");
                    let refs: Vec<&str> = item.iter().map(String::as_str).collect();
                    if refs.len() == 1 {
                        render_inline(refs[0].trim(), out);
                    } else {
                        out.push('\n');
                        render_blocks(&refs, out);
                    }
                    out.push_str("</li>\n");
                }
                out.push_str(if ordered.is_some() {
                    "</ol>\n"
                } else {
                    "</ul>\n"
                });
            }
            Block::Paragraph(text) => {
                out.push_str("<p>");
                for (n, line) in text.iter().enumerate() {
                    let hard = line.ends_with("  ");
                    render_inline(line.trim(), out);
                    if n + 1 < text.len() {
                        out.push_str(if hard { "<br />\n" } else { "\n" });
                    }
                }
                out.push_str("</p>\n");
            }
            Block::Blank => {}
        }
    }
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start();
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let level = trimmed.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &trimmed[level..];
    if !rest.is_empty() && !rest.starts_with(' ') && !rest.starts_with('\t') {
        return None;
    }
    let text = rest.trim().trim_end_matches('#').trim_end();
    Some((level, text))
}

fn is_rule(line: &str) -> bool {
    let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    compact.len() >= 3
        && (compact.chars().all(|c| c == '-')
            || compact.chars().all(|c| c == '*')
            || compact.chars().all(|c| c == '_'))
}

fn fence_open(line: &str) -> Option<(char, usize, &str)> {
    let trimmed = line.trim_start();
    let ch = trimmed.chars().next()?;
    if ch != '`' && ch != '~' {
        return None;
    }
    let count = trimmed.chars().take_while(|&c| c == ch).count();
    if count < 3 {
        return None;
    }
    let info = trimmed[count..].trim();
    if ch == '`' && info.contains('`') {
        return None;
    }
    Some((ch, count, info))
}

fn list_marker(line: &str) -> Option<(Option<u64>, usize)> {
    let indent = line.len() - line.trim_start().len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let mut chars = rest.char_indices();
    let (_, first) = chars.next()?;
    if matches!(first, '-' | '*' | '+') {
        return match rest[1..].chars().next() {
            Some(' ') | Some('\t') => Some((None, indent + 2)),
            None => Some((None, indent + 1)),
            _ => None,
        };
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let after = &rest[digits..];
    if !(after.starts_with(". ") || after.starts_with(") ") || after == "." || after == ")") {
        return None;
    }
    let number = rest[..digits].parse().ok()?;
    Some((Some(number), indent + digits + 2))
}

fn next_block<'a>(lines: &[&'a str]) -> (Block<'a>, usize) {
    let line = lines[0];
    if line.trim().is_empty() {
        return (Block::Blank, 1);
    }
    if let Some((level, text)) = heading(line) {
        return (Block::Heading(level, text), 1);
    }
    if let Some((ch, count, info)) = fence_open(line) {
        let mut body = Vec::new();
        let mut used = 1;
        for l in &lines[1..] {
            used += 1;
            let t = l.trim_start();
            if t.starts_with(&ch.to_string().repeat(count)) && t.trim_end().chars().all(|c| c == ch)
            {
                return (Block::Fence { info, body }, used);
            }
            body.push(*l);
        }
        return (Block::Fence { info, body }, used);
    }
    if is_rule(line) {
        return (Block::Rule, 1);
    }
    if line.trim_start().starts_with('>') {
        let mut inner = Vec::new();
        let mut used = 0;
        for l in lines {
            let t = l.trim_start();
            if let Some(rest) = t.strip_prefix('>') {
                inner.push(rest.strip_prefix(' ').unwrap_or(rest));
            } else if !t.is_empty()
                && used > 0
                && !inner.last().is_some_and(|s: &&str| s.trim().is_empty())
            {
                inner.push(l); // lazy continuation of a quoted paragraph
            } else {
                break;
            }
            used += 1;
        }
        return (Block::Quote(inner), used);
    }
    if let Some((ordered, _)) = list_marker(line) {
        return list(lines, ordered);
    }
    let mut text = vec![line];
    let mut used = 1;
    for l in &lines[1..] {
        if l.trim().is_empty() || heading(l).is_some() || fence_open(l).is_some() || is_rule(l) {
            break;
        }
        if l.trim_start().starts_with('>') || list_marker(l).is_some() {
            break;
        }
        text.push(l);
        used += 1;
    }
    (Block::Paragraph(text), used)
}

fn list<'a>(lines: &[&'a str], ordered: Option<u64>) -> (Block<'a>, usize) {
    let mut items: Vec<Vec<String>> = Vec::new();
    let mut used = 0;
    let mut content_indent = 0;
    let mut blank_run = 0;
    for l in lines {
        if l.trim().is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                break;
            }
            if let Some(item) = items.last_mut() {
                item.push(String::new());
            }
            used += 1;
            continue;
        }
        let indent = l.len() - l.trim_start().len();
        match list_marker(l) {
            Some((kind, width))
                if kind.is_some() == ordered.is_some() && indent < content_indent.max(1) + 1 =>
            {
                items.push(vec![l[width.min(l.len())..].to_owned()]);
                content_indent = width;
            }
            _ if indent >= content_indent && content_indent > 0 => {
                if let Some(item) = items.last_mut() {
                    item.push(l[content_indent..].to_owned());
                }
            }
            _ if blank_run == 0 && !items.is_empty() && list_marker(l).is_none() => {
                if let Some(item) = items.last_mut() {
                    item.push(l.trim_start().to_owned());
                }
            }
            _ => break,
        }
        blank_run = 0;
        used += 1;
    }
    for item in &mut items {
        while item.last().is_some_and(|s| s.is_empty()) {
            item.pop();
        }
    }
    (Block::List { ordered, items }, used.max(1))
}

fn render_inline(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut plain_start = 0;
    let flush = |out: &mut String, from: usize, to: usize| escape_into(&text[from..to], out);
    while i < bytes.len() {
        let b = bytes[i];
        let handled: Option<usize> = match b {
            b'\\' if i + 1 < bytes.len() && bytes[i + 1].is_ascii_punctuation() => {
                flush(out, plain_start, i);
                escape_into(&text[i + 1..i + 2], out);
                Some(i + 2)
            }
            b'`' => code_span(text, i).map(|(end, code)| {
                flush(out, plain_start, i);
                out.push_str("<code>");
                escape_into(code, out);
                out.push_str("</code>");
                end
            }),
            b'*' | b'_' => emphasis(text, i).map(|(end, strong, inner)| {
                flush(out, plain_start, i);
                let tag = if strong { "strong" } else { "em" };
                let _ = write!(out, "<{tag}>");
                render_inline(inner, out);
                let _ = write!(out, "</{tag}>");
                end
            }),
            b'[' => link(text, i).map(|(end, label, url, title)| {
                flush(out, plain_start, i);
                out.push_str("<a href=\"");
                escape_into(url, out);
                out.push('"');
                if let Some(title) = title {
                    out.push_str(" title=\"");
                    escape_into(title, out);
                    out.push('"');
                }
                out.push('>');
                render_inline(label, out);
                out.push_str("</a>");
                end
            }),
            b'<' => autolink(text, i).map(|(end, url)| {
                flush(out, plain_start, i);
                out.push_str("<a href=\"");
                escape_into(url, out);
                out.push_str("\">");
                escape_into(url, out);
                out.push_str("</a>");
                end
            }),
            _ => None,
        };
        match handled {
            Some(end) => {
                i = end;
                plain_start = end;
            }
            None => i += utf8_width(b),
        }
    }
    flush(out, plain_start, bytes.len());
}

fn utf8_width(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

fn code_span(text: &str, start: usize) -> Option<(usize, &str)> {
    let ticks = text[start..].bytes().take_while(|&b| b == b'`').count();
    let fence = &text[start..start + ticks];
    let rest = &text[start + ticks..];
    let mut search = 0;
    while let Some(pos) = rest[search..].find(fence) {
        let at = search + pos;
        let after = rest[at + ticks..].bytes().next();
        if after != Some(b'`') {
            let code = &rest[..at];
            let code = if code.len() > 2 && code.starts_with(' ') && code.ends_with(' ') {
                &code[1..code.len() - 1]
            } else {
                code
            };
            return Some((start + ticks + at + ticks, code));
        }
        search = at
            + ticks
            + rest[at + ticks..]
                .bytes()
                .take_while(|&b| b == b'`')
                .count();
    }
    None
}

fn emphasis(text: &str, start: usize) -> Option<(usize, bool, &str)> {
    let marker = text.as_bytes()[start];
    let run = text[start..].bytes().take_while(|&b| b == marker).count();
    let strong = run >= 2;
    let width = if strong { 2 } else { 1 };
    let delim = &text[start..start + width];
    let inner_start = start + width;
    let next = text[inner_start..].chars().next()?;
    if next.is_whitespace() {
        return None;
    }
    if marker == b'_'
        && start > 0
        && text[..start]
            .chars()
            .last()
            .is_some_and(char::is_alphanumeric)
    {
        return None; // intraword underscores stay literal (snake_case)
    }
    let mut search = inner_start + 1;
    while search <= text.len() {
        let pos = text[search..].find(delim)? + search;
        let before = text[..pos].chars().last()?;
        let closes = !before.is_whitespace()
            && (width == 2 || text.as_bytes().get(pos + 1) != Some(&marker))
            && !(marker == b'_'
                && text[pos + width..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphanumeric));
        if closes {
            return Some((pos + width, strong, &text[inner_start..pos]));
        }
        search = pos + width;
    }
    None
}

fn link(text: &str, start: usize) -> Option<(usize, &str, &str, Option<&str>)> {
    let mut depth = 0usize;
    let mut close = None;
    for (offset, ch) in text[start..].char_indices() {
        match ch {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(start + offset);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    let rest = text[close + 1..].strip_prefix('(')?;
    let end = rest.find(')')?;
    let inside = rest[..end].trim();
    let (url, title) = match inside.find(" \"") {
        Some(q) if inside.ends_with('"') && inside.len() > q + 2 => {
            (inside[..q].trim(), Some(&inside[q + 2..inside.len() - 1]))
        }
        _ => (inside, None),
    };
    if url.contains(char::is_whitespace) || !safe_url(url) {
        return None;
    }
    Some((close + 2 + end + 1, &text[start + 1..close], url, title))
}

fn autolink(text: &str, start: usize) -> Option<(usize, &str)> {
    let end = text[start..].find('>')? + start;
    let url = &text[start + 1..end];
    let is_link =
        (url.starts_with("https://") || url.starts_with("http://") || url.starts_with("mailto:"))
            && !url.contains(|c: char| c.is_whitespace() || c == '<');
    is_link.then_some((end + 1, url))
}

/// Link targets content may use: relative paths, fragments and http(s)/mailto URLs.
pub fn safe_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    match lower.find(':') {
        None => true,
        Some(colon) => {
            let scheme = &lower[..colon];
            if scheme.contains(['/', '?', '#']) {
                return true; // the colon is in the path or query: relative
            }
            matches!(scheme, "http" | "https" | "mailto")
        }
    }
}

/// Appends `text` to `out` with `& < > " '` escaped.
pub fn escape_into(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
}

/// `text` with HTML special characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(text, &mut out);
    out
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks() {
        let html =
            to_html("# Title #\n\nSome *nice* text\nover two lines.\n\n---\n\n> quoted\n> more\n");
        assert_eq!(
            html,
            "<h1>Title</h1>\n<p>Some <em>nice</em> text\nover two lines.</p>\n<hr />\n\
             <blockquote>\n<p>quoted\nmore</p>\n</blockquote>\n"
        );
        assert_eq!(to_html("#no heading"), "<p>#no heading</p>\n");
    }

    #[test]
    fn fenced_code_is_escaped_verbatim() {
        let html = to_html("```rust\nfn main() { a < b && c }\n```\n");
        assert_eq!(
            html,
            "<pre><code class=\"language-rust\">fn main() { a &lt; b &amp;&amp; c }\n</code></pre>\n"
        );
    }

    #[test]
    fn lists() {
        assert_eq!(
            to_html("- a\n- **b**\n"),
            "<ul>\n<li>a</li>\n<li><strong>b</strong></li>\n</ul>\n"
        );
        assert_eq!(
            to_html("3. x\n4. y\n"),
            "<ol start=\"3\">\n<li>x</li>\n<li>y</li>\n</ol>\n"
        );
        let nested = to_html("- a\n\n  para\n- b\n");
        assert!(
            nested.starts_with("<ul>\n<li>\n<p>a</p>\n<p>para</p>\n</li>"),
            "{nested}"
        );
    }

    #[test]
    fn inlines() {
        assert_eq!(
            to_html("`a<b>` and [site](https://x.org \"X\") <https://y.org> snake_case \\*lit\\*"),
            "<p><code>a&lt;b&gt;</code> and <a href=\"https://x.org\" title=\"X\">site</a> \
             <a href=\"https://y.org\">https://y.org</a> snake_case *lit*</p>\n"
        );
        assert_eq!(to_html("a  \nb"), "<p>a<br />\nb</p>\n");
    }

    #[test]
    fn unsafe_links_and_html_stay_text() {
        assert_eq!(
            to_html("[x](javascript:alert(1)) <script>"),
            "<p>[x](javascript:alert(1)) &lt;script&gt;</p>\n"
        );
        assert!(
            safe_url("/about#team") && safe_url("mailto:a@b.c") && !safe_url("data:text/html,x")
        );
    }

    #[test]
    fn plain_text() {
        assert_eq!(to_text("# Hi\n\nA *b* & `c`"), "Hi A b & c");
    }
}
