//! The embedded dashboard (`/ui`): plain HTML, CSS and JavaScript compiled into the binary
//! with `include_str!` / `include_bytes!` (no bundler, no CDN, works offline). Every screen is
//! a client route of the one page; its data comes from the public HTTP API only, with the
//! read key (when the scope is closed) kept in the browser's `sessionStorage`. This module
//! only names the assets; `api::ui` serves them (content type, `ETag`, caching).
//!
//! Invariants: the page holds no secret (the key is typed by the user at run time); asset
//! names are fixed, so every answer is revalidated by `ETag` (`no-cache`), never stale.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    /// The file name under `/ui/assets/` (`index.html` is the page itself).
    pub name: &'static str,
    /// The `Content-Type` to answer with.
    pub content_type: &'static str,
    /// The bytes, as compiled in.
    pub body: &'static [u8],
    etag: OnceLock<String>,
}

impl Asset {
    const fn new(name: &'static str, content_type: &'static str, body: &'static [u8]) -> Asset {
        Asset {
            name,
            content_type,
            body,
            etag: OnceLock::new(),
        }
    }

    /// A strong `ETag` of the bytes (quoted, first 16 hex digits of their SHA-256), computed
    /// once.
    pub fn etag(&'static self) -> &'static str {
        self.etag.get_or_init(|| {
            let digest = Sha256::digest(self.body);
            let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("\"{hex}\"")
        })
    }
}

/// Every embedded file; the first is the page.
pub static ASSETS: [Asset; 4] = [
    Asset::new(
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("assets/index.html"),
    ),
    Asset::new(
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/app.js"),
    ),
    Asset::new(
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/app.css"),
    ),
    Asset::new(
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("assets/favicon.svg"),
    ),
];

/// The page served for `/ui` and every client route under it.
pub fn page() -> &'static Asset {
    &ASSETS[0]
}

/// What a path under `/ui` names.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// An embedded file (`/ui/assets/<name>`).
    Asset(&'static Asset),
    /// A client route (`/ui`, `/ui/incidents/…`): the page.
    Page,
    /// `/ui/assets/<unknown>`.
    Missing,
}

impl PartialEq for Asset {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Asset {}

/// Resolve a request path (`/ui`, `/ui/…`); anything under `/ui/assets/` must name an
/// embedded file, every other path is a client route.
pub fn resolve(path: &str) -> Target {
    let rest = path.strip_prefix("/ui").unwrap_or(path);
    match rest.strip_prefix("/assets/") {
        Some(name) => ASSETS[1..]
            .iter()
            .find(|a| a.name == name)
            .map_or(Target::Missing, Target::Asset),
        None => Target::Page,
    }
}

/// Does an `If-None-Match` header value match `etag` (`*`, or one of a comma-separated list,
/// weak tags compared weakly)?
pub fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|t| {
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag.strip_prefix("W/").unwrap_or(etag)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVG_NS: &str = "http://www.w3.org/2000/svg";

    #[test]
    fn resolve_serves_assets_and_client_routes() {
        assert_eq!(resolve("/ui"), Target::Page);
        assert_eq!(resolve("/ui/"), Target::Page);
        assert_eq!(resolve("/ui/incidents/inc_1"), Target::Page);
        assert_eq!(resolve("/ui/explain/abc"), Target::Page);
        match resolve("/ui/assets/app.js") {
            Target::Asset(a) => assert!(a.content_type.starts_with("text/javascript")),
            other => panic!("{other:?}"),
        }
        assert_eq!(resolve("/ui/assets/nope.js"), Target::Missing);
        assert_eq!(resolve("/ui/assets/index.html"), Target::Missing);
        assert_eq!(resolve("/ui/assets/../app.js"), Target::Missing);
    }

    #[test]
    fn etags_differ_per_asset_and_match_if_none_match() {
        let tags: Vec<&str> = ASSETS.iter().map(Asset::etag).collect();
        for t in &tags {
            assert_eq!(t.len(), 18, "{t}");
            assert!(t.starts_with('"') && t.ends_with('"'));
        }
        let mut unique = tags.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), tags.len());
        let tag = page().etag();
        assert!(etag_matches(tag, tag));
        assert!(etag_matches(&format!("\"x\", W/{tag}"), tag));
        assert!(etag_matches("*", tag));
        assert!(!etag_matches("\"0000\"", tag));
    }

    #[test]
    fn the_page_loads_only_embedded_files_and_holds_no_key() {
        let page = std::str::from_utf8(page().body).unwrap();
        for a in &ASSETS[1..] {
            assert!(
                page.contains(&format!("/ui/assets/{}", a.name)),
                "{}",
                a.name
            );
        }
        for a in &ASSETS {
            // The SVG namespace is a name, not a fetch.
            let text = String::from_utf8_lossy(a.body).replace(SVG_NS, "");
            assert!(!text.contains("http://"), "{} names a remote URL", a.name);
            assert!(!text.contains("https://"), "{} names a remote URL", a.name);
        }
        let js = std::str::from_utf8(ASSETS[1].body).unwrap();
        assert!(js.contains("sessionStorage"));
        assert!(!js.contains("localStorage"), "the key stays in the session");
    }
}
