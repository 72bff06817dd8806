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

/// The application: the module registry plus runtime settings.
pub struct App {
    modules: Vec<Box<dyn RusToKModule>>,
    token: Option<Vec<u8>>,
    degraded: Vec<String>,
}

impl App {
    pub fn new(config: &Config) -> App {
        App {
            modules: crate::modules::compiled(),
            token: config.health_token.as_ref().map(|t| t.as_bytes().to_vec()),
            degraded: config.degraded.clone(),
        }
    }

    /// Slugs of the registered modules, sorted.
    pub fn slugs(&self) -> Vec<&'static str> {
        self.modules.iter().map(|m| m.slug()).collect()
    }

    /// Answers one request.
    pub fn handle(&self, req: &Request) -> Response {
        let path = req.path();
        let route: fn(&App) -> Response = match path {
            "/health" => App::health,
            "/health/modules" => App::health_modules,
            _ => return Response::error(404, "Not Found", "not found"),
        };
        if req.method != "GET" && req.method != "HEAD" {
            return Response::error(405, "Method Not Allowed", "method not allowed")
                .with_header("Allow", "GET, HEAD");
        }
        if !self.authorized(req) {
            return Response::error(401, "Unauthorized", "unauthorized")
                .with_header("WWW-Authenticate", "Bearer realm=\"rustok-health\"");
        }
        route(self)
    }

    fn authorized(&self, req: &Request) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        let Some(value) = req.header("authorization") else {
            return false;
        };
        let Some((scheme, token)) = value.split_once(' ') else {
            return false;
        };
        scheme.eq_ignore_ascii_case("bearer") && constant_time_eq(expected, token.trim().as_bytes())
    }

    fn health(&self) -> Response {
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

    fn health_modules(&self) -> Response {
        let mut body = String::with_capacity(256);
        let mut all_ok = true;
        let mut list = String::new();
        for (i, module) in self.modules.iter().enumerate() {
            let health = self.module_health(module.as_ref());
            all_ok &= health.is_ok();
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

    fn app(token: Option<&str>, degraded: &[&str]) -> App {
        App::new(&Config {
            host: "127.0.0.1".into(),
            port: 0,
            health_token: token.map(str::to_owned),
            degraded: degraded.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn routes() {
        let app = app(None, &[]);
        let r = app.handle(&req("GET", "/health", None));
        assert_eq!((r.status, r.body.as_str()), (200, "{\"status\":\"ok\"}"));
        assert_eq!(app.handle(&req("HEAD", "/health", None)).status, 200);
        let r = app.handle(&req("GET", "/health/modules?verbose=1", None));
        assert_eq!(r.status, 200);
        assert!(r.body.starts_with("{\"status\":\"ok\",\"modules\":["));
        assert_eq!(app.handle(&req("GET", "/nope", None)).status, 404);
        assert_eq!(app.handle(&req("GET", "/health/", None)).status, 404);
        let r = app.handle(&req("POST", "/health", None));
        assert_eq!(r.status, 405);
        assert!(r.body.starts_with("{\"error\":"));
    }

    #[test]
    fn token_is_required_when_set() {
        let app = app(Some("s3cret"), &[]);
        for auth in [
            None,
            Some("Bearer nope"),
            Some("Bearer s3cre"),
            Some("Basic s3cret"),
            Some("s3cret"),
        ] {
            assert_eq!(
                app.handle(&req("GET", "/health", auth)).status,
                401,
                "{auth:?}"
            );
        }
        assert_eq!(
            app.handle(&req("GET", "/health", Some("Bearer s3cret")))
                .status,
            200
        );
        assert_eq!(
            app.handle(&req("GET", "/health/modules", Some("bearer s3cret")))
                .status,
            200
        );
        assert_eq!(app.handle(&req("GET", "/other", None)).status, 404);
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
