//! Generates the module registry from the manifest, as RusToK's `apps/server/build.rs` does.
//!
//! The manifest is `RUSTOK_MODULES_MANIFEST` (absolute, or relative to the workspace root), else the
//! workspace's `modules.toml`. Every module it lists is registered under
//! `#[cfg(feature = "mod-<slug>")]`, so the binary holds the modules that are both in the manifest
//! and compiled in: the manifest decides, the features make it possible. (RusToK registers its
//! required modules elsewhere; here every module, required or not, goes through its feature.)
//!
//! `std` only: the reader below knows the part of TOML a `[modules]` table uses
//! (`slug = { crate = "...", ... }` lines, or `[modules.<slug>]` tables with a `crate = "..."` key).

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    if let Err(error) = generate() {
        panic!("failed to generate the module registry: {error}");
    }
}

fn generate() -> Result<(), String> {
    let manifest = manifest_path();
    println!("cargo:rerun-if-env-changed=RUSTOK_MODULES_MANIFEST");
    println!("cargo:rerun-if-changed={}", manifest.display());
    let text = fs::read_to_string(&manifest)
        .map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let modules = modules_of(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let out = PathBuf::from(env::var("OUT_DIR").map_err(|e| format!("OUT_DIR: {e}"))?);
    fs::write(
        out.join("modules_registry_codegen.rs"),
        render(&manifest, &modules),
    )
    .map_err(|e| format!("cannot write the registry: {e}"))?;
    // the listed slugs, for the package's integration tests (they compare /health/modules with it)
    let slugs: Vec<&str> = modules.keys().map(String::as_str).collect();
    println!(
        "cargo:rustc-env=RUSTOK_MANIFEST_MODULES={}",
        slugs.join(",")
    );
    Ok(())
}

/// As RusToK's: a set variable is used as it is (an empty one names the workspace root, which fails
/// to read, as RusToK's does); only an unset (or non-UTF-8) one falls back to `modules.toml`.
fn manifest_path() -> PathBuf {
    match env::var("RUSTOK_MODULES_MANIFEST") {
        Ok(path) => {
            let path = PathBuf::from(path);
            if path.is_absolute() {
                path
            } else {
                workspace_root().join(path)
            }
        }
        Err(_) => workspace_root().join("modules.toml"),
    }
}

fn workspace_root() -> PathBuf {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    dir.parent()
        .and_then(Path::parent)
        .map(PathBuf::from)
        .expect("the workspace root is two folders above apps/server")
}

/// slug -> crate name, for every module of the `[modules]` table.
fn modules_of(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut modules = BTreeMap::new();
    // `None`: outside [modules]; `Some(None)`: in [modules]; `Some(Some(slug))`: in [modules.<slug>]
    let mut section: Option<Option<String>> = None;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = |e: String| format!("line {}: {e}", number + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            let header = line.split('#').next().unwrap_or("").trim();
            let name = header.trim_start_matches('[').trim_end_matches(']').trim();
            section = if name == "modules" {
                Some(None)
            } else if let Some(slug) = name.strip_prefix("modules.").filter(|s| !s.contains('.')) {
                let slug = slug.trim().trim_matches('"').to_string();
                check_slug(&slug).map_err(at)?;
                Some(Some(slug))
            } else {
                None
            };
            continue;
        }
        if section.is_none() {
            continue; // the rest of the manifest is modbot's business, not the registry's
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| at(format!("expected `key = value`, got {line:?}")))?;
        let key = key.trim().trim_matches('"');
        match &section {
            Some(None) => {
                check_slug(key).map_err(at)?;
                let table = inline_table(value.trim()).map_err(at)?;
                let name = table
                    .get("crate")
                    .ok_or_else(|| at(format!("module {key} has no crate")))?;
                modules.insert(key.to_string(), checked_crate(name).map_err(at)?);
            }
            Some(Some(slug)) if key == "crate" => {
                let name = string_value(value.trim()).map_err(at)?.0;
                modules.insert(slug.clone(), checked_crate(&name).map_err(at)?);
            }
            _ => {}
        }
    }
    Ok(modules)
}

/// The string-valued keys of a one-line inline table `{ a = "x", b = ["y"], c = true }`.
fn inline_table(value: &str) -> Result<BTreeMap<String, String>, String> {
    let body = value
        .strip_prefix('{')
        .ok_or_else(|| format!("expected an inline table, got {value:?}"))?;
    let mut rest = body.trim_start();
    let mut table = BTreeMap::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            let after = after.trim();
            if !after.is_empty() && !after.starts_with('#') {
                return Err(format!("unexpected {after:?} after the table"));
            }
            return Ok(table);
        }
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("expected `key = value` in {value:?}"))?;
        let key = key.trim().trim_matches('"').to_string();
        let after = after.trim_start();
        let consumed = if after.starts_with('"') {
            let (text, len) = string_value(after)?;
            table.insert(key, text);
            len
        } else {
            skip_value(after)?
        };
        rest = after[consumed..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

/// A basic string `"..."` at the start of `value` (escapes kept as written): its text and length.
fn string_value(value: &str) -> Result<(String, usize), String> {
    let body = value
        .strip_prefix('"')
        .ok_or_else(|| format!("expected a string, got {value:?}"))?;
    let mut escaped = false;
    for (i, ch) in body.char_indices() {
        match ch {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Ok((body[..i].to_string(), i + 2)),
            _ => escaped = false,
        }
    }
    Err(format!("unterminated string in {value:?}"))
}

/// The length of a non-string value (array, bool, number) at the start of `value`.
fn skip_value(value: &str) -> Result<usize, String> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, ch) in value.char_indices() {
        if in_string {
            match ch {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => in_string = false,
                _ => escaped = false,
            }
            continue;
        }
        match ch {
            '"' => in_string = true,
            '[' | '{' => depth += 1,
            ']' | '}' if depth > 0 => depth -= 1,
            ',' | '}' if depth == 0 => return Ok(i),
            _ => {}
        }
    }
    Err(format!("unterminated value {value:?}"))
}

fn check_slug(slug: &str) -> Result<(), String> {
    let ok = slug.starts_with(|c: char| c.is_ascii_lowercase())
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!("module slug {slug:?} is not [a-z][a-z0-9_]*"))
    }
}

fn checked_crate(name: &str) -> Result<String, String> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(name.to_string())
    } else {
        Err(format!("crate name {name:?} is not a Rust crate name"))
    }
}

fn render(manifest: &Path, modules: &BTreeMap<String, String>) -> String {
    let mut out = format!(
        "// Generated by apps/server/build.rs from {}\n\
         #[allow(unused_mut)]\n\
         pub fn register_modules(mut registry: Vec<Box<dyn rustok_core::RusToKModule>>) -> Vec<Box<dyn rustok_core::RusToKModule>> {{\n",
        manifest.display().to_string().replace(['\n', '\r'], " "),
    );
    for (slug, crate_name) in modules {
        out.push_str(&format!(
            "    #[cfg(feature = \"mod-{slug}\")]\n    {{\n        registry.push(Box::new({}::{}Module::new()));\n    }}\n",
            crate_name.replace('-', "_"),
            pascal_case(slug),
        ));
    }
    out.push_str("    registry\n}\n");
    out
}

fn pascal_case(value: &str) -> String {
    value
        .split(['-', '_'])
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => format!("{}{}", first.to_ascii_uppercase(), chars.as_str()),
                None => String::new(),
            }
        })
        .collect()
}
