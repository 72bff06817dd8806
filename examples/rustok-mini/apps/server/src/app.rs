//! Routing and the health endpoints.

use rustok_core::{ModuleHealth, RusToKModule};

use rustok_web::config::Config;
use rustok_web::{constant_time_eq, json, Request, Response};

/// Build metadata baked in at compile time by the release pipeline.
pub fn manifest_hash() -> Option<&'static str> {
    option_env!("RUSTOK_MANIFEST_HASH").filter(|s| !s.is_empty())
}

/// See [`manifest_hash`].
pub fn release_id() -> Option<&'static str> {
    option_env!("RUSTOK_RELEASE_ID").filter(|s| !s.is_empty())
}

pub const EMBED_ADMIN: bool = cfg!(feature = "embed-admin");
pub const EMBED_STOREFRONT: bool = cfg!(feature = "embed-storefront");

/// Release builds refuse `/health/modules` when no token is configured; debug builds leave it open
/// for local inspection (RusToK's `metrics_auth`: `cfg!(debug_assertions)`).
pub const TOKEN_REQUIRED_WITHOUT_CONFIG: bool = !cfg!(debug_assertions);

/// RusToK's `metrics_auth` answers, word for word.
pub const NOT_CONFIGURED: &str = "observability authentication is not configured";
pub const TOKEN_REQUIRED: &str = "observability bearer token required";

/// The application: the module registry plus runtime settings.
pub struct App {
    modules: Vec<Box<dyn RusToKModule>>,
    token: Option<Vec<u8>>,
    degraded: Vec<String>,
    release_build: bool,
}

impl App {
    pub fn new(config: &Config) -> App {
        App::for_build(config, TOKEN_REQUIRED_WITHOUT_CONFIG)
    }

    /// `release_build`: whether a missing token closes `/health/modules` (tests choose).
    pub fn for_build(config: &Config, release_build: bool) -> App {
        App {
            modules: crate::modules::compiled(),
            token: config.health_token.as_ref().map(|t| t.as_bytes().to_vec()),
            degraded: config.degraded.clone(),
            release_build,
        }
    }

    /// Slugs of the registered modules, sorted.
    pub fn slugs(&self) -> Vec<&'static str> {
        self.modules.iter().map(|m| m.slug()).collect()
    }

    /// Answers one request. The routes are RusToK's: `/health` (registered there as `/health/`,
    /// served here under both spellings), `/health/live` and `/health/modules`; only the last is
    /// guarded by the bearer token, as in RusToK's `metrics_auth`.
    pub fn handle(&self, req: &Request) -> Response {
        let path = req.path();
        let (route, protected): (fn(&App) -> Response, bool) = match path {
            "/health/" => (App::health, false), // RusToK registers only this one
            "/health/live" => (App::live, false),
            "/health/modules" => (App::health_modules, true),
            _ => return Response::error(404, "Not Found", "not found"),
        };
        if req.method != "GET" && req.method != "HEAD" {
            return Response::error(405, "Method Not Allowed", "method not allowed")
                .with_header("Allow", "GET, HEAD");
        }
        if protected {
            if let Some(refusal) = self.refusal(req) {
                return refusal;
            }
        }
        route(self)
    }

    /// Why a protected route is refused, if it is.
    fn refusal(&self, req: &Request) -> Option<Response> {
        let Some(expected) = &self.token else {
            return self
                .release_build
                .then(|| Response::text(503, "Service Unavailable", NOT_CONFIGURED));
        };
        let supplied = req.header("authorization").and_then(bearer_token);
        if supplied.is_some_and(|token| constant_time_eq(expected, token.as_bytes())) {
            return None;
        }
        Some(
            Response::text(401, "Unauthorized", TOKEN_REQUIRED)
                .with_header("WWW-Authenticate", "Bearer realm=\"observability\""),
        )
    }

    fn health(&self) -> Response {
        let mut body = String::from("{\"status\":\"ok\",\"app\":\"rustok\",\"version\":");
        json::push_str(&mut body, env!("CARGO_PKG_VERSION"));
        body.push('}');
        Response::json(200, "OK", body)
    }

    fn live(&self) -> Response {
        Response::json(200, "OK", "{\"status\":\"ok\"}".to_owned())
    }

    fn module_health(&self, module: &dyn RusToKModule) -> ModuleHealth {
        let health = module.health();
        if self.degraded.iter().any(|s| s == module.slug()) {
            health.worst(ModuleHealth::Degraded)
        } else {
            health
        }
    }

    /// RusToK's `ModulesHealthResponse` (`status` ok|degraded, `modules[]` slug/name/status), then
    /// this example's build metadata, which RusToK does not serve: `manifest_hash`, `release_id`,
    /// `embed_admin`, `embed_storefront`.
    fn health_modules(&self) -> Response {
        let mut body = String::with_capacity(256);
        let mut all_ok = true;
        let mut list = String::new();
        for (i, module) in self.modules.iter().enumerate() {
            let health = self.module_health(module.as_ref());
            all_ok &= health.is_healthy();
            if i > 0 {
                list.push(',');
            }
            list.push_str("{\"slug\":");
            json::push_str(&mut list, module.slug());
            list.push_str(",\"name\":");
            json::push_str(&mut list, module.name());
            list.push_str(",\"status\":");
            json::push_str(&mut list, health.as_str());
            list.push('}');
        }
        body.push_str("{\"status\":");
        json::push_str(&mut body, if all_ok { "ok" } else { "degraded" });
        body.push_str(",\"modules\":[");
        body.push_str(&list);
        body.push_str("],\"manifest_hash\":");
        json::push_opt_str(&mut body, manifest_hash());
        body.push_str(",\"release_id\":");
        json::push_opt_str(&mut body, release_id());
        body.push_str(",\"embed_admin\":");
        body.push_str(if EMBED_ADMIN { "true" } else { "false" });
        body.push_str(",\"embed_storefront\":");
        body.push_str(if EMBED_STOREFRONT { "true" } else { "false" });
        body.push('}');
        Response::json(200, "OK", body)
    }
}

/// `Bearer <token>` (scheme case-insensitive, the token trimmed and non-empty), as RusToK parses it.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, target: &str, auth: Option<&str>) -> Request {
        Request {
            method: method.into(),
            target: target.into(),
            minor: 1,
            headers: auth
                .map(|a| vec![("Authorization".to_owned(), a.to_owned())])
                .unwrap_or_default(),
        }
    }

    fn app_for(token: Option<&str>, degraded: &[&str], release_build: bool) -> App {
        App::for_build(
            &Config {
                host: "127.0.0.1".into(),
                port: 0,
                health_token: token.map(str::to_owned),
                degraded: degraded.iter().map(|s| s.to_string()).collect(),
            },
            release_build,
        )
    }

    fn app(token: Option<&str>, degraded: &[&str]) -> App {
        app_for(token, degraded, false)
    }

    #[test]
    fn routes() {
        let app = app(None, &[]);
        let health = format!(
            "{{\"status\":\"ok\",\"app\":\"rustok\",\"version\":\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        );
        let r = app.handle(&req("GET", "/health/", None));
        assert_eq!((r.status, r.body.as_str()), (200, health.as_str()));
        // as at RusToK's HEAD: the route is "/health/", so "/health" is not found
        assert_eq!(app.handle(&req("GET", "/health", None)).status, 404);
        assert_eq!(app.handle(&req("HEAD", "/health/", None)).status, 200);
        let r = app.handle(&req("GET", "/health/live", None));
        assert_eq!((r.status, r.body.as_str()), (200, "{\"status\":\"ok\"}"));
        let r = app.handle(&req("GET", "/health/modules?verbose=1", None));
        assert_eq!(r.status, 200);
        assert!(r.body.starts_with("{\"status\":\"ok\",\"modules\":["));
        assert!(!r.body.contains("\"status\":\"ok\"}"), "{}", r.body); // modules say healthy
        assert_eq!(app.handle(&req("GET", "/nope", None)).status, 404);
        let r = app.handle(&req("POST", "/health/", None));
        assert_eq!(r.status, 405);
        assert!(r.body.starts_with("{\"error\":"));
    }

    #[test]
    fn only_modules_need_the_token() {
        let app = app(Some("s3cret"), &[]);
        for auth in [
            None,
            Some("Bearer nope"),
            Some("Bearer s3cre"),
            Some("Basic s3cret"),
            Some("s3cret"),
            Some("Bearer "),
        ] {
            let r = app.handle(&req("GET", "/health/modules", auth));
            assert_eq!(
                (r.status, r.body.as_str()),
                (401, TOKEN_REQUIRED),
                "{auth:?}"
            );
            assert!(r.headers.contains(&(
                "WWW-Authenticate",
                "Bearer realm=\"observability\"".to_owned()
            )));
            for public in ["/health/", "/health/live"] {
                assert_eq!(app.handle(&req("GET", public, auth)).status, 200);
            }
        }
        for auth in ["Bearer s3cret", "bearer s3cret", "  Bearer   s3cret  "] {
            let r = app.handle(&req("GET", "/health/modules", Some(auth)));
            assert_eq!(r.status, 200, "{auth:?}");
        }
        assert_eq!(app.handle(&req("GET", "/other", None)).status, 404);
    }

    #[test]
    fn a_release_build_without_a_token_refuses_modules() {
        let release = app_for(None, &[], true);
        let r = release.handle(&req("GET", "/health/modules", Some("Bearer anything")));
        assert_eq!((r.status, r.body.as_str()), (503, NOT_CONFIGURED));
        assert_eq!(r.content_type, "text/plain; charset=utf-8");
        assert_eq!(release.handle(&req("GET", "/health/", None)).status, 200);
        assert_eq!(
            release.handle(&req("GET", "/health/live", None)).status,
            200
        );
        let debug = app_for(None, &[], false);
        assert_eq!(
            debug.handle(&req("GET", "/health/modules", None)).status,
            200
        );
        let guarded = app_for(Some("t"), &[], true);
        let r = guarded.handle(&req("GET", "/health/modules", Some("Bearer t")));
        assert_eq!(r.status, 200);
        assert_eq!(TOKEN_REQUIRED_WITHOUT_CONFIG, !cfg!(debug_assertions));
    }

    #[test]
    fn degraded_override() {
        let app = app(None, &["content", "not-compiled"]);
        let body = app.handle(&req("GET", "/health/modules", None)).body;
        if app.slugs().contains(&"content") {
            assert!(body.starts_with("{\"status\":\"degraded\""));
            assert!(body
                .contains("{\"slug\":\"content\",\"name\":\"Content\",\"status\":\"degraded\"}"));
        } else {
            assert!(body.starts_with("{\"status\":\"ok\""));
        }
    }
}
