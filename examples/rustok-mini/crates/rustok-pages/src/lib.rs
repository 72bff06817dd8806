//! RusToK pages: static pages stored as content nodes of kind `"page"`.

use rustok_content::{ContentError, ContentStore, Node};
use rustok_core::{ModuleHealth, RusToKModule};

pub mod template;

pub use template::{Data, Partials, Template, TemplateError};

/// The default page layout.
pub const LAYOUT: &str = "<!doctype html>\n<html><head><title>{{title}} | {{site}}</title></head>\n\
<body><nav>{{#nav}}<a href=\"{{path}}\">{{title}}</a>{{/nav}}</nav>\n<main>{{{body}}}</main></body></html>\n";

/// Content kind used for pages.
pub const KIND: &str = "page";

/// The public path of a page, e.g. `/about-us`.
pub fn path_for(page: &Node) -> String {
    format!("/{}", page.slug)
}

/// The pages module.
#[derive(Debug, Default)]
pub struct PagesModule {
    store: ContentStore,
}

impl PagesModule {
    /// A module with no pages.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a page and returns its public path.
    pub fn create(&self, title: &str, body: &str) -> Result<String, ContentError> {
        let page = Node::new(KIND, title, body);
        let path = path_for(&page);
        self.store.insert(page)?;
        Ok(path)
    }

    /// The page at `path` rendered into `layout` (body from Markdown), with a navigation list of
    /// all pages; `None` if there is no such page.
    pub fn render(&self, path: &str, site: &str, layout: &Template) -> Option<String> {
        let page = self.resolve(path)?;
        let nav: Vec<Data> = self
            .store
            .list(KIND)
            .iter()
            .map(|p| {
                Data::map([
                    ("path", path_for(p).into()),
                    ("title", p.title.as_str().into()),
                ])
            })
            .collect();
        let data = Data::map([
            ("title", page.title.as_str().into()),
            ("site", site.into()),
            ("body", page.html().into()),
            ("nav", Data::List(nav)),
        ]);
        Some(layout.render(&data, &Partials::new()))
    }

    /// The page served at `path`, if any.
    pub fn resolve(&self, path: &str) -> Option<Node> {
        self.store.get(KIND, path.strip_prefix('/')?)
    }
}

impl RusToKModule for PagesModule {
    fn slug(&self) -> &'static str {
        "pages"
    }

    fn name(&self) -> &'static str {
        "Pages"
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
    fn create_and_resolve() {
        let pages = PagesModule::new();
        assert_eq!(
            pages.create("About us", "We make CMS.").unwrap(),
            "/about-us"
        );
        assert_eq!(pages.resolve("/about-us").unwrap().title, "About us");
        assert!(pages.resolve("about-us").is_none());
        assert!(pages.create("About US", "").is_err());
        assert_eq!(pages.depends_on(), &["content"]);
    }

    #[test]
    fn render_into_the_layout() {
        let pages = PagesModule::new();
        pages.create("About us", "We *make* CMS & more.").unwrap();
        pages.create("Contact", "Mail us.").unwrap();
        let layout = Template::compile(LAYOUT).unwrap();
        let html = pages.render("/about-us", "RusToK <demo>", &layout).unwrap();
        assert!(
            html.contains("<title>About us | RusToK &lt;demo&gt;</title>"),
            "{html}"
        );
        assert!(
            html.contains("<main><p>We <em>make</em> CMS &amp; more.</p>\n</main>"),
            "{html}"
        );
        assert!(html.contains("<a href=\"/contact\">Contact</a>"));
        assert!(pages.render("/nope", "x", &layout).is_none());
    }
}
