//! Page templates: a logic-less, Mustache-style engine.
//!
//! `{{name}}` inserts a value HTML-escaped, `{{{name}}}` (or `{{& name}}`) raw; `{{#name}}...{{/name}}`
//! renders its body for a true value, once per item of a list (with the item as context), or once
//! with an object as context; `{{^name}}...{{/name}}` renders when the value is missing, false or
//! empty; `{{> partial}}` includes another template; `{{! comment }}`. Dotted names (`page.title`)
//! walk objects; `.` is the current item. Templates are compiled once and checked: an unclosed or
//! mismatched section is an error with its line.

use std::collections::BTreeMap;
use std::fmt;

use rustok_content::markdown::escape_into;

/// A value templates render.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    Text(String),
    Bool(bool),
    List(Vec<Data>),
    Map(BTreeMap<String, Data>),
}

impl Data {
    pub fn map<const N: usize>(entries: [(&str, Data); N]) -> Data {
        Data::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    fn truthy(&self) -> bool {
        match self {
            Data::Text(s) => !s.is_empty(),
            Data::Bool(b) => *b,
            Data::List(items) => !items.is_empty(),
            Data::Map(_) => true,
        }
    }

    fn text(&self) -> String {
        match self {
            Data::Text(s) => s.clone(),
            Data::Bool(b) => b.to_string(),
            Data::List(items) => items.iter().map(Data::text).collect::<Vec<_>>().join(", "),
            Data::Map(_) => String::new(),
        }
    }
}

impl From<&str> for Data {
    fn from(s: &str) -> Data {
        Data::Text(s.to_owned())
    }
}

impl From<String> for Data {
    fn from(s: String) -> Data {
        Data::Text(s)
    }
}

/// A template error, with the 1-based line where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for TemplateError {}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Text(String),
    Var {
        name: String,
        raw: bool,
    },
    Section {
        name: String,
        inverted: bool,
        body: Vec<Node>,
    },
    Partial(String),
}

/// A compiled template.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    /// Compiles `source`, checking that sections nest properly.
    pub fn compile(source: &str) -> Result<Template, TemplateError> {
        let mut stack: Vec<(String, bool, Vec<Node>, usize)> = Vec::new();
        let mut current: Vec<Node> = Vec::new();
        let mut rest = source;
        let mut line = 1;
        while let Some(open) = rest.find("{{") {
            let (text, after) = rest.split_at(open);
            if !text.is_empty() {
                current.push(Node::Text(text.to_owned()));
            }
            line += text.matches('\n').count();
            let triple = after.starts_with("{{{");
            let (close_tag, skip) = if triple { ("}}}", 3) } else { ("}}", 2) };
            let end = after[skip..].find(close_tag).ok_or_else(|| TemplateError {
                line,
                message: "unclosed tag".to_owned(),
            })?;
            let tag = after[skip..skip + end].trim();
            line += tag.matches('\n').count();
            rest = &after[skip + end + close_tag.len()..];
            let (sigil, name) = match tag.chars().next() {
                Some(c @ ('#' | '^' | '/' | '>' | '!' | '&')) if !triple => {
                    (Some(c), tag[1..].trim())
                }
                _ => (None, tag),
            };
            if sigil != Some('!') && (name.is_empty() || !valid_name(name)) {
                return Err(TemplateError {
                    line,
                    message: format!("bad tag name {name:?}"),
                });
            }
            match sigil {
                Some('!') => {}
                Some('#') | Some('^') => {
                    stack.push((
                        name.to_owned(),
                        sigil == Some('^'),
                        std::mem::take(&mut current),
                        line,
                    ));
                }
                Some('/') => {
                    let Some((open_name, inverted, parent, _)) = stack.pop() else {
                        return Err(TemplateError {
                            line,
                            message: format!("{{{{/{name}}}}} closes nothing"),
                        });
                    };
                    if open_name != name {
                        return Err(TemplateError {
                            line,
                            message: format!("{{{{/{name}}}}} closes {{{{#{open_name}}}}}"),
                        });
                    }
                    let body = std::mem::replace(&mut current, parent);
                    current.push(Node::Section {
                        name: open_name,
                        inverted,
                        body,
                    });
                }
                Some('>') => current.push(Node::Partial(name.to_owned())),
                Some('&') => current.push(Node::Var {
                    name: name.to_owned(),
                    raw: true,
                }),
                _ => current.push(Node::Var {
                    name: name.to_owned(),
                    raw: triple,
                }),
            }
        }
        if !rest.is_empty() {
            current.push(Node::Text(rest.to_owned()));
        }
        if let Some((name, _, _, opened)) = stack.pop() {
            return Err(TemplateError {
                line: opened,
                message: format!("section {name:?} is never closed"),
            });
        }
        Ok(Template { nodes: current })
    }

    /// Renders with `data` as the root context; partials are looked up in `partials`.
    pub fn render(&self, data: &Data, partials: &Partials) -> String {
        let mut out = String::new();
        let mut stack = vec![data];
        render_nodes(&self.nodes, &mut stack, partials, &mut out, 0);
        out
    }
}

fn valid_name(name: &str) -> bool {
    name == "."
        || name.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        })
}

/// Named templates for `{{> name}}`.
#[derive(Clone, Debug, Default)]
pub struct Partials {
    templates: BTreeMap<String, Template>,
}

impl Partials {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, name: &str, source: &str) -> Result<(), TemplateError> {
        self.templates
            .insert(name.to_owned(), Template::compile(source)?);
        Ok(())
    }
}

const MAX_PARTIAL_DEPTH: usize = 16;

fn lookup<'a>(stack: &[&'a Data], name: &str) -> Option<&'a Data> {
    if name == "." {
        return stack.last().copied();
    }
    let mut parts = name.split('.');
    let first = parts.next()?;
    // the innermost context that has the first part wins (Mustache scoping)
    let mut value = stack.iter().rev().find_map(|ctx| match ctx {
        Data::Map(map) => map.get(first),
        _ => None,
    })?;
    for part in parts {
        value = match value {
            Data::Map(map) => map.get(part)?,
            _ => return None,
        };
    }
    Some(value)
}

fn render_nodes<'a>(
    nodes: &'a [Node],
    stack: &mut Vec<&'a Data>,
    partials: &'a Partials,
    out: &mut String,
    depth: usize,
) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Var { name, raw } => {
                if let Some(value) = lookup(stack, name) {
                    let text = value.text();
                    if *raw {
                        out.push_str(&text);
                    } else {
                        escape_into(&text, out);
                    }
                }
            }
            Node::Section {
                name,
                inverted,
                body,
            } => {
                let value = lookup(stack, name);
                let truthy = value.is_some_and(Data::truthy);
                if *inverted {
                    if !truthy {
                        render_nodes(body, stack, partials, out, depth);
                    }
                    continue;
                }
                match value {
                    Some(Data::List(items)) => {
                        for item in items {
                            stack.push(item);
                            render_nodes(body, stack, partials, out, depth);
                            stack.pop();
                        }
                    }
                    Some(map @ Data::Map(_)) => {
                        stack.push(map);
                        render_nodes(body, stack, partials, out, depth);
                        stack.pop();
                    }
                    Some(v) if v.truthy() => render_nodes(body, stack, partials, out, depth),
                    _ => {}
                }
            }
            Node::Partial(name) => {
                if depth < MAX_PARTIAL_DEPTH {
                    if let Some(template) = partials.templates.get(name) {
                        render_nodes(&template.nodes, stack, partials, out, depth + 1);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str, data: &Data) -> String {
        Template::compile(source)
            .unwrap()
            .render(data, &Partials::new())
    }

    #[test]
    fn variables_escape_unless_raw() {
        let data = Data::map([
            ("name", "<b>Ann</b>".into()),
            ("site", Data::map([("title", "RusToK".into())])),
        ]);
        assert_eq!(render("Hi {{name}}!", &data), "Hi &lt;b&gt;Ann&lt;/b&gt;!");
        assert_eq!(
            render("{{{name}}}|{{& name}}", &data),
            "<b>Ann</b>|<b>Ann</b>"
        );
        assert_eq!(render("{{site.title}} {{missing}}", &data), "RusToK ");
    }

    #[test]
    fn sections_lists_and_inversion() {
        let data = Data::map([
            ("items", Data::List(vec!["a".into(), "b".into()])),
            ("none", Data::List(vec![])),
            ("flag", Data::Bool(true)),
            ("page", Data::map([("title", "Home".into())])),
            ("title", "Outer".into()),
        ]);
        assert_eq!(render("{{#items}}[{{.}}]{{/items}}", &data), "[a][b]");
        assert_eq!(
            render("{{^none}}empty{{/none}}{{#none}}x{{/none}}", &data),
            "empty"
        );
        assert_eq!(
            render("{{#flag}}yes{{/flag}}{{^flag}}no{{/flag}}", &data),
            "yes"
        );
        assert_eq!(
            render("{{#page}}{{title}}{{/page}} {{title}}", &data),
            "Home Outer"
        );
        assert_eq!(render("a{{! note }}b", &data), "ab");
    }

    #[test]
    fn partials_and_recursion_limit() {
        let mut partials = Partials::new();
        partials.add("item", "<li>{{.}}</li>").unwrap();
        partials.add("loop", "x{{> loop}}").unwrap();
        let data = Data::map([("items", Data::List(vec!["a".into(), "b".into()]))]);
        let t = Template::compile("<ul>{{#items}}{{> item}}{{/items}}</ul>{{> missing}}").unwrap();
        assert_eq!(t.render(&data, &partials), "<ul><li>a</li><li>b</li></ul>");
        let looped = Template::compile("{{> loop}}")
            .unwrap()
            .render(&data, &partials);
        assert_eq!(looped.len(), MAX_PARTIAL_DEPTH);
    }

    #[test]
    fn compile_errors_name_the_line() {
        let err = Template::compile("a\n{{#x}}\nb").unwrap_err();
        assert_eq!(
            (err.line, err.message.as_str()),
            (2, "section \"x\" is never closed")
        );
        let err = Template::compile("{{#x}}\n\n{{/y}}").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(Template::compile("{{/x}}").is_err());
        assert!(Template::compile("{{a b}}").is_err());
        assert!(Template::compile("{{open").is_err());
    }
}
