//! Runtime configuration from command-line arguments and environment variables.

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve(Config),
    Help,
    Version,
}

/// Server configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Bind address (`--host`, env `HOST`, default `127.0.0.1`).
    pub host: String,
    /// Port (`--port`, env `PORT`, default 8080; 0 picks a free port).
    pub port: u16,
    /// Bearer token that guards `/health/modules`, as RusToK's `metrics_auth`: env
    /// `RUSTOK_OBSERVABILITY_BEARER_TOKEN`, else the legacy `RUSTOK_METRICS_BEARER_TOKEN`; trimmed,
    /// blank = unset.
    pub health_token: Option<String>,
    /// Slugs forced to report "degraded" (env `RUSTOK_DEGRADED`, comma-separated).
    pub degraded: Vec<String>,
}

pub const DEFAULT_HOST: &str = "127.0.0.1";
pub const DEFAULT_PORT: u16 = 8080;

/// Where the observability token is read from, first set wins (RusToK's `metrics_auth`).
pub const TOKEN_ENVS: [&str; 2] = [
    "RUSTOK_OBSERVABILITY_BEARER_TOKEN",
    "RUSTOK_METRICS_BEARER_TOKEN",
];

pub const USAGE: &str = "\
usage: rustok-server [--host HOST] [--port PORT]

options:
  --host HOST   address to bind (env HOST, default 127.0.0.1)
  --port PORT   port to bind, 0 = any free port (env PORT, default 8080)
  -h, --help    print this help
  -V, --version print the version

environment:
  RUSTOK_OBSERVABILITY_BEARER_TOKEN  require `Authorization: Bearer <token>` on /health/modules
                       (legacy name RUSTOK_METRICS_BEARER_TOKEN); unset: a release build answers 503
  RUSTOK_DEGRADED      comma-separated module slugs that report \"degraded\"
";

fn parse_port(s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| format!("invalid port {s:?}: expected 0-65535"))
}

/// Parses `args` (without the program name), falling back to `env` for unset values.
pub fn parse<I, E>(args: I, env: E) -> Result<Command, String>
where
    I: IntoIterator<Item = String>,
    E: Fn(&str) -> Option<String>,
{
    let mut host: Option<String> = None;
    let mut port: Option<u16> = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--host" | "--port" => {
                let value = match inline {
                    Some(v) => v,
                    None => args.next().ok_or_else(|| format!("{flag} needs a value"))?,
                };
                if flag == "--host" {
                    if value.trim().is_empty() {
                        return Err("--host needs a non-empty value".into());
                    }
                    host = Some(value);
                } else {
                    port = Some(parse_port(&value)?);
                }
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    let host = match host {
        Some(h) => h,
        None => env("HOST")
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_HOST.to_owned()),
    };
    let port = match port {
        Some(p) => p,
        None => match env("PORT").filter(|p| !p.trim().is_empty()) {
            Some(p) => parse_port(&p).map_err(|e| format!("PORT: {e}"))?,
            None => DEFAULT_PORT,
        },
    };
    let health_token = TOKEN_ENVS.iter().find_map(|name| {
        env(name)
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
    });
    let degraded = env("RUSTOK_DEGRADED")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(Command::Serve(Config {
        host,
        port,
        health_token,
        degraded,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Command, String> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(args.iter().map(|s| s.to_string()), move |k| {
            env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    fn serve(args: &[&str], env: &[(&str, &str)]) -> Config {
        match run(args, env) {
            Ok(Command::Serve(c)) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = serve(&[], &[]);
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 8080));
        assert_eq!(c.health_token, None);
        assert!(c.degraded.is_empty());
    }

    #[test]
    fn args_override_env() {
        let env = [("PORT", "9000"), ("HOST", "0.0.0.0")];
        let c = serve(&[], &env);
        assert_eq!((c.host.as_str(), c.port), ("0.0.0.0", 9000));
        let c = serve(&["--port", "0", "--host=::1"], &env);
        assert_eq!((c.host.as_str(), c.port), ("::1", 0));
        let c = serve(&["--port=1234"], &[]);
        assert_eq!(c.port, 1234);
    }

    #[test]
    fn token_and_degraded() {
        let c = serve(
            &[],
            &[
                ("RUSTOK_OBSERVABILITY_BEARER_TOKEN", " s3cret "),
                ("RUSTOK_METRICS_BEARER_TOKEN", "legacy"),
                ("RUSTOK_DEGRADED", " blog, ,pages "),
            ],
        );
        assert_eq!(c.health_token.as_deref(), Some("s3cret"));
        assert_eq!(c.degraded, ["blog", "pages"]);
        let c = serve(&[], &[("RUSTOK_OBSERVABILITY_BEARER_TOKEN", "  ")]);
        assert_eq!(c.health_token, None);
        let c = serve(
            &[],
            &[
                ("RUSTOK_OBSERVABILITY_BEARER_TOKEN", ""),
                ("RUSTOK_METRICS_BEARER_TOKEN", "legacy"),
            ],
        );
        assert_eq!(c.health_token.as_deref(), Some("legacy"));
        // the name this example used before it mirrored RusToK guards nothing
        let c = serve(&[], &[("RUSTOK_HEALTH_TOKEN", "s3cret")]);
        assert_eq!(c.health_token, None);
    }

    #[test]
    fn errors() {
        assert!(run(&["--port"], &[]).is_err());
        assert!(run(&["--port", "65536"], &[]).is_err());
        assert!(run(&["--port", "x"], &[]).is_err());
        assert!(run(&[], &[("PORT", "-1")]).is_err());
        assert!(run(&["--verbose"], &[]).is_err());
        assert!(run(&["--host", ""], &[]).is_err());
        assert_eq!(run(&["--help"], &[]), Ok(Command::Help));
        assert_eq!(run(&["-V"], &[]), Ok(Command::Version));
    }
}
