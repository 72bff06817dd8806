//! Minimal JSON writing (the server only ever writes JSON).

use std::fmt::Write;

/// Appends `s` as a JSON string literal (with quotes), escaping as RFC 8259 requires.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            // Also escape U+2028/U+2029 so the output is safe to embed in JavaScript.
            c if c < '\u{20}' || c == '\u{2028}' || c == '\u{2029}' || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `s` as a JSON string, or `null` when it is `None` or empty.
pub fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) if !s.is_empty() => push_str(out, s),
        _ => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> String {
        let mut out = String::new();
        push_str(&mut out, s);
        out
    }

    #[test]
    fn escapes() {
        assert_eq!(lit("plain"), "\"plain\"");
        assert_eq!(lit("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(lit("\n\r\t\u{8}\u{c}"), r#""\n\r\t\b\f""#);
        assert_eq!(lit("\u{1}\u{1f}\u{7f}"), r#""\u0001\u001f\u007f""#);
        assert_eq!(lit("\u{2028}é"), "\"\\u2028é\"");
    }

    #[test]
    fn optional_strings() {
        let mut out = String::new();
        push_opt_str(&mut out, Some(""));
        out.push(',');
        push_opt_str(&mut out, None);
        out.push(',');
        push_opt_str(&mut out, Some("abc"));
        assert_eq!(out, "null,null,\"abc\"");
    }
}
